import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { Scratch, hangGuardMs, startHost, waitForEvent, waitUntil } from './helpers.js'

interface Spawned { child: ChildProcess, peerId: string, addrs: string[] }

/** Starts test/p2p/fixtures/host-process.ts and waits for its ready line. */
async function spawnHost (scratch: Scratch, keyFile: string, port: number, bootstrap: string[]): Promise<Spawned> {
  const script = new URL('./fixtures/host-process.ts', import.meta.url).pathname
  const child = spawn(process.execPath, ['--import', 'tsx', script, keyFile, String(port), ...bootstrap], { stdio: ['ignore', 'pipe', 'inherit'] })
  scratch.defer(async () => { child.kill('SIGKILL') })
  return await new Promise((resolve, reject) => {
    let out = ''
    const guard = setTimeout(() => { reject(new Error('hang guard: the host process did not start')) }, hangGuardMs)
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const line = out.split('\n')[0]
      if (out.includes('\n')) {
        clearTimeout(guard)
        const ready = JSON.parse(line) as { peerId: string, addrs: string[] }
        resolve({ child, ...ready })
      }
    })
    child.once('exit', (code) => { clearTimeout(guard); reject(new Error(`the host process exited with ${code}`)) })
  })
}

async function kill9 (child: ChildProcess): Promise<void> {
  child.removeAllListeners('exit')
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
}

test('a peer process killed with -9 and restarted with its key file comes back with the same PeerId and reconnects', async (t) => {
  const scratch = new Scratch()
  t.after(() => scratch.cleanup())
  const n1 = await startHost(scratch, { name: 'n1' })
  const keyFile = join(await scratch.folder(), 'child.key')

  const first = await spawnHost(scratch, keyFile, 0, n1.multiaddrs())
  // Precondition: n1 has learned where the child listens (identify), so it is able to re-dial it.
  await waitUntil(() => n1.knownPeers().some(p => p.peerId === first.peerId && p.connected), 'n1 to learn the child')
  const port = Number(/\/tcp\/(\d+)\//.exec(first.addrs[0])?.[1])

  const gone = waitForEvent(n1, 'peer:disconnect', id => id === first.peerId, 'n1 to see the child die')
  await kill9(first.child)
  await gone

  // Restarted without a bootstrap list: n1 must dial it (a learned peer, re-dialled), or it must dial n1.
  const back = waitForEvent(n1, 'peer:connect', id => id === first.peerId, 'the restarted child to reconnect')
  const second = await spawnHost(scratch, keyFile, port, [])
  assert.equal(second.peerId, first.peerId)
  await back
  assert.ok(n1.peers().some(p => p.peerId === second.peerId))
})
