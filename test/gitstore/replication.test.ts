import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { GitConfigStore } from '../../src/index.js'
import type { GroupCommitter } from '../../src/gitstore/group-commit.js'
import { eventually, git, onCleanup, take, text } from './helpers.js'
import { answersAbout, openReplica, pull, reopenWithoutIndex, snapshot, treeOf } from './replication-helpers.js'

test('divergent writes on two stores merge to the same commit and tree on both, whichever merges first', async (t) => {
  const a = await openReplica(t, 'node-a')
  const b = await openReplica(t, 'node-b', 1_800_000_000_050)
  await a.store.set('/common', 'base')
  await a.store.set('/app/db/port', '5432')
  assert.equal((await pull(b.store, a.store)).outcome, 'fast-forward')
  // Both fast-imports are running now, so the merges below need objects that arrived after they started.
  a.clock.advance(10)
  await a.store.set('/app/db', 'a-db')
  await a.store.set('/app/db/host', 'a-host') // a key and its prefix, both with values
  await a.store.delete('/common')
  await a.store.set('/ttl', 'short-lived', { ttlMs: 3_600_000 })
  await a.store.delete('/app/db/port')
  b.clock.advance(10)
  await b.store.set('/app/db', 'b-db') // later clock than a's write: wins
  await b.store.set('/app', 'b-app')
  await b.store.set('/b/only', 'b')
  await b.store.set('/app/db/port', '6543') // later than a's delete: the write wins
  const headA = a.store.head as string
  const headB = b.store.head as string

  // Each side merges the other's head it has now: the merges happen in opposite directions.
  const pidOf = (s: GitConfigStore): number | undefined => (s as unknown as { committer: GroupCommitter }).committer.fastImportPid
  const pids = [pidOf(a.store), pidOf(b.store)]
  const onA = await pull(a.store, b.store)
  await b.store.ingestPack(a.store.createPack({ want: [headA], have: [headB] }), { expect: [headA] })
  const onB = await b.store.mergeFrom(headA)
  assert.deepEqual([pidOf(a.store), pidOf(b.store)], pids, 'the same fast-import processes wrote the merges')
  assert.equal(onA.outcome, 'merged')
  assert.equal(onB.outcome, 'merged')
  assert.equal(onA.head, onB.head, 'the same merge commit on both nodes')
  assert.equal(a.store.head, b.store.head)
  assert.equal(treeOf(a.dir), treeOf(b.dir))
  assert.equal(onA.changedKeys, 4) // /app, /app/db, /app/db/port, /b/only
  assert.equal(onB.changedKeys, 3) // /app/db/host, /common (its tombstone), /ttl
  const parents = git(a.dir, 'log', '-1', '--format=%P', 'main').trim().split(' ')
  assert.deepEqual(parents, [headA, headB].sort(), 'parents in canonical (sorted) order')

  const expected: Array<[string, string]> = [
    ['/app', 'b-app'], ['/app/db', 'b-db'], ['/app/db/host', 'a-host'], ['/app/db/port', '6543'], ['/b/only', 'b'], ['/ttl', 'short-lived']
  ]
  assert.deepEqual(await snapshot(a.store), expected)
  assert.deepEqual(await snapshot(b.store), expected)
  assert.equal(await b.store.get('/common'), null, 'the delete from a holds on b')
  assert.equal((await b.store.get('/ttl'))?.expiresAtMs, (await a.store.get('/ttl'))?.expiresAtMs)

  // Exchanging again changes nothing.
  assert.deepEqual(await pull(a.store, b.store), { head: onA.head, outcome: 'contained', changedKeys: 0 })
  assert.deepEqual(await pull(b.store, a.store), { head: onA.head, outcome: 'contained', changedKeys: 0 })
  for (const dir of [a.dir, b.dir]) git(dir, 'fsck', '--full', '--strict', '--no-dangling')

  // Local writes go on from the merge commit.
  const after = await b.store.set('/after', 'x')
  assert.equal(git(b.dir, 'log', '-1', '--format=%P', after.commit).trim(), onA.head)
})

