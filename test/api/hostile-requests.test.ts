// The hostile requests of issue 13 part 4, one table row each, with the exact URLs of the issue. Requests go out on
// raw sockets: fetch would normalise most of them away. Every refusal is checked to leave `main` where it was.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { Worker } from 'node:worker_threads'
import { errorCodes } from '../../src/errors.js'
import { git } from '../gitstore/helpers.js'
import { startNode, type NodeFixture } from '../support/node-fixture.js'
import { rawRequest, type RawResponse } from '../support/raw-http.js'

let f: NodeFixture
let authority: string
before(async () => {
  f = await startNode({ valueBytesMax: 1024, requestBytesMax: 4096 })
  authority = new URL(f.url).host
})
after(async () => { await f.close() })

const mainHead = (): string => git(f.repo, 'rev-parse', 'main').trim()

/** The body of an error reply, checked against docs/errors.md: a known code, sent with its own status. */
function errorOf (res: RawResponse): { error: string, message: string, key?: string } {
  const body = JSON.parse(res.body) as { error: unknown, message: unknown, key?: string }
  assert.equal(typeof body.message, 'string', res.body)
  assert.ok(typeof body.error === 'string' && Object.hasOwn(errorCodes, body.error), res.body)
  assert.equal(res.status, errorCodes[body.error as keyof typeof errorCodes].status, res.body)
  return body as { error: string, message: string, key?: string }
}

async function write (path: string, value: string): Promise<string> {
  const res = await rawRequest(f.url, `POST ${path} HTTP/1.1\r\nContent-Length: ${Buffer.byteLength(value)}`, value)
  assert.equal(res.status, 200, res.body)
  return (JSON.parse(res.body) as { commit: string }).commit
}

async function read (path: string): Promise<RawResponse> {
  return await rawRequest(f.url, `GET ${path} HTTP/1.1`)
}

/** Sends a request that must be refused with `code`, and checks that the repository did not move. */
async function refused (head: string, body: string, code: string): Promise<{ error: string, message: string, key?: string }> {
  const before = mainHead()
  const res = await rawRequest(f.url, head, body)
  const err = errorOf(res)
  assert.equal(err.error, code, `${head.split('\r\n')[0]} -> ${res.body}`)
  assert.equal(mainHead(), before, `${head.split('\r\n')[0]} changed main`)
  return err
}

test('an absolute-form target writes the key its path names (`POST http://127.0.0.1:P/keys/odd/abs`)', async () => {
  const res = await rawRequest(f.url, `POST http://${authority}/keys/odd/abs HTTP/1.1\r\nContent-Length: 1`, 'a')
  assert.equal(res.status, 200, res.body)
  assert.equal((JSON.parse(res.body) as { key: string }).key, '/odd/abs')
  assert.equal((await read('/keys/odd/abs')).body, 'a')
  const withQuery = await rawRequest(f.url, `POST HTTP://${authority}/keys/odd/abs?ttl=3600 HTTP/1.1\r\nContent-Length: 1`, 'b')
  assert.equal((JSON.parse(withQuery.body) as { key: string }).key, '/odd/abs')
  assert.equal((await read(`http://${authority}/keys/odd/abs`)).body, 'b')
  assert.equal((await read(`http://${authority}/health`)).status, 200)
  assert.equal(errorOf(await read(`http://${authority}/nope`)).error, 'ROUTE_NOT_FOUND')
  const listed = JSON.parse((await read('/list?prefix=/&recursive=true')).body) as { entries: Array<{ key: string }> }
  assert.ok(!listed.entries.some(e => e.key.includes(authority)), JSON.stringify(listed))
})

test('targets that are not paths are refused with 400 INVALID_ARGUMENT', async () => {
  for (const target of ['*', `ftp://${authority}/keys/odd/ftp`, `${authority}/keys/odd/bare`, '/keys/odd/frag#x']) {
    await refused(`POST ${target} HTTP/1.1\r\nContent-Length: 1`, 'x', 'INVALID_ARGUMENT')
  }
  assert.equal((await read('/keys/odd/frag')).status, 404)
})

