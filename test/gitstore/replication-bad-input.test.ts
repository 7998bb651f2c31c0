import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { GitConfigError, GitConfigStore } from '../../src/index.js'
import { git, onCleanup, text } from './helpers.js'
import { chunksOf, collect, craft, inline, openReplica, pull, type Replica } from './replication-helpers.js'

/** Two stores in sync on two keys; `b` receives the bad input. */
async function pair (t: TestContext): Promise<{ a: Replica, b: Replica }> {
  const a = await openReplica(t, 'node-a')
  const b = await openReplica(t, 'node-b')
  await a.store.set('/app/name', 'demo')
  await a.store.set('/app/mode', 'on', { ttlMs: 3_600_000 })
  await pull(b.store, a.store)
  await b.store.set('/b/local', 'kept')
  return { a, b }
}

/** What must not change when bad input is refused: head, answers, history, and git's own view. */
async function stateOf (r: Replica): Promise<unknown> {
  return {
    head: r.store.head,
    refs: git(r.dir, 'for-each-ref', '--format=%(refname) %(objectname)'),
    list: await r.store.list('/', { recursive: true, values: true }),
    history: await r.store.history('/app/name'),
    objectDirs: (await readdir(join(r.dir, 'objects'))).sort()
  }
}

async function assertRefused (r: Replica, op: () => Promise<unknown>, code: string, reason?: string): Promise<void> {
  const before = await stateOf(r)
  await assert.rejects(op, (err: unknown) => {
    assert.ok(err instanceof GitConfigError, String(err))
    assert.equal(err.code, code, err.message)
    if (reason !== undefined) assert.equal(err.details.reason, reason, err.message)
    return true
  })
  assert.deepEqual(await stateOf(r), before, 'nothing changed')
  git(r.dir, 'fsck', '--full', '--strict', '--no-dangling')
  // The store goes on working.
  const w = await r.store.set('/after/refusal', 'ok')
  assert.equal(r.store.head, w.commit)
}

const meta = (op: string, version: string): string => JSON.stringify({ op, version, expiresAtMs: null, author: 'x', raftIndex: null }) + '\n'

test('createPack refuses unknown wants; ingestPack refuses corrupt, truncated, oversized and incomplete packs', async (t) => {
  const { a, b } = await pair(t)
  await assert.rejects(collect(a.store.createPack({ want: ['0'.repeat(40)], have: [] })), { code: 'UNKNOWN_COMMIT' })
  await assert.rejects(collect(a.store.createPack({ want: ['not-a-commit'], have: [] })), { code: 'INVALID_ARGUMENT' })
  a.clock.advance(10)
  await a.store.set('/app/name', 'x'.repeat(20_000))
  await a.store.set('/app/new', 'fresh')
  const head = a.store.head as string
  const pack = await collect(a.store.createPack({ want: [head], have: [b.store.head as string, '1'.repeat(40)] }))
  const ingest = (bytes: Uint8Array, bytesMax?: number) => async () => await b.store.ingestPack(chunksOf(bytes), { expect: [head], bytesMax })

  const corrupt = Buffer.from(pack)
  for (let i = 40; i < corrupt.length - 30; i += 97) corrupt[i] ^= 0x5a
  await assertRefused(b, ingest(corrupt), 'TRANSFER_FAILED', 'malformed')
  await assertRefused(b, ingest(pack.subarray(0, Math.floor(pack.length / 2))), 'TRANSFER_FAILED', 'malformed')
  await assertRefused(b, ingest(pack, pack.length - 1), 'TRANSFER_FAILED', 'overflow')
  await assertRefused(b, ingest(Buffer.from('PACK but not really')), 'TRANSFER_FAILED', 'malformed')
  // A pack of the commit alone: valid git, but its tree and blobs are missing.
  const commitOnly = spawnSync('git', ['--git-dir', a.dir, 'pack-objects', '--stdout', '--quiet'], { input: `${head}\n` }).stdout
  await assertRefused(b, ingest(commitOnly), 'TRANSFER_FAILED', 'incomplete')
  // A valid pack that does not contain the expected commit at all.
  await assertRefused(b, async () => await b.store.ingestPack(chunksOf(pack), { expect: ['2'.repeat(40)] }), 'TRANSFER_FAILED', 'incomplete')
  await assertRefused(b, async () => await b.store.mergeFrom('3'.repeat(40)), 'UNKNOWN_COMMIT')

  // A pack with nothing new (the receiver has everything) is accepted and adds no pack file.
  const packsBefore = (await readdir(join(b.dir, 'objects', 'pack'))).length
  const same = b.store.head as string
  await b.store.ingestPack(b.store.createPack({ want: [same], have: [same] }), { expect: [same] })
  assert.equal((await readdir(join(b.dir, 'objects', 'pack'))).length, packsBefore)

  // The good pack still goes through afterwards.
  await b.store.ingestPack(chunksOf(pack), { expect: [head] })
  assert.equal(await b.store.hasCommit(head), true)
  assert.equal((await b.store.mergeFrom(head)).outcome, 'merged')
  assert.equal(text((await b.store.get('/app/new'))?.value), 'fresh')
})