test('a store that is behind fast-forwards, an empty store included; contained heads are a no-op', async (t) => {
  const a = await openReplica(t, 'node-a')
  const b = await openReplica(t, 'node-b')
  const w1 = await a.store.set('/x', '1', { author: 'alice' })
  const w2 = await a.store.set('/y', '2')
  const ff = await pull(b.store, a.store)
  assert.deepEqual(ff, { head: w2.commit, outcome: 'fast-forward', changedKeys: 2 })
  assert.equal(b.store.head, a.store.head)
  assert.deepEqual((await b.store.history('/x')).map((h) => [h.commit, h.author, h.op]), [[w1.commit, 'alice', 'set']])
  assert.equal((await b.store.get('/x'))?.commit, w1.commit, 'get names the commit that wrote the value')

  // b writes on top of the fast-forwarded main (its fast-import must continue from there), a fast-forwards back.
  const w3 = await b.store.set('/x', '3')
  assert.equal(git(b.dir, 'log', '-1', '--format=%P', w3.commit).trim(), w2.commit)
  assert.equal((await pull(a.store, b.store)).outcome, 'fast-forward')
  assert.equal(text((await a.store.get('/x'))?.value), '3')
  assert.deepEqual((await a.store.history('/x')).map((h) => h.commit), [w3.commit, w1.commit])
  assert.deepEqual(await pull(b.store, a.store), { head: w3.commit, outcome: 'contained', changedKeys: 0 })
  assert.equal(text((await a.store.get('/x', { commit: w1.commit }))?.value), '1')
})

test('watchers get one event per merged key, with the new head; history lists the foreign commits', async (t) => {
  const a = await openReplica(t, 'node-a')
  const b = await openReplica(t, 'node-b', 1_800_000_000_100)
  await a.store.set('/w/base', '0')
  await pull(b.store, a.store)
  const sa = await a.store.set('/w/a', '1')
  await a.store.set('/w/a', '2')
  const sb = await b.store.set('/w/b', '3')
  await b.store.set('/elsewhere', 'x')
  const watch = a.store.watch('/w', { recursive: true })[Symbol.asyncIterator]()
  const commits: string[] = []
  a.store.onCommit((e) => commits.push(e.commit))
  const merged = await pull(a.store, b.store)
  const events = await take(watch, 1)
  assert.deepEqual(events.map((e) => [e.key, e.op, text(e.value), e.commit]), [['/w/b', 'set', '3', merged.head]])
  // Nothing else arrives for the merge: the next event is the next local write.
  const next = await a.store.set('/w/c', '4')
  assert.deepEqual((await take(watch, 1)).map((e) => [e.key, e.commit]), [['/w/c', next.commit]])
  await watch.return?.()
  assert.deepEqual(commits, [merged.head, next.commit], 'one commit event for the merge')
  assert.deepEqual((await a.store.history('/w/b')).map((h) => h.commit), [sb.commit])
  assert.equal((await a.store.history('/w/a')).at(-1)?.commit, sa.commit)
  // A watch resumed from before the merge replays it once too.
  const replay = a.store.watch('/w/b', { since: sa.commit })[Symbol.asyncIterator]()
  assert.deepEqual((await take(replay, 1)).map((e) => [e.key, e.commit]), [['/w/b', merged.head]])
  await replay.return?.()
})

test('after merges, an index rebuilt from git gives the same answers', async (t) => {
  const a = await openReplica(t, 'node-a')
  const b = await openReplica(t, 'node-b', 1_800_000_000_007)
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 5; i++) {
      a.clock.advance(3)
      await a.store.set(`/k${i}`, `a${round}.${i}`, i === 4 ? { ttlMs: 3_600_000 } : undefined)
      b.clock.advance(5)
      if (i % 2 === 0) await b.store.set(`/k${i}`, `b${round}.${i}`)
      else await b.store.delete(`/k${i}`)
    }
    await pull(a.store, b.store)
    await pull(b.store, a.store)
  }
  assert.equal(a.store.head, b.store.head)
  const keys = Array.from({ length: 5 }, (_, i) => `/k${i}`)
  const answers = async (s: GitConfigStore): Promise<unknown> => await answersAbout(s, keys)
  await a.store.flush()
  const before = await answers(a.store)
  assert.deepEqual(before, await answers(b.store), 'both nodes answer alike')
  const reopened = await reopenWithoutIndex(t, a)
  assert.deepEqual(await answers(reopened), before)
})