test('a percent-encoded route name is refused and changes nothing (`/%6Beys/odd/enc`, `/%72ollback/odd/base?to=C`)', async () => {
  const base = await write('/keys/odd/base', 'base-1')
  await write('/keys/odd/base', 'base-2')
  await write('/keys/k/odd/base', 'k-1')
  await write('/keys/s/odd/enc', 's-1')
  await refused('POST /%6Beys/odd/enc HTTP/1.1\r\nContent-Length: 1', 'x', 'INVALID_ARGUMENT')
  await refused(`POST /%72ollback/odd/base?to=${base} HTTP/1.1\r\nContent-Length: 0`, '', 'INVALID_ARGUMENT')
  await refused('GET /%6beys/odd/base HTTP/1.1', '', 'INVALID_ARGUMENT')
  await refused('DELETE /k%65ys/odd/base HTTP/1.1', '', 'INVALID_ARGUMENT')
  await refused('GET /%68ealth HTTP/1.1', '', 'INVALID_ARGUMENT')
  await refused('POST /%6Beys/odd/%ZZ HTTP/1.1\r\nContent-Length: 1', 'x', 'INVALID_ARGUMENT')
  assert.equal((await read('/keys/odd/base')).body, 'base-2')
  assert.equal((await read('/keys/k/odd/base')).body, 'k-1')
  assert.equal((await read('/keys/s/odd/enc')).body, 's-1')
  assert.equal((await read('/keys/odd/enc')).status, 404)
})

test('a leading empty segment is 400 INVALID_KEY on every key route (`/keys//odd/lead`)', async () => {
  const c = await write('/keys/odd/lead', 'v')
  const err = await refused('POST /keys//odd/lead HTTP/1.1\r\nContent-Length: 1', 'x', 'INVALID_KEY')
  assert.equal(err.key, '//odd/lead')
  await refused('PUT /keys///odd/lead HTTP/1.1\r\nContent-Length: 1', 'x', 'INVALID_KEY')
  await refused('DELETE /keys//odd/lead HTTP/1.1', '', 'INVALID_KEY')
  await refused('GET /keys//odd/lead HTTP/1.1', '', 'INVALID_KEY')
  await refused('GET /history//odd/lead HTTP/1.1', '', 'INVALID_KEY')
  await refused(`POST /rollback//odd/lead?to=${c} HTTP/1.1\r\nContent-Length: 0`, '', 'INVALID_KEY')
  await refused('GET /watch//odd/lead?wait=0 HTTP/1.1', '', 'INVALID_KEY')
  assert.equal((await read('/keys/odd/lead')).body, 'v')
})

test('malformed percent-encoding, overlong UTF-8 and lone surrogates in a key are 400 INVALID_KEY', async () => {
  const c = await write('/keys/odd/enc-base', 'v')
  for (const bad of ['%ZZ', 'a%', 'a%4', '%E0%A4', '%C0%AF', '%C1%BF', '%E0%80%AF', '%ED%A0%80', '%ED%BF%BF', '%F8%88%80%80%80', '%FF']) {
    for (const head of [
      `POST /keys/odd/${bad} HTTP/1.1\r\nContent-Length: 1`,
      `GET /keys/odd/${bad} HTTP/1.1`,
      `DELETE /keys/${bad}/odd HTTP/1.1`,
      `GET /history/odd/${bad} HTTP/1.1`,
      `POST /rollback/odd/${bad}?to=${c} HTTP/1.1\r\nContent-Length: 0`,
      `GET /watch/odd/${bad}?wait=0 HTTP/1.1`
    ]) {
      await refused(head, head.includes('Length: 1') ? 'x' : '', 'INVALID_KEY')
    }
  }
})