test('mergeFrom refuses foreign trees with a malformed meta, a .value on a tombstone, or paths no key maps to', async (t) => {
  const { a, b } = await pair(t)
  const base = a.store.head as string
  const version = '1800000000999.0@node-evil'
  const cases: Array<[string, string]> = [
    ['malformed meta', inline('app/name/.meta', '{"op":"set"')],
    ['non-canonical meta', inline('app/name/.meta', meta('set', version).replace(':', ': '))],
    ['.value on a delete tombstone', inline('evil/k/.meta', meta('delete', version)) + inline('evil/k/.value', 'zombie')],
    ['.value on an expire tombstone', inline('app/name/.meta', meta('expire', version))],
    ['set without a value', inline('evil/k/.meta', meta('set', version))],
    ['.value without .meta', inline('evil/k/.value', 'orphan')],
    ['non-canonical key directory', inline('evil/%61/.meta', meta('set', version)) + inline('evil/%61/.value', 'x')],
    ['stray file', inline('evil/README', 'hello')],
    ['another storage format', inline('.gitconfig-format', '2\n')],
    ['executable value', `M 100755 inline app/name/.value\ndata 1\nx\n`]
  ]
  for (const [name, edits] of cases) {
    const { commit, pack } = await craft(t, a.dir, base, edits)
    await b.store.ingestPack(chunksOf(pack), { expect: [commit] })
    await t.test(name, async () => {
      await assertRefused(b, async () => await b.store.mergeFrom(commit), 'TRANSFER_FAILED', 'malformed')
    })
  }
  // A well-formed foreign commit built the same way is merged.
  const good = await craft(t, a.dir, base, inline('evil/ok/.meta', meta('set', version)) + inline('evil/ok/.value', 'fine'))
  await b.store.ingestPack(chunksOf(good.pack), { expect: [good.commit] })
  assert.equal((await b.store.mergeFrom(good.commit)).outcome, 'merged')
  assert.equal(text((await b.store.get('/evil/ok'))?.value), 'fine')
})

test('a quarantine left behind by a crash during an ingest is removed at open', async (t) => {
  const a = await openReplica(t, 'node-a')
  await a.store.set('/k', 'v')
  await a.store.close()
  const stray = join(a.dir, 'objects', 'gitconfig-incoming-crashed')
  await mkdir(join(stray, 'pack'), { recursive: true })
  await writeFile(join(stray, 'pack', 'tmp_pack_123'), 'half a pack')
  const reopened = await GitConfigStore.open(a.dir, { maintenance: false })
  onCleanup(t, () => reopened.close())
  assert.equal((await readdir(join(a.dir, 'objects'))).includes('gitconfig-incoming-crashed'), false)
  assert.equal(text((await reopened.get('/k'))?.value), 'v')
})

/** A commit made with stock git in `dir` (commit-tree), as a hostile peer would craft it. */
function commitTree (dir: string, tree: string, parents: readonly string[], message: string): string {
  return git(dir, '-c', 'user.name=mallory', '-c', 'user.email=m@x', 'commit-tree', tree, ...parents.flatMap((p) => ['-p', p]), '-m', message).trim()
}

test('crafted merges of writes a node already holds make no commit, however often they are announced', async (t) => {
  const { a, b } = await pair(t)
  await pull(a.store, b.store)
  await pull(b.store, a.store)
  const head = a.store.head as string
  assert.equal(b.store.head, head)
  // Merges with other metadata, of the same writes, and merges of those merges: each a new commit id.
  const writes = git(a.dir, 'rev-list', '--no-merges', head).trim().split('\n')
  const tree = git(a.dir, 'rev-parse', `${head}^{tree}`).trim()
  let crafted = commitTree(a.dir, tree, [head, writes[writes.length - 1]], 'crafted 0')
  for (let i = 1; i < 20; i++) {
    crafted = commitTree(a.dir, tree, i % 2 === 0 ? [crafted, head] : [crafted, writes[i % writes.length]], `crafted ${i}`)
    const bundle = a.store.createPack({ want: [crafted], have: [head] })
    await b.store.ingestPack(bundle, { expect: [crafted] })
    const result = await b.store.mergeFrom(crafted)
    assert.equal(result.outcome, 'contained', `crafted merge ${i}`)
    assert.equal(b.store.head, head, 'no commit')
  }
})

test('a crafted merge of more write commits than mergeParentsMax is refused, the repository unchanged', async (t) => {
  const { a, b } = await pair(t)
  const tree = git(a.dir, 'rev-parse', 'main^{tree}').trim()
  // 70 unrelated root commits (independent write commits) joined by one merge.
  const roots = Array.from({ length: 70 }, (_, i) => commitTree(a.dir, tree, [], `root ${i}`))
  const crafted = commitTree(a.dir, tree, roots, 'crafted octopus')
  await b.store.ingestPack(a.store.createPack({ want: [crafted], have: [] }), { expect: [crafted] })
  await assertRefused(b, async () => await b.store.mergeFrom(crafted), 'TRANSFER_FAILED', 'malformed')
})
