import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startNode, type NodeFixture } from '../support/node-fixture.js'
import { rawRequest } from '../support/raw-http.js'

let f: NodeFixture
before(async () => { f = await startNode({ valueBytesMax: 64 * 1024, requestBytesMax: 256 * 1024 }) })
after(async () => { await f.close() })

async function post (path: string, body: string | Uint8Array, headers: Record<string, string> = {}): Promise<Response> {
  return await fetch(f.url + path, { method: 'POST', body, headers })
}

async function errorOf (res: Response): Promise<{ error: string, message: string }> {
  const body = await res.json() as { error: string, message: string }
  assert.equal(typeof body.message, 'string')
  return body
}

test('POST then GET returns the raw value with its commit, version and a text content type', async () => {
  const res = await post('/keys/app1/database/url', 'postgres://db1:5432/app1', { 'content-type': 'application/x-www-form-urlencoded' })
  assert.equal(res.status, 200)
  const written = await res.json() as { key: string, commit: string, version: { wallMs: number, counter: number, node: string } }
  assert.equal(written.key, '/app1/database/url')
  assert.match(written.commit, /^[0-9a-f]{40}$/)
  assert.equal(typeof written.version.wallMs, 'number')

  const got = await fetch(f.url + '/keys/app1/database/url')
  assert.equal(got.status, 200)
  assert.equal(got.headers.get('content-type'), 'text/plain; charset=utf-8')
  assert.equal(got.headers.get('x-gitconfig-commit'), written.commit)
  assert.ok(got.headers.get('etag'))
  assert.equal(await got.text(), 'postgres://db1:5432/app1')
})

test('binary values round-trip byte for byte as application/octet-stream', async () => {
  const bytes = new Uint8Array(256).map((_, i) => i)
  assert.equal((await fetch(f.url + '/keys/bin/all-bytes', { method: 'PUT', body: bytes })).status, 200)
  const got = await fetch(f.url + '/keys/bin/all-bytes')
  assert.equal(got.headers.get('content-type'), 'application/octet-stream')
  assert.deepEqual(new Uint8Array(await got.arrayBuffer()), bytes)
})

test('an empty body stores the empty value', async () => {
  assert.equal((await post('/keys/empty', '')).status, 200)
  const got = await fetch(f.url + '/keys/empty')
  assert.equal(got.status, 200)
  assert.equal(await got.text(), '')
})

test('percent-encoded key segments are decoded: spaces, unicode, quotes', async () => {
  const key = '/we ird/ключ/"q"'
  const path = '/keys/' + key.slice(1).split('/').map(encodeURIComponent).join('/')
  assert.equal((await post(path, 'v')).status, 200)
  const list = await (await fetch(f.url + '/list?prefix=' + encodeURIComponent('/we ird/') + '&recursive=true')).json() as { entries: Array<{ key: string }> }
  assert.deepEqual(list.entries.map(e => e.key), [key])
  assert.equal(await (await fetch(f.url + path)).text(), 'v')
})

test('ETag: If-None-Match with the current tag answers 304', async () => {
  await post('/keys/etag/k', 'one')
  const first = await fetch(f.url + '/keys/etag/k')
  const etag = first.headers.get('etag') ?? ''
  const again = await fetch(f.url + '/keys/etag/k', { headers: { 'if-none-match': etag } })
  assert.equal(again.status, 304)
  await post('/keys/etag/k', 'two')
  const changed = await fetch(f.url + '/keys/etag/k', { headers: { 'if-none-match': etag } })
  assert.equal(changed.status, 200)
  assert.equal(await changed.text(), 'two')
})

test('GET ?commit=SHA reads the value as of that commit; an unknown commit is 404 UNKNOWN_COMMIT', async () => {
  const c1 = (await (await post('/keys/at/k', 'v1')).json() as { commit: string }).commit
  await post('/keys/at/k', 'v2')
  assert.equal(await (await fetch(`${f.url}/keys/at/k?commit=${c1}`)).text(), 'v1')
  assert.equal(await (await fetch(`${f.url}/keys/at/k`)).text(), 'v2')
  const unknown = await fetch(`${f.url}/keys/at/k?commit=${'0'.repeat(40)}`)
  assert.equal(unknown.status, 404)
  assert.equal((await errorOf(unknown)).error, 'UNKNOWN_COMMIT')
  const malformed = await fetch(`${f.url}/keys/at/k?commit=not-a-sha`)
  assert.equal(malformed.status, 400)
  assert.equal((await errorOf(malformed)).error, 'INVALID_ARGUMENT')
})

test('a missing key is 404 NOT_FOUND in JSON', async () => {
  const res = await fetch(f.url + '/keys/does/not/exist')
  assert.equal(res.status, 404)
  assert.match(res.headers.get('content-type') ?? '', /application\/json/)
  assert.equal((await errorOf(res)).error, 'NOT_FOUND')
})

