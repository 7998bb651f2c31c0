// The cheaper merge paths of decisions 0453-0456 against the ones they replace: a large merge written from whole
// subtrees is the very commit fast-import's per-file edits give; a big one-sided directory listed by ls-tree is
// validated like any other; a fast-forward's history read from commit objects equals git log's; an expected
// commit found in the pack index is still checked to be a commit.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { GitConfigError, GitConfigStore } from '../../src/index.js'
import { CatFile } from '../../src/gitstore/cat-file.js'
import { chainSince, parseCommitObject, readCommitObject } from '../../src/gitstore/commit-object.js'
import { mergeCommitMeta } from '../../src/gitstore/merge.js'
import { mergeEdits, planMerge } from '../../src/gitstore/merge-plan.js'
import { indexWriteChangesPerBatch, mergeFileEditsMax, mergeNewTreesMax } from '../../src/limits.js'
import { git, onCleanup, tempDir } from './helpers.js'
import { answersAbout, chunksOf, craft, inline, openReplica, pull, reopenWithoutIndex, snapshot, treeOf, type Replica } from './replication-helpers.js'

const limits = { keyBytesMax: 1024, valueBytesMax: 1024 * 1024 }

async function fill (r: Replica, prefix: string, count: number): Promise<void> {
  const writes: Array<Promise<unknown>> = []
  for (let i = 0; i < count; i++) writes.push(r.store.set(`${prefix}/k${i}`, `${prefix}-${i}`))
  await Promise.all(writes)
}

function catFileOf (t: TestContext, dir: string): CatFile {
  const cf = new CatFile(dir)
  onCleanup(t, async () => await cf.close())
  return cf
}

test('a large merge of whole subtrees is the same commit as per-file edits through fast-import would write', async (t) => {
  const a = await openReplica(t, 'node-a')
  const b = await openReplica(t, 'node-b', 1_800_000_000_050)
  await a.store.set('/shared/x', 'base')
  await pull(b.store, a.store)
  // Each side's own directory (reused whole) plus keys both sides wrote in one directory (rebuilt key by key).
  // Enough keys for the tree path and for an index write in more than one slice (decision 0458).
  const keysPerSide = Math.max(Math.ceil(mergeFileEditsMax / 2), indexWriteChangesPerBatch) + 10
  await fill(a, '/side-a', keysPerSide)
  await fill(b, '/side-b', keysPerSide)
  a.clock.advance(5)
  await a.store.set('/shared/x', 'from-a')
  await a.store.set('/shared/only-a', 'a')
  b.clock.advance(10)
  await b.store.set('/shared/x', 'from-b')
  const headA = a.store.head as string
  const headB = b.store.head as string

  // What fast-import's per-file edits give for the same merge, written into a bare copy of a's repository.
  await b.store.ingestPack(a.store.createPack({ want: [headA], have: [headB] }), { expect: [headA] })
  const cf = catFileOf(t, b.dir)
  const [ca, cb] = await Promise.all([readCommitObject(cf, headA), readCommitObject(cf, headB)])
  const plan = await planMerge(b.dir, cf, cb.tree, ca.tree, headA, limits)
  const meta = mergeCommitMeta({ commit: headB, authorTimeSec: cb.authorTimeSec }, { commit: headA, authorTimeSec: ca.authorTimeSec })
  const edits = mergeEdits(plan, meta.parents[0] === headB)
  assert.ok(edits.length > mergeFileEditsMax, `${edits.length} edits take the tree path`)
  const copy = join(await tempDir(t), 'copy.git')
  git(b.dir, 'clone', '--quiet', '--bare', b.dir, copy)
  const sig = (s: { name: string, email: string, timeSec: number }): string => `${s.name} <${s.email}> ${s.timeSec} +0000`
  const stream = `commit refs/heads/check\nmark :1\nauthor ${sig(meta.author)}\ncommitter ${sig(meta.committer)}\n` +
    `data ${Buffer.byteLength(meta.message)}\n${meta.message}\nfrom ${meta.parents[0]}\nmerge ${meta.parents[1]}\n` +
    edits.map(e => e.blob === null ? `D ${e.path}\n` : `M 100644 ${e.blob} ${e.path}\n`).join('') + '\nget-mark :1\n'
  const fi = spawnSync('git', ['--git-dir', copy, 'fast-import', '--quiet'], { input: stream })
  assert.equal(fi.status, 0, fi.stderr.toString())
  const byEdits = fi.stdout.toString().trim()

  const merged = await b.store.mergeFrom(headA)
  assert.equal(merged.outcome, 'merged')
  assert.equal(merged.head, byEdits, 'the same commit, byte for byte')
  assert.ok(existsSync(join(b.dir, 'objects', merged.head.slice(0, 2), merged.head.slice(2))), 'written by commit-tree (a loose object), not fast-import')
  assert.equal(merged.changedKeys, keysPerSide + 1) // a's side plus /shared/only-a; /shared/x stays b's
  // The other direction takes the same path and lands on the same commit.
  assert.equal((await pull(a.store, b.store)).head, merged.head)
  assert.equal(treeOf(a.dir), treeOf(b.dir))
  assert.deepEqual(await snapshot(a.store), await snapshot(b.store))
  assert.equal(new TextDecoder().decode((await b.store.get('/shared/x'))?.value), 'from-b')
  assert.equal(new TextDecoder().decode((await a.store.get(`/side-b/k${keysPerSide - 1}`))?.value), `/side-b-${keysPerSide - 1}`)
  for (const dir of [a.dir, b.dir]) git(dir, 'fsck', '--full', '--strict', '--no-dangling')

  // The sliced index write gives the answers a rebuild from git gives.
  const probe = ['/shared/x', '/shared/only-a', '/side-a/k0', `/side-a/k${keysPerSide - 1}`, '/side-b/k7']
  const answers = async (s: GitConfigStore): Promise<unknown> => await answersAbout(s, probe)
  await b.store.flush()
  const before = await answers(b.store)
  const reopened = await reopenWithoutIndex(t, b)
  assert.deepEqual(await answers(reopened), before)
})