test('a tombstone wins over an older set from the other side, and a newer set wins over an older delete', async (t) => {
  const a = await openReplica(t, 'node-a')
  const b = await openReplica(t, 'node-b')
  await a.store.set('/gone', 'v0')
  await a.store.set('/back', 'v0')
  await pull(b.store, a.store)
  b.clock.advance(100)
  await b.store.set('/gone', 'older set') // t+100 on b
  await b.store.delete('/back') // t+100 on b
  a.clock.advance(200)
  await a.store.delete('/gone') // t+200 on a: newer than b's set
  await a.store.set('/back', 'newer set') // t+200 on a: newer than b's delete
  await pull(a.store, b.store)
  await pull(b.store, a.store)
  for (const s of [a.store, b.store]) {
    assert.equal(await s.get('/gone'), null)
    assert.equal(text((await s.get('/back'))?.value), 'newer set')
  }
  assert.equal(a.store.head, b.store.head)
})

test('an expiry is committed once, by the writing node; another node hides the value and takes over only when the writer is silent', async (t) => {
  const a = await openReplica(t, 'node-a')
  const b = await openReplica(t, 'node-b')
  await a.store.set('/lease', 'held', { ttlMs: 1000 })
  await pull(b.store, a.store)
  const bBefore = b.store.head
  a.clock.advance(1000)
  b.clock.advance(1000)
  await a.store.expireNow()
  await b.store.expireNow()
  assert.equal((await a.store.history('/lease'))[0]?.op, 'expire', 'the writer commits the expiry')
  assert.equal(await b.store.get('/lease'), null, 'the other node reads it as absent before any expiry commit')
  assert.equal(b.store.head, bBefore, 'and leaves the commit to the writer')
  assert.equal((await pull(b.store, a.store)).outcome, 'fast-forward')
  assert.equal(b.store.head, a.store.head, 'one expiry commit, the same on both')
  assert.equal((await b.store.history('/lease')).filter((h) => h.op === 'expire').length, 1, 'one expiry in history')

  // A writer that stays silent: b takes over once expiryTakeoverMs (default 30 s) has passed after the deadline.
  await a.store.set('/lease2', 'held', { ttlMs: 1000 })
  await pull(b.store, a.store)
  a.clock.advance(1000 + 29_000)
  b.clock.advance(1000 + 29_000)
  await b.store.expireNow()
  assert.equal(b.store.head, a.store.head, 'within the takeover time b still waits')
  b.clock.advance(1_000)
  await b.store.expireNow()
  const onB = await b.store.history('/lease2')
  assert.equal(onB[0]?.op, 'expire')
  assert.equal(onB[0]?.commit, b.store.head)
  // The writer's own expiry, made independently, is the identical tombstone: the two merge to one entry.
  await a.store.expireNow()
  const onA = await pull(a.store, b.store)
  assert.deepEqual([onA.outcome, onA.changedKeys], ['merged', 0], 'the same tombstone on both sides: nothing changes')
  assert.equal((await pull(b.store, a.store)).outcome, 'fast-forward')
  assert.equal(treeOf(a.dir), treeOf(b.dir))
  assert.equal(a.store.head, b.store.head)
})