test('DELETE removes the key; deleting an absent key is 404', async () => {
  await post('/keys/del/k', 'x')
  const del = await fetch(f.url + '/keys/del/k', { method: 'DELETE' })
  assert.equal(del.status, 200)
  const body = await del.json() as { deleted: boolean, commit: string }
  assert.equal(body.deleted, true)
  assert.match(body.commit, /^[0-9a-f]{40}$/)
  assert.equal((await fetch(f.url + '/keys/del/k')).status, 404)
  const again = await fetch(f.url + '/keys/del/k', { method: 'DELETE' })
  assert.equal(again.status, 404)
  assert.equal((await errorOf(again)).error, 'NOT_FOUND')
})

test('bad keys are 400 INVALID_KEY and change nothing', async () => {
  const headBefore = (await (await fetch(f.url + '/status')).json() as { head: string }).head
  for (const path of ['/keys/a/../b', '/keys/a/./b', '/keys/a//b', '/keys/a%00b', '/keys/a%01b', '/keys/' + 'k'.repeat(2000), '/keys/bad%E0%A4']) {
    const res = await rawRequest(f.url, `POST ${path} HTTP/1.1\r\nContent-Length: 1`, 'x')
    assert.equal(res.status, 400, path)
    const body = JSON.parse(res.body) as { error: string }
    assert.ok(body.error === 'INVALID_KEY' || body.error === 'INVALID_ARGUMENT', `${path}: ${res.body}`)
  }
  const headAfter = (await (await fetch(f.url + '/status')).json() as { head: string }).head
  assert.equal(headAfter, headBefore)
})

test('a declared body over the value limit is refused with 413 before the body is sent', async () => {
  // Only the headers go out: the node must answer without waiting for 100 kB that never come.
  const res = await rawRequest(f.url, 'POST /keys/big HTTP/1.1\r\nContent-Length: 100000', 'partial')
  assert.equal(res.status, 413)
  const body = JSON.parse(res.body) as { error: string, limitBytes: number }
  assert.equal(body.error, 'VALUE_TOO_LARGE')
  assert.equal(body.limitBytes, 64 * 1024)
})

test('a chunked body over the limit is cut off with 413; a value over the limit is 413', async () => {
  const big = new Uint8Array(70 * 1024)
  const res = await post('/keys/big', big)
  assert.equal(res.status, 413)
  assert.equal((await errorOf(res)).error, 'VALUE_TOO_LARGE')
  // A streamed body with no Content-Length: capped while reading at the request limit.
  const stream = new ReadableStream<Uint8Array>({
    start (c) { for (let i = 0; i < 40; i++) c.enqueue(new Uint8Array(10 * 1024)); c.close() }
  })
  const streamed = await fetch(f.url + '/keys/big', { method: 'POST', body: stream, duplex: 'half' } as RequestInit)
  assert.equal(streamed.status, 413)
  assert.equal((await fetch(f.url + '/keys/big')).status, 404)
})

test('TTL must be a positive number of seconds', async () => {
  for (const ttl of ['-1', '0', 'abc', '1e3', '', '999999999999999']) {
    const res = await post(`/keys/ttl/bad?ttl=${ttl}`, 'x')
    assert.equal(res.status, 400, ttl)
    assert.equal((await errorOf(res)).error, 'INVALID_ARGUMENT')
  }
  const ok = await post('/keys/ttl/good?ttl=3600', 'x')
  assert.equal(ok.status, 200)
  const got = await fetch(f.url + '/keys/ttl/good')
  const expires = Number(got.headers.get('x-gitconfig-expires-at'))
  assert.ok(expires > Date.now() + 3500_000 && expires <= Date.now() + 3600_000, String(expires))
})

test('the author header is recorded in history; history is newest first and honours limit', async () => {
  await post('/keys/hist/k', 'a', { 'x-gitconfig-author': 'alice' })
  await post('/keys/hist/k', 'b', { 'x-gitconfig-author': 'bob' })
  await fetch(f.url + '/keys/hist/k', { method: 'DELETE', headers: { 'x-gitconfig-author': 'carol' } })
  const hist = await (await fetch(f.url + '/history/hist/k')).json() as Array<{ commit: string, date: string, author: string, message: string, op: string }>
  assert.deepEqual(hist.map(h => h.op), ['delete', 'set', 'set'])
  assert.deepEqual(hist.map(h => h.author.includes('carol') || h.author.includes('bob') || h.author.includes('alice')), [true, true, true])
  assert.ok(hist[0].author.includes('carol') && hist[2].author.includes('alice'))
  for (const h of hist) {
    assert.match(h.commit, /^[0-9a-f]{40}$/)
    assert.ok(!Number.isNaN(Date.parse(h.date)))
    assert.equal(typeof h.message, 'string')
  }
  const limited = await (await fetch(f.url + '/history/hist/k?limit=1')).json() as unknown[]
  assert.equal(limited.length, 1)
  assert.equal((await fetch(f.url + '/history/hist/k?limit=0')).status, 400)
  assert.equal((await post('/keys/hist/k', 'x', { 'x-gitconfig-author': 'a'.repeat(300) })).status, 400)
})