test('query parameters are decoded once; one that does not decode is refused (a prefix with INVALID_KEY)', async () => {
  await write('/keys/q/a%20b%25/c', 'v')
  for (const query of ['prefix=/q/a%20b%', 'prefix=%FF', 'prefix=/q/%C0%AF']) await refused(`GET /list?${query} HTTP/1.1`, '', 'INVALID_KEY')
  await refused('GET /audit?prefix=/q/%ED%A0%80 HTTP/1.1', '', 'INVALID_KEY')
  await refused('GET /history/q/x?limit=%ZZ HTTP/1.1', '', 'INVALID_ARGUMENT')
  await refused('POST /keys/q/x?ttl=36%0 HTTP/1.1\r\nContent-Length: 1', 'x', 'INVALID_ARGUMENT')
  const listed = JSON.parse((await read('/list?prefix=/q/a+b%25&recursive=true')).body) as { prefix: string, entries: Array<{ key: string }> }
  assert.deepEqual([listed.prefix, listed.entries.map(e => e.key)], ['/q/a b%', ['/q/a b%/c']])
})

test('two X-GitConfig-Author headers are refused with 400 INVALID_ARGUMENT, not joined', async () => {
  const c = await write('/keys/odd/author', 'v')
  const two = 'X-GitConfig-Author: alice\r\nX-GitConfig-Author: mallory'
  await refused(`POST /keys/odd/author HTTP/1.1\r\n${two}\r\nContent-Length: 1`, 'x', 'INVALID_ARGUMENT')
  await refused(`POST /keys/odd/author?cas HTTP/1.1\r\n${two}\r\nContent-Length: 30`, '{"expected":"v","value":"cas"}', 'INVALID_ARGUMENT')
  await refused(`DELETE /keys/odd/author HTTP/1.1\r\n${two}`, '', 'INVALID_ARGUMENT')
  await refused(`POST /rollback/odd/author?to=${c} HTTP/1.1\r\n${two}\r\nContent-Length: 0`, '', 'INVALID_ARGUMENT')
  assert.equal((await read('/keys/odd/author')).body, 'v')
  const history = JSON.parse((await read('/history/odd/author')).body) as Array<{ author: string }>
  assert.ok(!history.some(h => h.author.includes('mallory')), JSON.stringify(history))
})

test('the Content-Type of a write is ignored, even when empty or malformed', async () => {
  for (const [i, type] of ['', ';;;', 'text/plain; charset=', 'a/b/c', '/', 'application/json; x="unterminated', '\u00ff'].entries()) {
    const res = await rawRequest(f.url, `PUT /keys/odd/type/${i} HTTP/1.1\r\nContent-Type: ${type}\r\nContent-Length: 5`, 'typed')
    assert.equal(res.status, 200, `${JSON.stringify(type)}: ${res.body}`)
    assert.equal((await read(`/keys/odd/type/${i}`)).body, 'typed')
  }
  const cas = await rawRequest(f.url, 'POST /keys/odd/type/cas?cas HTTP/1.1\r\nContent-Type: ;\r\nContent-Length: 31', '{"expected":null,"value":"won"}')
  assert.equal(cas.status, 200, cas.body)
  const chunked = await rawRequest(f.url, 'POST /keys/odd/type/chunked HTTP/1.1\r\nContent-Type: \r\nTransfer-Encoding: chunked', '3\r\nabc\r\n0\r\n\r\n')
  assert.equal(chunked.status, 200, chunked.body)
  assert.equal((await read('/keys/odd/type/chunked')).body, 'abc')
})

