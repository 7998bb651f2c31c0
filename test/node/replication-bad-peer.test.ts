// A bad peer: a libp2p host of our protocol stack that announces heads that exist nowhere, refuses to serve one and
// serves a corrupt pack for the other. The node logs and counts each failure, keeps its repository intact, and keeps
// serving reads and writes.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { createP2pHost, type HeadAnnouncement, type P2pHost } from '../../src/p2p/index.js'
import { stopAll } from '../support/cli.js'
import { Scratch, put, startClusterNode, waitFor, waitForValue } from './replication-cluster.js'

const scratch = new Scratch()
let bad: P2pHost | null = null
after(async () => {
  await bad?.stop()
  stopAll()
  await scratch.remove()
})

const refusedHead: HeadAnnouncement = { nodeId: 'bad-peer', commit: 'a'.repeat(40), hlc: { wallMs: Date.now(), counter: 0, node: 'bad-peer' } }
const corruptHead: HeadAnnouncement = { nodeId: 'bad-peer-2', commit: 'b'.repeat(40), hlc: { wallMs: Date.now(), counter: 0, node: 'bad-peer-2' } }

async function failedFetches (url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const line = text.split('\n').find(l => l.startsWith('gitconfig_replication_fetches_total{result="failed"} '))
  return line === undefined ? 0 : Number(line.split(' ')[1])
}

test('a peer announcing nonexistent heads and serving a corrupt pack is logged and dropped; the node keeps serving', async () => {
  const base = await scratch.dir()
  const node = await startClusterNode(join(base, 'dc1'), ['--p2p-port', '0'])
  await put(node.url, '/before', 'intact')
  const headBefore = execFileSync('git', ['-C', node.repo, 'rev-parse', 'main'], { encoding: 'utf8' }).trim()

  bad = await createP2pHost({
    keyFile: join(base, 'bad.key'),
    bootstrap: [node.multiaddrs[0]],
    antiEntropyIntervalMs: 500,
    localHeads: () => [refusedHead, corruptHead],
    fetchResponder: (request) => {
      if (request.want.includes(refusedHead.commit)) throw new Error('no such commit here')
      // A pack header followed by bytes that are no objects.
      return (async function * () { yield Buffer.concat([Buffer.from('PACK'), Buffer.from([0, 0, 0, 2, 0, 0, 0, 9]), Buffer.alloc(4096, 0xee)]) })()
    }
  })
  await bad.start()
  await bad.announceHead(refusedHead)

  await waitFor('both bad heads fetched and failed', async () => await failedFetches(node.url) >= 2)
  const log = node.proc.output().stdout
  assert.match(log, new RegExp(`replication from a peer failed.*${refusedHead.commit}|${refusedHead.commit}.*replication from a peer failed`))
  assert.match(log, new RegExp(`replication from a peer failed.*${corruptHead.commit}|${corruptHead.commit}.*replication from a peer failed`))

  assert.equal(execFileSync('git', ['-C', node.repo, 'rev-parse', 'main'], { encoding: 'utf8' }).trim(), headBefore, 'main is untouched')
  execFileSync('git', ['-C', node.repo, 'fsck', '--no-progress', '--no-dangling'])
  await put(node.url, '/after', 'still-serving')
  await waitForValue(node.url, '/after', 'still-serving')
  await waitForValue(node.url, '/before', 'intact')
  assert.equal(node.proc.child.exitCode, null, 'the node is still running')
  await bad.stop()
  bad = null
  await node.proc.stop()
})