test('rollback restores an earlier value as a new commit; unknown or missing commit is an error', async () => {
  const c1 = (await (await post('/keys/ab/rollout_percent', '10')).json() as { commit: string }).commit
  await post('/keys/ab/rollout_percent', '50')
  const rb = await fetch(`${f.url}/rollback/ab/rollout_percent?to=${c1}`, { method: 'POST' })
  assert.equal(rb.status, 200)
  const body = await rb.json() as { commit: string }
  assert.notEqual(body.commit, c1)
  assert.equal(await (await fetch(f.url + '/keys/ab/rollout_percent')).text(), '10')
  const hist = await (await fetch(f.url + '/history/ab/rollout_percent')).json() as Array<{ op: string }>
  assert.deepEqual(hist.map(h => h.op), ['rollback', 'set', 'set'])
  assert.equal((await fetch(`${f.url}/rollback/ab/rollout_percent?to=${'1'.repeat(40)}`, { method: 'POST' })).status, 404)
  assert.equal((await fetch(`${f.url}/rollback/ab/rollout_percent`, { method: 'POST' })).status, 400)
})

test('CAS: JSON text form swaps once; a mismatch is 409 with the current value', async () => {
  const body = JSON.stringify({ expected: null, value: 'node-a' })
  const first = await post('/keys/locks/db_migration?cas', body, { 'content-type': 'application/json' })
  assert.equal(first.status, 200)
  const won = await first.json() as { swapped: boolean, commit: string }
  assert.equal(won.swapped, true)
  assert.match(won.commit, /^[0-9a-f]{40}$/)
  const second = await post('/keys/locks/db_migration?cas', JSON.stringify({ expected: '', value: 'node-b' }))
  assert.equal(second.status, 409)
  assert.deepEqual(await second.json(), { swapped: false, current: 'node-a' })
  const third = await post('/keys/locks/db_migration?cas', JSON.stringify({ expected: 'node-a', value: 'node-c' }))
  assert.equal(third.status, 200)
  assert.equal(await (await fetch(f.url + '/keys/locks/db_migration')).text(), 'node-c')
})

test('CAS: base64 form carries binary values both ways', async () => {
  const v1 = Buffer.from([0, 255, 1, 254])
  const v2 = Buffer.from([9, 0, 9])
  const r1 = await post('/keys/cas/bin?cas', JSON.stringify({ expectedBase64: null, valueBase64: v1.toString('base64') }))
  assert.equal(r1.status, 200)
  const miss = await post('/keys/cas/bin?cas', JSON.stringify({ expectedBase64: v2.toString('base64'), valueBase64: v2.toString('base64') }))
  assert.equal(miss.status, 409)
  assert.deepEqual(await miss.json(), { swapped: false, currentBase64: v1.toString('base64') })
  const r2 = await post('/keys/cas/bin?cas', JSON.stringify({ expectedBase64: v1.toString('base64'), valueBase64: v2.toString('base64') }))
  assert.equal(r2.status, 200)
  assert.deepEqual(Buffer.from(await (await fetch(f.url + '/keys/cas/bin')).arrayBuffer()), v2)
})

test('CAS: malformed or mis-shaped JSON is 400 and changes nothing', async () => {
  for (const body of ['{"expected": nul', '[]', '{"expected":"a"}', '{"expected":1,"value":"x"}', '{"expected":null,"value":"x","extra":1}', '{"expectedBase64":null,"valueBase64":"***"}', '']) {
    const res = await post('/keys/cas/bad?cas', body)
    assert.equal(res.status, 400, body)
    assert.equal((await errorOf(res)).error, 'INVALID_ARGUMENT')
  }
  const put = await fetch(f.url + '/keys/cas/bad?cas', { method: 'PUT', body: '{"expected":null,"value":"x"}' })
  assert.equal(put.status, 400, 'CAS is POST only; a PUT must not store the JSON as the value')
  assert.equal((await fetch(f.url + '/keys/cas/bad')).status, 404)
})