test('requests refused by Node\'s HTTP parser are answered in JSON with a documented code', async () => {
  const table: Array<[string, string, string]> = [
    ['GARBAGE', '', 'INVALID_ARGUMENT'],
    ['GET /keys/a b HTTP/1.1', '', 'INVALID_ARGUMENT'],
    [`${authority}/keys/odd/bare HTTP/1.1`, '', 'INVALID_ARGUMENT'],
    ['GET /keys/odd HTTP/1.1\r\nBad Header: x', '', 'INVALID_ARGUMENT'],
    ['POST /keys/odd HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2', 'xy', 'INVALID_ARGUMENT'],
    ['POST /keys/odd HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked', '3\r\nabc\r\n0\r\n\r\n', 'INVALID_ARGUMENT'],
    ['POST /keys/odd HTTP/1.1\r\nTransfer-Encoding: chunked', 'zz\r\nabc\r\n0\r\n\r\n', 'INVALID_ARGUMENT'],
    [`GET /keys/odd HTTP/1.1\r\nX-Big: ${'a'.repeat(20_000)}`, '', 'HEADERS_TOO_LARGE'],
    [`GET /keys/${'k'.repeat(20_000)} HTTP/1.1`, '', 'HEADERS_TOO_LARGE'],
    ['POST /keys/odd HTTP/1.1\r\nTransfer-Encoding: chunked', `1;${'e'.repeat(20_000)}\r\nx\r\n0\r\n\r\n`, 'VALUE_TOO_LARGE'],
    ['POST /keys/odd HTTP/1.1\r\nExpect: the-unexpected\r\nContent-Length: 1', 'x', 'EXPECTATION_FAILED'],
    ['CONNECT 127.0.0.1:1 HTTP/1.1', '', 'INVALID_ARGUMENT'],
    ['POST /keys/odd HTTP/1.1\r\nHost: elsewhere\r\nContent-Length: 1', 'x', 'INVALID_ARGUMENT']
  ]
  for (const [head, body, code] of table) await refused(head, body, code)
  assert.equal((await read('/keys/odd')).status, 404)
  assert.equal((await read('/health')).status, 200)
})

test('an HTTP/1.1 request without Host is 400 INVALID_ARGUMENT in JSON; HTTP/1.0 needs none', async () => {
  const send = async (version: string): Promise<RawResponse> => await new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(f.url).port), '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', reject)
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      const split = text.indexOf('\r\n\r\n')
      resolve({ status: Number(text.slice(9, 12)), headers: text.slice(0, split), body: text.slice(split + 4) })
    })
    socket.write(`POST /keys/odd/no-host HTTP/${version}\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx`)
  })
  const before = mainHead()
  const res = await send('1.1')
  assert.equal(errorOf(res).error, 'INVALID_ARGUMENT', res.body)
  assert.equal(mainHead(), before)
  assert.equal((await send('1.0')).status, 200)
})

test('impossible dates in the audit filters are 400 INVALID_ARGUMENT (`since=2026-02-30`)', async () => {
  for (const filter of [
    'since=2026-02-30', 'until=2026-02-30', 'since=2025-02-29', 'since=2026-04-31', 'since=2026-13-01', 'since=2026-00-10',
    'since=2026-01-00', 'since=2026-01-32', 'since=2026-01-01T24:00', 'since=2026-01-01T12:60', 'since=2026-01-01T12:00:60Z',
    'since=2026-01-01T12:00%2B24:00', 'since=2026-01-01T12:00-00:60'
  ]) {
    await refused(`GET /audit?${filter} HTTP/1.1`, '', 'INVALID_ARGUMENT')
  }
  for (const filter of ['since=2024-02-29', 'since=2000-02-29', 'until=2026-12-31T23:59:59.999Z', 'since=2026-01-01T12:00%2B05:30']) {
    const res = await read(`/audit?${filter}`)
    assert.equal(res.status, 200, `${filter}: ${res.body}`)
  }
})

