// The CLI driving a real node process on an ephemeral loopback port (scenarios 1, 3, 5, 9 and 10 of SCENARIOS.md).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli, startNodeProcess, stopAll, type NodeProcess } from '../support/cli.js'

let dir: string
let node: NodeProcess
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gitconfig-cli-'))
  node = await startNodeProcess(['--repo', join(dir, 'central')])
})
after(async () => {
  stopAll()
  await rm(dir, { recursive: true, force: true })
})

const http = (): string[] => ['--http', node.url]

test('scenario 1: curl-style POST/GET against the node started by the CLI', async () => {
  const post = await fetch(`${node.url}/keys/app1/database/url`, { method: 'POST', body: 'postgres://db1:5432/app1', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  assert.equal(post.status, 200)
  await fetch(`${node.url}/keys/app1/cache/url`, { method: 'POST', body: 'redis://cache1:6379' })
  assert.equal(await (await fetch(`${node.url}/keys/app1/database/url`)).text(), 'postgres://db1:5432/app1')
  const got = await runCli(['get', '/app1/cache/url', ...http()])
  assert.deepEqual([got.code, got.stdout, got.stderr], [0, 'redis://cache1:6379\n', ''])
})

test('scenario 3: set, history, get --commit and rollback through the CLI', async () => {
  const env = { GITCONFIG_HTTP: node.url }
  const set1 = await runCli(['set', '/features/new_ui', 'enabled', '--author', 'alice'], { env })
  assert.equal(set1.code, 0, set1.stderr)
  const c1 = set1.stdout.trim()
  assert.match(c1, /^[0-9a-f]{40}$/)
  assert.equal((await runCli(['set', '/features/new_ui', 'disabled'], { env })).code, 0)

  const hist = await runCli(['history', '/features/new_ui', '--json'], { env })
  assert.equal(hist.code, 0, hist.stderr)
  const entries = JSON.parse(hist.stdout) as Array<{ commit: string, date: string, author: string, message: string, op: string }>
  assert.equal(entries.length, 2)
  assert.equal(entries[1].commit, c1)
  assert.ok(entries[1].author.includes('alice'))
  const text = await runCli(['history', '/features/new_ui'], { env })
  assert.equal(text.stdout.trim().split('\n').length, 2)
  assert.ok(text.stdout.startsWith(entries[0].commit + ' '))

  const old = await runCli(['get', '/features/new_ui', '--commit', c1], { env })
  assert.deepEqual([old.code, old.stdout], [0, 'enabled\n'])
  const rb = await runCli(['rollback', '/features/new_ui', '--to', c1], { env })
  assert.equal(rb.code, 0, rb.stderr)
  assert.notEqual(rb.stdout.trim(), c1)
  assert.equal((await runCli(['get', '/features/new_ui'], { env })).stdout, 'enabled\n')
})

test('scenario 5: a session with a TTL is readable, then gone (curl lines, then the CLI)', async () => {
  const set = await fetch(`${node.url}/keys/sessions/abc123?ttl=2`, { method: 'POST', body: '{"user_id":123,"role":"admin"}', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  assert.equal(set.status, 200)
  const deadline = (await set.json() as { version: { wallMs: number } }).version.wallMs + 2000
  // On a loaded machine the read can come after the deadline: assert what the instants around it decide.
  const readFromMs = Date.now()
  const got = await fetch(`${node.url}/keys/sessions/abc123`)
  const body = await got.text()
  if (Date.now() < deadline) assert.equal(body, '{"user_id":123,"role":"admin"}')
  else if (readFromMs >= deadline) assert.equal(got.status, 404)
  // Waits for the deadline itself to pass on the node's clock (this machine's): the condition is the time.
  await new Promise(resolve => setTimeout(resolve, Math.max(0, deadline - Date.now()) + 10))
  const gone = await runCli(['get', '/sessions/abc123', ...http()])
  assert.equal(gone.code, 1)
  assert.equal(gone.stderr, 'error: /sessions/abc123: not found\n')
  // The CLI's --ttl sets the same kind of deadline.
  const cliSet = await runCli(['set', '/sessions/def456', 'x', '--ttl', '3600', ...http()])
  assert.equal(cliSet.code, 0, cliSet.stderr)
  const expires = Number((await fetch(`${node.url}/keys/sessions/def456`)).headers.get('x-gitconfig-expires-at'))
  assert.ok(expires > Date.now() + 3500_000 && expires <= Date.now() + 3600_000, String(expires))
})

test('scenario 9: an A/B rollout 0 -> 10 -> 50 -> 100, every step in history, an earlier one restored', async () => {
  const commits: string[] = []
  for (const pct of ['0', '10', '50', '100']) {
    const r = await runCli(['set', '/ab_tests/new_checkout/rollout_percent', pct, ...http()])
    assert.equal(r.code, 0, r.stderr)
    commits.push(r.stdout.trim())
  }
  const hist = JSON.parse((await runCli(['history', '/ab_tests/new_checkout/rollout_percent', '--json', ...http()])).stdout) as Array<{ commit: string }>
  assert.deepEqual(hist.map(h => h.commit), [...commits].reverse())
  assert.equal((await runCli(['rollback', '/ab_tests/new_checkout/rollout_percent', '--to', commits[1], ...http()])).code, 0)
  assert.equal(await (await fetch(`${node.url}/keys/ab_tests/new_checkout/rollout_percent`)).text(), '10')
})

test('scenario 10: the audit trail of a prefix is exported by date range, oldest first, one JSON object per line', async () => {
  const start = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString()
  const commits: string[] = []
  for (const [key, author] of [['/audit/prod/db', 'alice'], ['/audit/prod/db', 'bob'], ['/audit/prod/cache', 'carol']]) {
    const r = await runCli(['set', key, `by ${author}`, '--author', author, ...http()])
    assert.equal(r.code, 0, r.stderr)
    commits.push(r.stdout.trim())
  }
  await runCli(['set', '/audit/dev/db', 'not exported', ...http()])
  const exported = await runCli(['audit', '/audit/prod/', '--since', start, '--json', ...http()])
  assert.equal(exported.code, 0, exported.stderr)
  const lines = exported.stdout.trim().split('\n').map((l) => JSON.parse(l) as { key: string, author: string, op: string, commit: string, date: string })
  assert.deepEqual(lines.map((e) => [e.key, e.author, e.op, e.commit]), [
    ['/audit/prod/db', 'alice', 'set', commits[0]], ['/audit/prod/db', 'bob', 'set', commits[1]], ['/audit/prod/cache', 'carol', 'set', commits[2]]
  ])
  const before = await runCli(['audit', '/audit/', '--until', start, ...http()])
  assert.deepEqual([before.code, before.stdout], [0, ''])
  const limited = await runCli(['audit', '/audit/', '--limit', '2', ...http()])
  assert.equal(limited.stdout.trim().split('\n').length, 2)
  assert.match(limited.stdout, /^\d{4}-\d{2}-\d{2}T\S+Z [0-9a-f]{40} set \/audit\/prod\/db alice\n/)
  const bad = await runCli(['audit', '/audit/', '--since', 'last week', ...http()])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /^error: since must be an ISO-8601 date/)
})

test('values from stdin, binary values, list and delete through the CLI', async () => {
  const bytes = Buffer.from([0, 1, 2, 250, 255])
  assert.equal((await runCli(['set', '/cli/bin', ...http()], { input: bytes })).code, 0)
  const got = await runCli(['get', '/cli/bin', '--json', ...http()])
  assert.equal((JSON.parse(got.stdout) as { valueBase64: string }).valueBase64, bytes.toString('base64'))
  assert.equal((await runCli(['set', '/cli/text', '-', ...http()], { input: 'from stdin' })).code, 0)
  const list = await runCli(['list', '/cli/', '--recursive', '--values', ...http()])
  assert.equal(list.stdout, `/cli/bin\tbase64:${bytes.toString('base64')}\n/cli/text\tfrom stdin\n`)
  assert.equal((await runCli(['set', '/cli/text/child', 'c', ...http()])).code, 0)
  const children = await runCli(['list', '/cli/', ...http()])
  assert.equal(children.stdout, '/cli/bin\n/cli/text\n/cli/text/\n', 'a key with a value and keys below it shows both ways')
  assert.equal((await runCli(['delete', '/cli/text', ...http()])).code, 0)
  const again = await runCli(['delete', '/cli/text', ...http()])
  assert.deepEqual([again.code, again.stderr], [1, 'error: /cli/text: not found\n'])
})

test('exit codes: bad input 2, CAS not swapped 3, node unreachable 4, help and version 0; errors are one line', async () => {
  const badKey = await runCli(['set', '/a//b', 'x', ...http()])
  assert.equal(badKey.code, 2)
  assert.match(badKey.stderr, /^error: [^\n]+\n$/)
  const badTtl = await runCli(['set', '/a', 'x', '--ttl', 'soon', ...http()])
  assert.deepEqual([badTtl.code, /^error: --ttl/.test(badTtl.stderr)], [2, true])
  const unknownCmd = await runCli(['frobnicate'])
  assert.deepEqual([unknownCmd.code, unknownCmd.stderr], [2, "error: unknown command 'frobnicate'\n"])
  const noTarget = await runCli(['get', '/x'])
  assert.equal(noTarget.code, 2)
  assert.match(noTarget.stderr, /--repo PATH.*--http URL/)

  assert.equal((await runCli(['cas', '/cli/lock', '', 'me', ...http()])).code, 0)
  const lost = await runCli(['cas', '/cli/lock', '', 'you', ...http()])
  assert.deepEqual([lost.code, lost.stderr], [3, 'error: not swapped: the key holds another value\n'])

  const down = await runCli(['get', '/x', '--http', 'http://127.0.0.1:1'])
  assert.equal(down.code, 4)
  assert.match(down.stderr, /^error: cannot reach http:\/\/127\.0\.0\.1:1/)

  const version = await runCli(['--version'])
  assert.deepEqual([version.code, version.stdout], [0, `${(JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version}\n`])
  for (const cmd of [[], ['set'], ['get'], ['watch'], ['audit'], ['node', 'start']]) {
    const help = await runCli([...cmd, '--help'])
    assert.equal(help.code, 0, cmd.join(' '))
    assert.match(help.stdout, /^Usage: gitconfig/)
  }
})

test('watch through the CLI prints changes as they happen (JSON lines)', async () => {
  const seed = (await runCli(['set', '/cliw/a', '0', ...http()])).stdout.trim()
  await fetch(`${node.url}/keys/cliw/a`, { method: 'POST', body: '1' })
  await fetch(`${node.url}/keys/cliw/b`, { method: 'POST', body: '2' })
  // --since replays the two changes made after the seed; the process is stopped once it printed them.
  const { spawn } = await import('node:child_process')
  const { fileURLToPath } = await import('node:url')
  const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', main, 'watch', '/cliw/', '--recursive', '--since', seed, '--json', ...http()])
  let out = ''
  await new Promise<void>((resolve, reject) => {
    const guard = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`watch printed: ${out}`)) }, 60_000)
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString('utf8')
      if (out.split('\n').length > 2) { clearTimeout(guard); resolve() }
    })
  })
  child.kill('SIGINT')
  const code = await new Promise(resolve => child.on('close', resolve))
  assert.equal(code, 0)
  const events = out.trim().split('\n').map(l => JSON.parse(l) as { key: string, op: string, value: string })
  assert.deepEqual(events.map(e => [e.key, e.op, e.value]), [['/cliw/a', 'set', '1'], ['/cliw/b', 'set', '2']])
})

test('the node logs JSON lines and exits 0 on SIGTERM', async () => {
  const logs = node.output().stdout.trim().split('\n').map(l => JSON.parse(l) as { msg: string, url?: string })
  assert.ok(logs.some(l => l.msg === 'gitconfig node listening' && l.url === node.url))
  const exit = await node.stop('SIGTERM')
  assert.deepEqual(exit, { code: 0, signal: null })
  assert.match(node.output().stdout, /gitconfig node stopped/)
})