test('local writes made while a merge runs are all acknowledged and present', async (t) => {
  const a = await openReplica(t, 'node-a')
  const b = await openReplica(t, 'node-b')
  for (let i = 0; i < 300; i++) void a.store.set(`/many/k${i}`, `a${i}`)
  await a.store.flush()
  await b.store.set('/b/first', 'x')
  const head = a.store.head as string
  await b.store.ingestPack(a.store.createPack({ want: [head], have: [] }), { expect: [head] })
  const writes: Array<Promise<unknown>> = []
  const merge = b.store.mergeFrom(head)
  for (let i = 0; i < 200; i++) writes.push(b.store.set(`/local/k${i}`, `b${i}`))
  const results = await Promise.allSettled([merge, ...writes])
  assert.deepEqual(results.filter((r) => r.status === 'rejected'), [])
  const all = new Map(await snapshot(b.store))
  for (let i = 0; i < 300; i++) assert.equal(all.get(`/many/k${i}`), `a${i}`)
  for (let i = 0; i < 200; i++) assert.equal(all.get(`/local/k${i}`), `b${i}`)
  git(b.dir, 'fsck', '--full', '--strict', '--no-dangling')
})

test('a queued local write that a merge brings a higher version of is committed for its history, not over the merged entry', async (t) => {
  const a = await openReplica(t, 'node-a', 1_800_000_001_000) // a's clock is ahead: its write is newer
  const b = await openReplica(t, 'node-b', 1_800_000_000_000)
  await a.store.set('/k', 'newer on a')
  await b.store.set('/other', 'x')
  const head = a.store.head as string
  await b.store.ingestPack(a.store.createPack({ want: [head], have: [] }), { expect: [head] })
  // Hold b's writer so that b's write is still queued when the merge runs (the merge goes ahead of queued writes).
  const committer = (b.store as unknown as { committer: GroupCommitter }).committer
  let release: (() => void) | null = null
  const held = committer.runExclusive(async () => await new Promise<void>((resolve) => { release = resolve }))
  const local = b.store.set('/k', 'older on b')
  const merge = b.store.mergeFrom(head)
  // Once the holding task runs (release is set), the only exclusive task still waiting is the merge.
  const releaseWriter = await eventually(async () => release !== null && (committer as unknown as { exclusive: unknown[] }).exclusive.length > 0 ? release : undefined)
  releaseWriter()
  await held
  const merged = await merge
  const write = await local
  // Issue 13.6: the write is acknowledged, so it is a commit of its own (its history row names it) on top of the
  // merge, and the tree keeps the higher merged version. (Before, it was dropped and answered with the merge.)
  assert.notEqual(write.commit, merged.head)
  assert.equal(git(b.dir, 'rev-parse', `${write.commit}^`).trim(), merged.head)
  assert.equal(text((await b.store.get('/k'))?.value), 'newer on a')
  assert.equal(text((await b.store.get('/k', { commit: write.commit }))?.value), 'newer on a')
  const history = await b.store.history('/k')
  assert.deepEqual(history.map((h) => [h.node, h.op]), [['node-a', 'set'], ['node-b', 'set']])
  assert.equal(history[1].commit, write.commit)
  assert.match(git(b.dir, 'log', '-1', '--format=%B', write.commit), /"key":"\/k".*"node":"node-b"/)
  // The commit changed no file: the merged entry stays in the tree.
  assert.equal(git(b.dir, 'diff-tree', '--no-commit-id', '-r', write.commit).trim(), '')
  // A write made after the merge orders after the merged version and wins.
  const later = await b.store.set('/k', 'after the merge')
  assert.ok(later.version.wallMs >= 1_800_000_001_000)
  assert.equal(text((await b.store.get('/k'))?.value), 'after the merge')
})