test('a rollback that changes nothing makes no commit, like a delete of an absent key', async () => {
  const empty = mainHead()
  const c1 = await write('/keys/odd/rb', 'one')
  const written = JSON.parse((await rawRequest(f.url, 'GET /history/odd/rb HTTP/1.1')).body) as Array<{ commit: string, version: unknown }>
  // The key already holds the value of c1: the answer names the commit that holds it, and main does not move.
  const same = await rawRequest(f.url, `POST /rollback/odd/rb?to=${c1} HTTP/1.1\r\nContent-Length: 0`)
  assert.equal(same.status, 200, same.body)
  assert.deepEqual(JSON.parse(same.body), { key: '/odd/rb', commit: c1, version: written[0].version })
  assert.equal(mainHead(), c1)
  // A value that differs, or the same value with a TTL, is a change: a new commit each time.
  for (const path of ['/keys/odd/rb', '/keys/odd/rb?ttl=3600']) {
    await write(path, path.includes('ttl') ? 'one' : 'two')
    const changed = await rawRequest(f.url, `POST /rollback/odd/rb?to=${c1} HTTP/1.1\r\nContent-Length: 0`)
    const commit = (JSON.parse(changed.body) as { commit: string }).commit
    assert.equal(mainHead(), commit)
    const again = await rawRequest(f.url, `POST /rollback/odd/rb?to=${c1} HTTP/1.1\r\nContent-Length: 0`)
    assert.equal((JSON.parse(again.body) as { commit: string }).commit, commit)
    assert.equal(mainHead(), commit)
  }
  // Restoring absence: a change while the key exists; once it is absent, no commit and the answer names the commit
  // that removed it. A key never written has nothing to roll back: 404 NOT_FOUND, as DELETE of an absent key.
  const removed = await rawRequest(f.url, `POST /rollback/odd/rb?to=${empty} HTTP/1.1\r\nContent-Length: 0`)
  const removedBy = (JSON.parse(removed.body) as { commit: string }).commit
  assert.equal(mainHead(), removedBy)
  assert.equal((await read('/keys/odd/rb')).status, 404)
  const absentAgain = await rawRequest(f.url, `POST /rollback/odd/rb?to=${empty} HTTP/1.1\r\nContent-Length: 0`)
  assert.equal((JSON.parse(absentAgain.body) as { commit: string }).commit, removedBy)
  assert.equal(mainHead(), removedBy)
  await refused('DELETE /keys/odd/rb HTTP/1.1', '', 'NOT_FOUND')
  await refused(`POST /rollback/odd/never-written?to=${c1} HTTP/1.1\r\nContent-Length: 0`, '', 'NOT_FOUND')
  const ops = (JSON.parse((await read('/history/odd/rb')).body) as Array<{ op: string }>).map(h => h.op)
  assert.deepEqual(ops, ['rollback', 'rollback', 'set', 'rollback', 'set', 'set'])
})

// A client in another thread, writing as fast as its socket takes it: in the node's own thread the client's writes
// and reads interleave with the server's turns and the reset never shows.
const fastChunkedClient = `
const { connect } = require('node:net')
const { workerData, parentPort } = require('node:worker_threads')
const chunk = Buffer.concat([Buffer.from('4000\\r\\n'), Buffer.alloc(0x4000, 0x61), Buffer.from('\\r\\n')])
const body = Buffer.concat([...Array.from({ length: workerData.chunks }, () => chunk), Buffer.from('0\\r\\n\\r\\n')])
const socket = connect(workerData.port, '127.0.0.1')
const received = []
socket.on('data', (c) => received.push(c))
socket.on('error', (e) => parentPort.postMessage('connection error ' + e.code))
socket.on('close', () => parentPort.postMessage(Buffer.concat(received).toString('latin1')))
socket.write('POST /keys/odd/big HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n')
socket.end(body)
`

test('a chunked body over the limit, sent fast, gets its 413 every time, not a connection reset', async () => {
  const before = mainHead()
  for (let i = 0; i < 20; i++) {
    // 4 MiB against a 4 KiB request limit: the node answers long before the client has finished sending.
    const worker = new Worker(fastChunkedClient, { eval: true, workerData: { port: Number(new URL(f.url).port), chunks: 256 } })
    const reply = await new Promise<string>((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject) })
    await worker.terminate()
    assert.match(reply, /^HTTP\/1\.1 413 /, `attempt ${i}: ${reply.slice(0, 80)}`)
    assert.match(reply, /"error":"VALUE_TOO_LARGE"/)
  }
  assert.equal(mainHead(), before)
  assert.equal((await read('/keys/odd/big')).status, 404)
})
