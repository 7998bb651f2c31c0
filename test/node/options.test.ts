import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseNodeOptions } from '../../src/node/options.js'
import { GitConfigNode } from '../../src/daemon/daemon.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'

async function withTempDir (fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'gitconfig-opts-'))
  try {
    await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

test('node options: defaults are the embedded default (./data, loopback, 8080) and the result is frozen', () => {
  const o = parseNodeOptions({})
  assert.equal(o.repo, './data')
  assert.equal(o.host, '127.0.0.1')
  assert.equal(o.httpPort, 8080)
  assert.equal(o.logLevel, 'info')
  assert.equal(o.keyBytesMax, 1024)
  assert.equal(o.valueBytesMax, 1024 * 1024)
  assert.ok(Object.isFrozen(o))
})

test('node options: unknown keys and bad values are rejected with every reason', () => {
  const bad = (input: unknown, pattern: RegExp): void => {
    assert.throws(() => parseNodeOptions(input), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'INVALID_ARGUMENT')
      assert.match(err.message, pattern)
      return true
    })
  }
  bad({ httpPrt: 1 }, /httpPrt/)
  bad({ httpPort: 70000 }, /httpPort/)
  bad({ httpPort: 1.5 }, /httpPort/)
  bad({ logLevel: 'loud' }, /logLevel/)
  bad({ valueBytesMax: 0, keyBytesMax: 'x' }, /valueBytesMax.*keyBytesMax|keyBytesMax.*valueBytesMax/)
  bad({ valueBytesMax: 4096, requestBytesMax: 2048 }, /requestBytesMax/)
  bad('not an object', /options/)
})

test('GitConfigNode validates options in its constructor, before opening anything', () => {
  assert.throws(() => new GitConfigNode({ repo: '/tmp/x', bogus: true }), (err: Error & { code?: string }) => err.code === 'INVALID_ARGUMENT')
})

test('node options: replication is off by default; bootstrap needs a p2p port; the key file defaults to the state folder', async () => {
  const o = parseNodeOptions({})
  assert.equal(o.p2pPort, undefined)
  assert.equal(o.remote, undefined)
  assert.deepEqual(o.bootstrap, [])
  assert.equal(o.syncIntervalSeconds, 30)
  assert.equal(o.p2pHost, '127.0.0.1')
  const { p2pKeyFile } = await import('../../src/node/replication.js')
  assert.equal(p2pKeyFile(parseNodeOptions({ repo: '/srv/dc1', p2pPort: 0 })), '/srv/dc1/gitconfig/p2p.key')
  assert.equal(p2pKeyFile(parseNodeOptions({ repo: '/srv/dc1', p2pPort: 0, p2pKeyFile: '/etc/k' })), '/etc/k')
  assert.throws(() => parseNodeOptions({ bootstrap: ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWCmH3RPA2CqyKci2u6CNzkNCaoWw5frgEXo37BjznyrmT'] }), /bootstrap needs p2pPort/)
  assert.throws(() => parseNodeOptions({ p2pPort: 70000 }), /p2pPort/)
  assert.throws(() => parseNodeOptions({ clusterKeyFile: '/etc/gitconfig/cluster.key' }), /clusterKeyFile needs p2pPort/)
  assert.equal(parseNodeOptions({ p2pPort: 0, clusterKeyFile: '/k' }).clusterKeyFile, '/k')
  assert.throws(() => parseNodeOptions({ syncIntervalSeconds: 0 }), /syncIntervalSeconds/)
  assert.ok(Object.isFrozen(parseNodeOptions({ p2pPort: 0, bootstrap: [] }).bootstrap))
})

test('a node with a bad bootstrap address fails to start with INVALID_ARGUMENT and releases the repository', async () => {
  await withTempDir(async (dir) => {
    const options = { repo: join(dir, 'repo'), httpPort: 0, p2pPort: 0, bootstrap: ['/ip4/127.0.0.1/udp/4001'] }
    const node = new GitConfigNode(options, { logger: pino({ level: 'silent' }) })
    await assert.rejects(node.start(), (err: Error & { code?: string }) => err.code === 'INVALID_ARGUMENT' && /bootstrap address .* needs a TCP address/.test(err.message))
    const again = new GitConfigNode({ ...options, p2pPort: undefined, bootstrap: [] }, { logger: pino({ level: 'silent' }) })
    await again.start()
    await again.stop()
  })
})

test('a replicated node refuses CAS (409 CAS_REQUIRES_STRONG_PREFIX) instead of a local, non-linearizable one', async () => {
  await withTempDir(async (dir) => {
    const remote = join(dir, 'shared.git')
    const node = new GitConfigNode({ repo: join(dir, 'repo'), httpPort: 0, remote }, { logger: pino({ level: 'silent' }) })
    await node.start()
    try {
      await assert.rejects(node.compareAndSwap('/locks/job', null, 'me'),
        (err: Error & { code?: string, status?: number }) => err.code === 'CAS_REQUIRES_STRONG_PREFIX' && err.status === 409)
      assert.equal(await node.get('/locks/job'), null)
      await node.set('/plain', 'still works')
      assert.equal(new TextDecoder().decode((await node.get('/plain'))?.value), 'still works')
    } finally {
      await node.stop()
    }
  })
})