test('an index left behind a merge (its write lost in a crash) catches up to the same answers', async (t) => {
  // Which parent comes first depends on the commit ids; with fixed clocks each variant is deterministic, and the
  // variants are tried until the merge has come out both ways (local head first, foreign head first).
  const seen = new Set<string>()
  for (let variant = 0; variant < 12 && seen.size < 2; variant++) {
    const a = await openReplica(t, 'node-a')
    const b = await openReplica(t, 'node-b', 1_800_000_000_011 + variant)
    await a.store.set('/s/base', '0')
    await pull(b.store, a.store)
    for (let i = 0; i < 4; i++) {
      a.clock.advance(5)
      await a.store.set(`/s/k${i}`, `a${i}`)
      b.clock.advance(3)
      await b.store.set(`/s/k${(i + 1) % 4}`, `b${i}`, { ttlMs: 3_600_000 })
    }
    await a.store.delete('/s/base')
    // b's index as of before the merge, kept aside (copied while the store is closed).
    await b.store.close()
    const saved = join(b.dir, '..', 'index-before-merge')
    await cp(join(b.dir, 'gitconfig', 'index'), saved, { recursive: true })
    const b2 = await GitConfigStore.open(b.dir, { maintenance: false, clock: b.clock.read })
    onCleanup(t, () => b2.close())
    const headBefore = b2.head
    const merged = await pull(b2, a.store)
    await pull(a.store, b2)
    assert.equal(a.store.head, merged.head)
    const order = git(b.dir, 'log', '-1', '--format=%P', merged.head).trim().split(' ')[0] === headBefore ? 'local first' : 'foreign first'
    if (seen.has(order)) continue
    seen.add(order)
    await b2.close()
    await rm(join(b.dir, 'gitconfig', 'index'), { recursive: true })
    await cp(saved, join(b.dir, 'gitconfig', 'index'), { recursive: true })
    const b3 = await GitConfigStore.open(b.dir, { maintenance: false, clock: b.clock.read })
    onCleanup(t, () => b3.close())
    await a.store.flush()
    const keys = ['/s/base', '/s/k0', '/s/k1', '/s/k2', '/s/k3']
    const answers = async (s: GitConfigStore): Promise<unknown> => ({
      list: await snapshot(s),
      gets: await Promise.all(keys.map(async (k) => await s.get(k))),
      history: await Promise.all(keys.map(async (k) => await s.history(k)))
    })
    assert.deepEqual(await answers(b3), await answers(a.store), order)
  }
  assert.equal(seen.size, 2, 'both parent orders were exercised')
})

test('an index left on a canonical merge that main has moved past (not an ancestor) catches up without a rebuild', async (t) => {
  const a = await openReplica(t, 'node-a')
  const b = await openReplica(t, 'node-b', 1_800_000_000_003)
  const c = await openReplica(t, 'node-c', 1_800_000_000_005)
  await a.store.set('/a', '1', { ttlMs: 3_600_000 })
  await b.store.set('/b', '1')
  const m1 = (await pull(a.store, b.store)).head
  await a.store.close()
  const saved = join(a.dir, '..', 'index-at-m1')
  await cp(join(a.dir, 'gitconfig', 'index'), saved, { recursive: true })
  let a2 = await GitConfigStore.open(a.dir, { maintenance: false, clock: a.clock.read })
  onCleanup(t, () => a2.close())
  await c.store.set('/c', '1')
  await c.store.set('/a', 'from c') // a newer version of a's key: replaces it (and its deadline)
  const m2 = (await pull(a2, c.store)).head
  // main (m2) joins a's, b's and c's writes; m1 is not its ancestor.
  assert.throws(() => git(a.dir, 'merge-base', '--is-ancestor', m1, m2))
  const expected = await answersAbout(a2, ['/a', '/b', '/c'])
  // The index as it was at m1 (m2's index write lost in a crash), then reopen.
  await a2.close()
  await rm(join(a.dir, 'gitconfig', 'index'), { recursive: true })
  await cp(saved, join(a.dir, 'gitconfig', 'index'), { recursive: true })
  a2 = await GitConfigStore.open(a.dir, { maintenance: false, clock: a.clock.read })
  onCleanup(t, () => a2.close())
  assert.deepEqual(await answersAbout(a2, ['/a', '/b', '/c']), expected)
  // Not a rebuild: the change log still holds m1, so a watch resumes from it and sees what came after.
  const events = await take(a2.watch('/', { recursive: true, since: m1 }), 2)
  assert.deepEqual(events.map((e) => [e.key, text(e.value), e.commit]), [['/a', 'from c', m2], ['/c', '1', m2]])
})