test('a merge leaves main\'s big one-sided directories unread and lands on one commit from either side', async (t) => {
  const a = await openReplica(t, 'node-a')
  const b = await openReplica(t, 'node-b', 1_800_000_000_050)
  await a.store.set('/shared/x', 'base')
  await pull(b.store, a.store)
  // Each side's own big directory (more subdirectories than ls-tree's threshold: not listed on the side that holds
  // it), plus keys from both sides in more directories than mergeNewTreesMax, so that the side whose canonical
  // base is the foreign parent falls back to per-file edits and must list its own big directory after all.
  const dirs = mergeNewTreesMax + 6
  const writes: Array<Promise<unknown>> = []
  for (let i = 0; i < dirs; i++) {
    writes.push(a.store.set(`/own-a/k${i}`, `a${i}`), b.store.set(`/own-b/k${i}`, `b${i}`))
    writes.push(a.store.set(`/mix/d${i}/from-a`, `a${i}`), b.store.set(`/mix/d${i}/from-b`, `b${i}`))
  }
  await Promise.all(writes)
  const headA = a.store.head as string
  const headB = b.store.head as string
  // Both merge the other's original head: one of them has main as the first parent, the other the foreign head.
  await b.store.ingestPack(a.store.createPack({ want: [headA], have: [headB] }), { expect: [headA] })
  await a.store.ingestPack(b.store.createPack({ want: [headB], have: [headA] }), { expect: [headB] })
  const [intoB, intoA] = [await b.store.mergeFrom(headA), await a.store.mergeFrom(headB)]
  assert.equal(intoB.outcome, 'merged')
  assert.equal(intoA.head, intoB.head, 'the same merge commit on both sides')
  assert.equal(intoA.changedKeys, 2 * dirs)
  assert.equal(intoB.changedKeys, 2 * dirs)
  assert.deepEqual(await snapshot(a.store), await snapshot(b.store))
  assert.equal(new TextDecoder().decode((await a.store.get(`/own-a/k${dirs - 1}`))?.value), `a${dirs - 1}`)
  assert.equal(new TextDecoder().decode((await a.store.get(`/own-b/k${dirs - 1}`))?.value), `b${dirs - 1}`)
  for (const dir of [a.dir, b.dir]) git(dir, 'fsck', '--full', '--strict', '--no-dangling')
})

const meta = (i: number): string => JSON.stringify({ op: 'set', version: `1800000000${String(i).padStart(3, '0')}.0@node-evil`, expiresAtMs: null, author: 'x', raftIndex: null }) + '\n'

