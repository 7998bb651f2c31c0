import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseGitVersion } from '../../src/gitstore/git-process.js'
import { geometricSplit, type Maintenance } from '../../src/gitstore/maintenance.js'
import { packLookups } from '../../src/gitstore/pack-lookups.js'
import type { GitConfigStore } from '../../src/index.js'
import { eventually, git, onCleanup, openTempStore, tempDir, text } from './helpers.js'
import { pull } from './replication-helpers.js'

const packCount = async (dir: string): Promise<number> =>
  (await readdir(join(dir, 'objects', 'pack'))).filter((n) => n.endsWith('.pack')).length

test('maintenance restarts fast-import, folds its packs and writes the commit-graph without losing writes', async (t) => {
  const { store, dir } = await openTempStore(t, { maintenance: true, maintenanceCommits: 10 })
  const firstPid = store['committer'].fastImportPid
  for (let i = 0; i < 25; i++) await store.set(`/m/k${i % 7}`, String(i))
  const report = await store.maintenanceSettled()
  assert.deepEqual(report, { ok: true, message: 'repacked and wrote the commit-graph' })
  assert.notEqual(store['committer'].fastImportPid, firstPid, 'fast-import was restarted for the maintenance window')
  // 25 checkpoints made 25 packs; the geometric repack folded the released ones.
  assert.ok(await packCount(dir) < 25, `packs: ${await packCount(dir)}`)
  const graphs = await readdir(join(dir, 'objects', 'info', 'commit-graphs')).catch(() => [] as string[])
  assert.ok(graphs.some((n) => n.endsWith('.graph')), graphs.join(','))
  for (let i = 18; i < 25; i++) assert.equal(text((await store.get(`/m/k${i % 7}`))?.value), String(i))
  assert.equal((await store.history('/m/k0')).length, 4)
  git(dir, 'fsck', '--full', '--strict')
})

test('a node that only receives (no local commit) still folds the packs its peer sends', async (t) => {
  const writer = await openTempStore(t, { maintenance: false })
  const replica = await openTempStore(t, { maintenance: true, maintenanceCommits: 5 })
  for (let i = 0; i < 12; i++) {
    await writer.store.set(`/r/k${i}`, String(i))
    await pull(replica.store, writer.store) // one pack (and a fast-forward) per replicated head
  }
  const report = await replica.store.maintenanceSettled()
  assert.deepEqual(report, { ok: true, message: 'repacked and wrote the commit-graph' })
  assert.ok(await packCount(replica.dir) < 12, `packs: ${await packCount(replica.dir)}`)
  assert.equal(text((await replica.store.get('/r/k11'))?.value), '11')
  git(replica.dir, 'fsck', '--full', '--strict')
})

test('a node that only fetches from a shared remote (no local commit) still folds what it fetched', async (t) => {
  const remote = join(await tempDir(t), 'shared.git')
  git(await tempDir(t), 'init', '--quiet', '--bare', remote)
  const writer = await openTempStore(t, { maintenance: false })
  const replica = await openTempStore(t, { maintenance: true, maintenanceCommits: 3 })
  for (let i = 0; i < 5; i++) {
    await writer.store.set(`/r/k${i}`, String(i))
    await writer.store.pushToRemote(remote)
    for (const head of await replica.store.fetchFromRemote(remote)) await replica.store.mergeFrom(head)
    assert.deepEqual(await replica.store.fetchFromRemote(remote), [writer.store.head], 'a fetch that brings nothing')
  }
  const report = await replica.store.maintenanceSettled()
  assert.deepEqual(report, { ok: true, message: 'repacked and wrote the commit-graph' })
  assert.equal(text((await replica.store.get('/r/k4'))?.value), '4')
  git(replica.dir, 'fsck', '--full', '--strict')
})

/**
 * The `.pack`/`.idx` files of the repository that the store's git processes (those whose command line has `only`,
 * when given) still map after git deleted them.
 */
async function deletedPackMappings (dir: string, only?: string): Promise<number> {
  let count = 0
  for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8')
      if (!cmdline.includes(dir) || (only !== undefined && !cmdline.includes(only))) continue
      const maps = await readFile(`/proc/${pid}/maps`, 'utf8')
      count += maps.split('\n').filter((l) => /\.(pack|idx) \(deleted\)$/.test(l)).length
    } catch {
      // the process ended meanwhile
    }
  }
  return count
}

test('reads keep working across maintenance rounds, and cat-file lets go of the packs a repack deleted', { skip: process.platform !== 'linux' && 'reads /proc' }, async (t) => {
  const { store, dir } = await openTempStore(t, { maintenance: true, maintenanceCommits: 5 })
  for (let i = 0; i < 60; i++) {
    const { commit } = await store.set(`/m/k${i % 9}`, String(i))
    // Reads at a commit go through cat-file: they map the packs as they are now.
    const [atCommit, history] = await Promise.all([store.get(`/m/k${i % 9}`, { commit }), store.history(`/m/k${i % 9}`)])
    assert.equal(text(atCommit?.value), String(i))
    assert.equal(history[0].commit, commit)
  }
  await store.maintenanceSettled()
  for (let i = 51; i < 60; i++) assert.equal(text((await store.get(`/m/k${i % 9}`, { commit: store.head as string }))?.value), String(i))
  // cat-file only: the fast-import a window has just started may map packs the round then deletes, until the next
  // window replaces it (decision 0464), so at most one round's worth and never growing. A cat-file the last round
  // retired exits once it has answered: wait for that, not for a fixed time (counted at once, it failed 1 run in 40).
  await eventually(async () => await deletedPackMappings(dir, 'cat-file') === 0 ? true : undefined)
})