test('list: direct children by default, every key with recursive, values on request', async () => {
  await post('/keys/env/prod/db/host', 'prod-db.internal')
  await post('/keys/env/prod/db', 'db-itself')
  await post('/keys/env/prod/mode', 'strict')
  await post('/keys/env/dev/db/host', 'localhost')
  const flat = await (await fetch(f.url + '/list?prefix=/env/prod/')).json() as { entries: Array<{ key: string, hasChildren?: boolean }> }
  assert.deepEqual(flat.entries.map(e => e.key), ['/env/prod/db', '/env/prod/mode'])
  assert.equal(flat.entries[0].hasChildren, true)
  const deep = await (await fetch(f.url + '/list?prefix=/env/prod/&recursive=true&values=true')).json() as { entries: Array<{ key: string, value?: string }> }
  assert.deepEqual(deep.entries, [
    { key: '/env/prod/db', value: 'db-itself' },
    { key: '/env/prod/db/host', value: 'prod-db.internal' },
    { key: '/env/prod/mode', value: 'strict' }
  ])
  assert.equal((await fetch(f.url + '/list?prefix=/env/&recursive=maybe')).status, 400)
})

test('GET /audit pages through the changes of a prefix oldest first; bad filters are 400', async () => {
  for (const [key, author] of [['/aud/x', 'alice'], ['/aud/y', 'bob'], ['/aud/x', 'carol'], ['/audit-not/z', 'dave']]) {
    assert.equal((await post('/keys' + key, 'v', { 'x-gitconfig-author': author })).status, 200)
  }
  type Page = { entries: Array<{ key: string, author: string, op: string }>, next: string | null }
  const first = await (await fetch(f.url + '/audit?prefix=/aud/&limit=2')).json() as Page
  assert.deepEqual(first.entries.map((e) => [e.key, e.author]), [['/aud/x', 'alice'], ['/aud/y', 'bob']])
  assert.equal(typeof first.next, 'string')
  const second = await (await fetch(f.url + `/audit?prefix=/aud/&limit=2&after=${first.next ?? ''}`)).json() as Page
  assert.deepEqual([second.entries.map((e) => [e.key, e.author]), second.next], [[['/aud/x', 'carol']], null])
  for (const query of ['prefix=/aud/&since=soon', 'prefix=/aud/&limit=0', 'prefix=/aud/&after=zzz', 'prefix=/a//b']) {
    const res = await fetch(f.url + '/audit?' + query)
    assert.equal(res.status, 400, query)
    assert.match((await errorOf(res)).error, /^INVALID_(ARGUMENT|KEY)$/)
  }
})

test('unknown routes are 404, wrong methods 405 with Allow, all in JSON', async () => {
  const nf = await fetch(f.url + '/nope')
  assert.equal(nf.status, 404)
  assert.equal((await errorOf(nf)).error, 'ROUTE_NOT_FOUND')
  const wm = await fetch(f.url + '/keys/x', { method: 'PATCH', body: 'x' })
  assert.equal(wm.status, 405)
  assert.match(wm.headers.get('allow') ?? '', /GET/)
  assert.equal((await errorOf(wm)).error, 'METHOD_NOT_ALLOWED')
  assert.equal((await fetch(f.url + '/history/x', { method: 'DELETE' })).status, 405)
  assert.equal((await fetch(f.url + '/health', { method: 'POST' })).status, 405)
})

test('garbage requests never crash the node', async () => {
  const garbage = [
    'GET /keys/%%% HTTP/1.1',
    'POST /keys/x?ttl=1&ttl=2 HTTP/1.1\r\nContent-Length: 1',
    'GET /watch/x?wait=abc HTTP/1.1',
    'GET /list?prefix=%FF HTTP/1.1',
    'POST /rollback/x?to=zz HTTP/1.1\r\nContent-Length: 0',
    'POST /keys/x HTTP/1.1\r\nContent-Length: -5',
    'POST /keys/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3'
  ]
  for (const g of garbage) {
    const res = await rawRequest(f.url, g, 'x').catch(() => null)
    if (res !== null) assert.ok(res.status >= 400 && res.status < 500, `${g} -> ${res.status} ${res.body}`)
  }
  assert.equal((await fetch(f.url + '/health')).status, 200)
})

test('/health, /status and /metrics describe the node', async () => {
  assert.deepEqual(await (await fetch(f.url + '/health')).json(), { status: 'ok' })
  const status = await (await fetch(f.url + '/status')).json() as Record<string, unknown>
  assert.equal(status.repository, f.repo)
  assert.match(String(status.head), /^[0-9a-f]{40}$/)
  assert.equal(typeof status.nodeId, 'string')
  assert.equal(typeof status.version, 'string')
  const metrics = await (await fetch(f.url + '/metrics')).text()
  assert.match(metrics, /gitconfig_http_requests_total\{route="\/keys\/\*",method="POST",status="200"\} \d+/)
  assert.match(metrics, /gitconfig_http_request_duration_seconds_bucket/)
  assert.match(metrics, /gitconfig_commits_total [1-9]/)
  assert.match(metrics, /gitconfig_commit_batch_size_count [1-9]/)
  assert.match(metrics, /gitconfig_watchers 0/)
  assert.match(metrics, /gitconfig_keys [1-9]/)
})