test('a new directory with many keys, listed in one go, is validated like any other foreign tree', async (t) => {
  const a = await openReplica(t, 'node-a')
  const b = await openReplica(t, 'node-b')
  await a.store.set('/app/name', 'demo')
  await pull(b.store, a.store)
  const base = a.store.head as string
  const many = (dir: string): string => Array.from({ length: 80 }, (_, i) => inline(`${dir}/k${i}/.meta`, meta(i)) + inline(`${dir}/k${i}/.value`, `v${i}`)).join('')
  const bad: Array<[string, string]> = [
    ['stray file deep inside', many('big') + inline('big/k7/README', 'x')],
    ['executable value deep inside', many('big') + 'M 100755 inline big/k3/.value\ndata 1\nx\n'],
    ['non-canonical key directory deep inside', many('big') + inline('big/%61/.meta', meta(1)) + inline('big/%61/.value', 'x')]
  ]
  for (const [name, edits] of bad) {
    const { commit, pack } = await craft(t, a.dir, base, edits)
    await b.store.ingestPack(chunksOf(pack), { expect: [commit] })
    const head = b.store.head
    await assert.rejects(b.store.mergeFrom(commit), (err: unknown) => {
      assert.ok(err instanceof GitConfigError && err.code === 'TRANSFER_FAILED' && err.details.reason === 'malformed', `${name}: ${String(err)}`)
      return true
    })
    assert.equal(b.store.head, head, `${name}: main did not move`)
  }
  const good = await craft(t, a.dir, base, many('big'))
  await b.store.ingestPack(chunksOf(good.pack), { expect: [good.commit] })
  const r = await b.store.mergeFrom(good.commit)
  assert.equal(r.changedKeys, 80)
  assert.equal(new TextDecoder().decode((await b.store.get('/big/k79'))?.value), 'v79')
})

test('a fast-forward over a chain of commits records the same history as git log gives', async (t) => {
  const a = await openReplica(t, 'node-a')
  const b = await openReplica(t, 'node-b')
  await a.store.set('/k', 'v0')
  await pull(b.store, a.store)
  for (let i = 1; i <= 5; i++) { a.clock.advance(1); await a.store.set('/k', `v${i}`, { author: `client-${i}` }) }
  const cf = catFileOf(t, a.dir)
  const chain = await chainSince(cf, await readCommitObject(cf, a.store.head as string), b.store.head as string, 64)
  assert.equal(chain?.length, 5, 'five single-parent commits on top of b\'s head')
  assert.ok(chain?.every(c => c.plain))
  assert.equal((await pull(b.store, a.store)).outcome, 'fast-forward')
  assert.deepEqual(await b.store.history('/k'), await a.store.history('/k'))
  assert.equal((await b.store.history('/k')).length, 6)
})

test('commit objects: plain ones give git log\'s subject and body; anything else is left to git', () => {
  const id = 'a'.repeat(40)
  const head = `tree ${'b'.repeat(40)}\nparent ${'c'.repeat(40)}\nauthor A <a@x> 1700000000 +0000\ncommitter C <c@x> 1700000005 +0000\n`
  const plain = parseCommitObject(id, Buffer.from(`${head}\nset /k\n\nGitConfig-Change: {}\n`))
  assert.deepEqual(plain && { ...plain }, {
    id, tree: 'b'.repeat(40), parents: ['c'.repeat(40)], authorTimeSec: 1700000000, committerTimeSec: 1700000005,
    subject: 'set /k', body: 'GitConfig-Change: {}\n', plain: true
  })
  assert.equal(parseCommitObject(id, Buffer.from(`${head}\nline one\nline two\n\nbody\n`))?.subject, 'line one line two')
  assert.equal(parseCommitObject(id, Buffer.from(`${head}\nline one\nline two\n`))?.plain, false, 'a two-line subject')
  assert.equal(parseCommitObject(id, Buffer.from(`${head}encoding ISO-8859-1\n\nsubject\n`))?.plain, false, 'an encoding header')
  assert.equal(parseCommitObject(id, Buffer.from('not a commit')), null)
})

test('an expected id that the pack holds as a blob is refused as incomplete; the repository stays sound', async (t) => {
  const a = await openReplica(t, 'node-a')
  const b = await openReplica(t, 'node-b')
  await a.store.set('/k', 'v')
  await pull(b.store, a.store)
  a.clock.advance(1)
  await a.store.set('/k', 'a blob nobody else has')
  const blob = git(a.dir, 'rev-parse', 'main:k/.value').trim()
  const pack = spawnSync('git', ['--git-dir', a.dir, 'pack-objects', '--stdout', '--quiet'], { input: `${blob}\n` }).stdout
  const head = b.store.head
  await assert.rejects(b.store.ingestPack(chunksOf(pack), { expect: [blob] }), { code: 'TRANSFER_FAILED' })
  assert.equal(await b.store.hasCommit(blob), false)
  await assert.rejects(b.store.mergeFrom(blob), { code: 'UNKNOWN_COMMIT' })
  assert.equal(b.store.head, head)
  git(b.dir, 'fsck', '--full', '--strict', '--no-dangling')
})