test('a node that mostly receives lets go of deleted packs too, in cat-file and in fast-import', { skip: process.platform !== 'linux' && 'reads /proc' }, async (t) => {
  const writer = await openTempStore(t, { maintenance: false })
  const replica = await openTempStore(t, { maintenance: true, maintenanceCommits: 5 })
  for (let i = 0; i < 40; i++) {
    await writer.store.set(`/r/k${i}`, String(i))
    // A few local writes, so that fast-import builds merge commits from trees it reads out of the packs.
    if (i % 9 === 4) await replica.store.set(`/own/k${i}`, 'x')
    await pull(replica.store, writer.store)
  }
  await replica.store.maintenanceSettled()
  await pull(replica.store, writer.store) // the loop replaces fast-import before its next task
  assert.equal(text((await replica.store.get('/r/k39'))?.value), '39')
  // Retired processes exit once they have answered (see above).
  await eventually(async () => await deletedPackMappings(replica.dir) === 0 ? true : undefined)
  git(replica.dir, 'fsck', '--full', '--strict')
})

const maintenanceOf = (store: GitConfigStore): Maintenance => (store as unknown as { maintenance: Maintenance }).maintenance
const startRound = (store: GitConfigStore): void => { (store as unknown as { startMaintenance: () => void }).startMaintenance() }
const packFiles = async (dir: string): Promise<string[]> => (await readdir(join(dir, 'objects', 'pack'))).filter((n) => /\.(pack|idx)$/.test(n)).sort()

test('a round deletes the packs it folded only once the lookups in flight when its new pack appeared are answered', async (t) => {
  const writer = await openTempStore(t, { maintenance: false })
  const replica = await openTempStore(t, { maintenance: true, maintenanceCommits: 1_000_000 })
  for (let i = 0; i < 6; i++) {
    await writer.store.set(`/r/k${i}`, String(i))
    await pull(replica.store, writer.store)
  }
  const before = await packFiles(replica.dir)
  // A lookup that git may have started before the new pack existed, held open by the test (repack-race.test.ts
  // drives a real one through fast-import).
  let answerFirst = (): void => {}
  const lookups = packLookups(replica.dir)
  void lookups.track(new Promise<void>((resolve) => { answerFirst = resolve }))
  startRound(replica.store)
  const maintenance = maintenanceOf(replica.store)
  await eventually(async () => maintenance.waitingForLookups ? true : undefined)
  const during = await packFiles(replica.dir)
  assert.ok(during.length > before.length, 'the new pack is written')
  assert.deepEqual(before.filter((n) => !during.includes(n)), [], 'no pack is deleted while the lookup is in flight')
  // Reads and merges go on meanwhile, and a lookup that starts now is not waited for.
  let answerLater = (): void => {}
  void lookups.track(new Promise<void>((resolve) => { answerLater = resolve }))
  onCleanup(t, () => { answerFirst(); answerLater() }) // a failed assertion must not leave the round waiting
  await writer.store.set('/r/later', 'x')
  await pull(replica.store, writer.store)
  assert.equal(text((await replica.store.get('/r/later'))?.value), 'x')
  answerFirst()
  assert.deepEqual(await replica.store.maintenanceSettled(), { ok: true, message: 'repacked and wrote the commit-graph' })
  answerLater()
  const after = await packFiles(replica.dir)
  assert.ok(before.some((n) => !after.includes(n)), `the folded packs are gone: ${after.join(' ')}`)
  for (let i = 0; i < 6; i++) assert.equal(text((await replica.store.get(`/r/k${i}`))?.value), String(i))
  git(replica.dir, 'fsck', '--full', '--strict')
})

test('the geometric split folds what git repack --geometric=2 folds', () => {
  assert.equal(geometricSplit([], 2), 0)
  assert.equal(geometricSplit([7], 2), 0)
  assert.equal(geometricSplit([1, 2, 4, 8], 2), 0, 'already a progression')
  assert.equal(geometricSplit([5, 5], 2), 2)
  assert.equal(geometricSplit([1, 1, 1, 1, 8, 32], 2), 4, 'the four light ones; 8 >= 2 x 4 stays')
  assert.equal(geometricSplit([1, 1, 1, 1, 7, 32], 2), 5, 'the new pack of 4 makes 7 too light to stay')
  assert.equal(geometricSplit([3, 3, 3, 20, 21], 2), 5, 'all of them when the heaviest pair breaks the progression')
})

test('git versions are parsed, vendor suffixes included', () => {
  assert.deepEqual(parseGitVersion('git version 2.39.5'), [2, 39])
  assert.deepEqual(parseGitVersion('git version 2.45.1.windows.1'), [2, 45])
  assert.equal(parseGitVersion('not git'), null)
})

test('onCommit reports every durable commit in order; readTree returns tombstones too', async (t) => {
  const { store } = await openTempStore(t)
  const seen: Array<{ commit: string, seq: number, keys: string[] }> = []
  const off = store.onCommit((e) => seen.push({ commit: e.commit, seq: e.seq, keys: e.changes.map((c) => c.key) }))
  const a = await store.set('/t/a', '1')
  const [b] = await Promise.all([store.set('/t/b', '2'), store.delete('/t/a')])
  off()
  await store.set('/t/c', '3')
  assert.deepEqual(seen.map((s) => s.commit), [a.commit, b.commit])
  assert.equal(seen[1].seq, seen[0].seq + 1)
  assert.deepEqual(seen[1].keys.sort(), ['/t/a', '/t/b'])
  const tree = await store.readTree(b.commit)
  assert.deepEqual([...tree.keys()].sort(), ['/t/a', '/t/b'])
  assert.equal(tree.get('/t/a')?.valueOid, null)
  assert.equal(tree.get('/t/a')?.meta.op, 'delete')
  assert.equal(typeof tree.get('/t/b')?.valueOid, 'string')
})
