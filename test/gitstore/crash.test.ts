import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { GitConfigStore } from '../../src/index.js'
import { SimRandom } from '../sim/random.js'
import { childEnv, git, tempDir, text } from './helpers.js'

const writer = new URL('./fixtures/writer.ts', import.meta.url).pathname

/** Runs the writer until `killAfterMs` after it is ready, SIGKILLs its whole process group, returns its acks. */
function runAndKill (dir: string, round: number, killAfterMs: number): Promise<Array<{ key: string, commit: string }>> {
  return new Promise((resolve, reject) => {
    // Own process group, so the kill takes git fast-import and cat-file down with it, like a machine crash.
    const child = spawn(process.execPath, ['--import', 'tsx', writer, dir, String(round)],
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: childEnv() })
    const acks: Array<{ key: string, commit: string }> = []
    let rest = ''
    let stderr = ''
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
    child.stdout.on('data', (b: Buffer) => {
      const lines = (rest + b.toString()).split('\n')
      rest = lines.pop() ?? ''
      for (const line of lines) {
        // The moment of the kill is the experiment (random, from the seed), not a stand-in for a condition.
        if (line === 'ready') setTimeout(() => { try { process.kill(-(child.pid ?? 0), 'SIGKILL') } catch { /* gone */ } }, killAfterMs)
        const m = /^ack (\S+) ([0-9a-f]{40})$/.exec(line)
        if (m !== null) acks.push({ key: m[1], commit: m[2] })
      }
    })
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`writer ended by itself (${code}): ${stderr}`))
      else resolve(acks)
    })
  })
}

test('SIGKILL at random moments loses no acknowledged write and leaves git fsck clean', async (t) => {
  const seed = 424242
  const rnd = new SimRandom(seed)
  const dir = join(await tempDir(t), 'repo')
  const rounds = 5
  let totalAcks = 0
  for (let round = 0; round < rounds; round++) {
    const killAfterMs = rnd.int(50, 1200)
    const acks = await runAndKill(dir, round, killAfterMs)
    totalAcks += acks.length
    t.diagnostic(`round ${round}: killed after ${killAfterMs} ms with ${acks.length} writes acknowledged`)
    const store = await GitConfigStore.open(dir, { maintenance: false })
    try {
      for (const { key } of acks) {
        assert.equal(text((await store.get(key))?.value), key.split('/').pop(), `seed ${seed} round ${round}: ${key} lost`)
      }
      for (const { key, commit } of acks.slice(-20)) {
        const history = await store.history(key)
        assert.ok(history.some((h) => h.commit === commit), `seed ${seed} round ${round}: ${commit} of ${key} not in history`)
      }
    } finally {
      await store.close()
    }
    git(dir, 'fsck', '--full', '--strict')
  }
  assert.ok(totalAcks > 0, 'the writer acknowledged writes before being killed')
})
