// Scenario 2's shared git remote with p2p off: each node pushes its head to its own branch of a bare repository and
// merges the others' branches every --sync-interval, so the nodes converge without ever connecting to each other.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { stopAll } from '../support/cli.js'
import { Scratch, assertAcksHeld, mainTree, put, startClusterNode, waitFor, waitForValue, type Ack } from './replication-cluster.js'

const scratch = new Scratch()
after(async () => {
  stopAll()
  await scratch.remove()
})

test('shared remote, p2p off: nodes converge through a bare repository', async () => {
  const base = await scratch.dir()
  const shared = join(base, 'shared.git')
  execFileSync('git', ['init', '--quiet', '--bare', shared])
  const args = ['--remote', shared, '--sync-interval', '1']
  const nodes = await Promise.all(['dc1', 'dc2', 'dc3'].map(async name => await startClusterNode(join(base, name), args)))
  assert.deepEqual(nodes.map(n => n.multiaddrs), [[], [], []], 'p2p is off')
  const acks: Ack[] = []
  for (const [i, n] of nodes.entries()) {
    acks.push(await put(n.url, `/remote/from${i + 1}`, `v${i + 1}`))
    acks.push(await put(n.url, '/remote/shared', `written-on-${i + 1}`))
  }
  for (const reader of nodes) {
    for (let i = 0; i < nodes.length; i++) await waitForValue(reader.url, `/remote/from${i + 1}`, `v${i + 1}`)
  }
  await waitFor('equal main trees', async () => new Set(nodes.map(n => mainTree(n.repo))).size === 1)
  for (const n of nodes) await assertAcksHeld(n.url, acks)
  const branches = execFileSync('git', ['-C', shared, 'for-each-ref', '--format=%(refname)', 'refs/heads/gitconfig/'], { encoding: 'utf8' }).trim().split('\n')
  assert.equal(branches.length, 3, `one branch per node on the remote: ${branches.join(', ')}`)
  await Promise.all(nodes.map(async n => await n.proc.stop()))
})
