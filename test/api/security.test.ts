// Optional HTTP security: a bearer token on every route but /health, and TLS from PEM files. Checked in process
// (raw requests and GitConfigClient) and through the CLI as a user runs it (GITCONFIG_TOKEN, NODE_EXTRA_CA_CERTS).
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { request as httpsRequest } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GitConfigClient, GitConfigError } from '../../src/index.js'
import { GitConfigNode } from '../../src/daemon/daemon.js'
import { runCli, stopAll } from '../support/cli.js'
import { startNode } from '../support/node-fixture.js'

const token = 'c0ffee'.repeat(8)
let dir: string
after(async () => {
  stopAll()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

async function scratch (): Promise<string> {
  dir ??= await mkdtemp(join(tmpdir(), 'gitconfig-security-'))
  return dir
}

async function tokenFile (): Promise<string> {
  const file = join(await scratch(), 'api.token')
  await writeFile(file, token + '\n', { mode: 0o600 })
  return file
}

test('with an API token: 401 UNAUTHENTICATED without or with a wrong token, /health stays open, the client sends it', async () => {
  const f = await startNode({ authTokenFile: await tokenFile() })
  try {
    const none = await fetch(`${f.url}/keys/app/x`)
    assert.equal(none.status, 401)
    assert.equal(none.headers.get('www-authenticate'), 'Bearer')
    assert.equal((await none.json() as { error: string }).error, 'UNAUTHENTICATED')
    const wrong = await fetch(`${f.url}/keys/app/x`, { method: 'POST', body: 'v', headers: { authorization: `Bearer ${token.slice(1)}x` } })
    assert.equal(wrong.status, 401)
    for (const path of ['/list', '/metrics', '/status', '/audit', '/watch/app/?wait=0']) {
      assert.equal((await fetch(f.url + path)).status, 401, path)
    }
    assert.equal((await fetch(`${f.url}/health`)).status, 200)
    assert.equal((await fetch(`${f.url}/keys/app/x`, { headers: { authorization: `Bearer ${token}` } })).status, 404, 'authenticated: the key is just absent')
    assert.equal(await f.node.list('/', { recursive: true }).then(l => l.length), 0, 'the refused write changed nothing')

    const client = new GitConfigClient(f.url, { token })
    const written = await client.set('/app/x', 'v1')
    assert.equal(new TextDecoder().decode((await client.get('/app/x'))?.value), 'v1')
    const it = client.watch('/app/', { recursive: true, since: written.commit })[Symbol.asyncIterator]()
    await client.set('/app/y', 'v2')
    assert.equal((await it.next()).value?.key, '/app/y', 'the SSE watch carries the token too')
    await it.return?.()
    await assert.rejects(new GitConfigClient(f.url).get('/app/x'), (err: unknown) => err instanceof GitConfigError && err.code === 'UNAUTHENTICATED')
    await client.close()
  } finally {
    await f.close()
  }
})

test('a bad token file, or a certificate without its key, stops the start before the repository is created', async () => {
  const root = await scratch()
  await writeFile(join(root, 'short.token'), 'abc\n')
  for (const [options, message] of [
    [{ authTokenFile: join(root, 'short.token') }, /at least 16 printable/],
    [{ authTokenFile: join(root, 'missing.token') }, /cannot read the API token file/],
    [{ tlsCertFile: join(root, 'cert.pem') }, /tlsCertFile and tlsKeyFile go together/]
  ] as const) {
    const repo = join(root, `never-${Math.random().toString(16).slice(2)}`)
    await assert.rejects(async () => { await new GitConfigNode({ repo, httpPort: 0, logLevel: 'silent', ...options }).start() },
      (err: unknown) => err instanceof GitConfigError && err.code === 'INVALID_ARGUMENT' && message.test(err.message))
    assert.equal(existsSync(repo), false)
  }
})

test('with TLS: the node serves HTTPS only, and the CLI reaches it with the CA and the token from the environment', async () => {
  const root = await scratch()
  const cert = join(root, 'cert.pem')
  const key = join(root, 'key.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' })
  const f = await startNode({ tlsCertFile: cert, tlsKeyFile: key, authTokenFile: await tokenFile() })
  try {
    assert.match(f.url, /^https:\/\/127\.0\.0\.1:\d+$/)
    const ca = await readFile(cert)
    const status = await new Promise<number>((resolve, reject) => {
      httpsRequest(`${f.url}/health`, { ca }, res => { res.resume(); resolve(res.statusCode ?? 0) }).on('error', reject).end()
    })
    assert.equal(status, 200)
    await assert.rejects(fetch(f.url.replace('https:', 'http:') + '/health'), 'plain HTTP is not served')
    await assert.rejects(fetch(`${f.url}/health`), 'an unknown CA is refused by the client')

    const env = { NODE_EXTRA_CA_CERTS: cert, GITCONFIG_TOKEN: token }
    const set = await runCli(['set', '/tls/k', 'secret-value', '--http', f.url], { env })
    assert.equal(set.code, 0, set.stderr)
    const got = await runCli(['get', '/tls/k', '--http', f.url], { env })
    assert.deepEqual([got.code, got.stdout], [0, 'secret-value\n'])
    const noToken = await runCli(['get', '/tls/k', '--http', f.url], { env: { NODE_EXTRA_CA_CERTS: cert } })
    assert.equal(noToken.code, 6)
    assert.match(noToken.stderr, /^error: this node requires an API token/)
    const fromFile = await runCli(['get', '/tls/k', '--http', f.url, '--token-file', await tokenFile()], { env: { NODE_EXTRA_CA_CERTS: cert } })
    assert.deepEqual([fromFile.code, fromFile.stdout], [0, 'secret-value\n'])
  } finally {
    await f.close()
  }
})
