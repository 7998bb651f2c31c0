import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { git, tempDir, text } from './helpers.js'
import { openReplica, pull, snapshot, treeOf, type Replica } from './replication-helpers.js'

async function writeSome (r: Replica, name: string): Promise<void> {
  r.clock.advance(7)
  await r.store.set(`/own/${name}`, name)
  await r.store.set('/shared/last-writer', name)
  await r.store.set(`/shared/${name}/tmp`, 'x', { ttlMs: 3_600_000 })
  await r.store.delete(`/shared/${name}/tmp`)
}

test('three stores merging in different orders hold the same tree and the same head, and further exchanges commit nothing', async (t) => {
  const a = await openReplica(t, 'node-a', 1_800_000_000_000)
  const b = await openReplica(t, 'node-b', 1_800_000_000_003)
  const c = await openReplica(t, 'node-c', 1_800_000_000_005)
  await a.store.set('/shared/seed', 'seed')
  await pull(b.store, a.store)
  await pull(c.store, a.store)
  await writeSome(a, 'a')
  await writeSome(b, 'b')
  await writeSome(c, 'c')
  const heads = { a: a.store.head as string, b: b.store.head as string, c: c.store.head as string }
  const send = async (to: Replica, head: string, from: Replica): Promise<void> => {
    await to.store.ingestPack(from.store.createPack({ want: [head], have: [to.store.head as string] }), { expect: [head] })
    await to.store.mergeFrom(head)
  }
  // Round one, each in its own order: a takes b then c, b takes c then a, c takes a then b.
  await send(a, heads.b, b); await send(a, heads.c, c)
  await send(b, heads.c, c); await send(b, heads.a, a)
  await send(c, heads.a, a); await send(c, heads.b, b)
  assert.equal(treeOf(a.dir), treeOf(b.dir))
  assert.equal(treeOf(a.dir), treeOf(c.dir))
  const expected = await snapshot(a.store)
  assert.deepEqual(await snapshot(b.store), expected)
  assert.deepEqual(await snapshot(c.store), expected)
  assert.equal(text((await a.store.get('/shared/last-writer'))?.value), 'c', 'the latest version wins everywhere')
  // The same writes give the same head, whatever the order they were merged in (issue 12: before, each node held
  // a merge of a different pair of heads, and every further exchange made new merges).
  assert.equal(b.store.head, a.store.head)
  assert.equal(c.store.head, a.store.head)
  // Another exchange commits nothing.
  for (const [to, from] of [[a, b], [a, c], [b, a], [b, c], [c, a], [c, b]]) assert.equal((await pull(to.store, from.store)).outcome, 'contained')
  assert.equal(git(a.dir, 'log', '--format=%P', '-1').trim().split(' ').length, 3, 'one merge commit joins the three write commits')
  for (const r of [a, b, c]) git(r.dir, 'fsck', '--full', '--strict', '--no-dangling')
})

test('two stores converge through a shared bare remote with push and fetch', async (t) => {
  const remote = join(await tempDir(t), 'shared.git')
  git(await tempDir(t), 'init', '--quiet', '--bare', remote)
  const a = await openReplica(t, 'node-a')
  const b = await openReplica(t, 'node-b', 1_800_000_000_009)
  await b.store.pushToRemote(remote) // an empty store has nothing to push
  assert.deepEqual(await a.store.fetchFromRemote(remote), [])
  await a.store.set('/from/a', '1')
  await b.store.set('/from/b', '2')
  const sync = async (r: Replica): Promise<void> => {
    for (const head of await r.store.fetchFromRemote(remote)) await r.store.mergeFrom(head)
    await r.store.pushToRemote(remote)
  }
  await sync(a) // pushes a's main
  await sync(b) // merges a's, pushes the merge
  await sync(a) // fast-forwards to b's merge
  assert.equal(a.store.head, b.store.head)
  assert.deepEqual(await snapshot(a.store), [['/from/a', '1'], ['/from/b', '2']])
  const branches = git(remote, 'for-each-ref', '--format=%(refname) %(objectname)').trim().split('\n')
  assert.deepEqual(branches, [`refs/heads/gitconfig/node-a ${a.store.head as string}`, `refs/heads/gitconfig/node-b ${b.store.head as string}`])
  await assert.rejects(a.store.pushToRemote('--upload-pack=touch /tmp/x'), { code: 'INVALID_ARGUMENT' })
  await assert.rejects(a.store.fetchFromRemote(join(remote, 'missing.git')), { code: 'TRANSFER_FAILED' })
})
