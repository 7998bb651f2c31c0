import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, stat, writeFile, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { isGitConfigError } from '../../src/errors.js'
import { loadOrCreatePrivateKey } from '../../src/p2p/identity.js'

async function withFolder (t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gitconfig-identity-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

test('the key file is created with mode 0600 and gives the same PeerId on every load', async (t) => {
  const dir = await withFolder(t)
  const file = join(dir, 'node.key')
  const first = peerIdFromPrivateKey(await loadOrCreatePrivateKey(file))
  assert.equal((await stat(file)).mode & 0o777, 0o600)
  assert.equal(first.type, 'Ed25519')
  const second = peerIdFromPrivateKey(await loadOrCreatePrivateKey(file))
  assert.equal(second.toString(), first.toString())
  assert.deepEqual(await readdir(dir), ['node.key'], 'no temporary file is left behind')
})

test('concurrent first loads agree on one identity', async (t) => {
  const dir = await withFolder(t)
  const file = join(dir, 'node.key')
  const keys = await Promise.all(Array.from({ length: 5 }, async () => await loadOrCreatePrivateKey(file)))
  const ids = new Set(keys.map(k => peerIdFromPrivateKey(k).toString()))
  assert.equal(ids.size, 1)
})

test('a damaged key file is an error, never silently replaced', async (t) => {
  const dir = await withFolder(t)
  const file = join(dir, 'node.key')
  await writeFile(file, 'garbage')
  await assert.rejects(loadOrCreatePrivateKey(file), (err: unknown) => isGitConfigError(err) && err.code === 'INVALID_ARGUMENT' && /node\.key/.test(err.message))
  assert.equal(await readFile(file, 'utf8'), 'garbage')
})

test('the identity survives kill -9 of the process that created it', async (t) => {
  const dir = await withFolder(t)
  const file = join(dir, 'node.key')
  const script = `
    import { loadOrCreatePrivateKey } from ${JSON.stringify(new URL('../../src/p2p/identity.ts', import.meta.url).href)}
    import { peerIdFromPrivateKey } from '@libp2p/peer-id'
    const key = await loadOrCreatePrivateKey(${JSON.stringify(file)})
    process.stdout.write(peerIdFromPrivateKey(key).toString() + '\\n')
    setInterval(() => {}, 1000)
  `
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => { child.kill('SIGKILL') })
  const printed = await new Promise<string>((resolve, reject) => {
    let out = ''
    const guard = setTimeout(() => { reject(new Error('hang guard: the child printed no PeerId')) }, 60_000)
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes('\n')) {
        clearTimeout(guard)
        resolve(out.trim())
      }
    })
    child.on('exit', (code) => { clearTimeout(guard); reject(new Error(`child exited early with ${code}`)) })
  })
  child.removeAllListeners('exit')
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
  const reloaded = peerIdFromPrivateKey(await loadOrCreatePrivateKey(file))
  assert.equal(reloaded.toString(), printed)
})
