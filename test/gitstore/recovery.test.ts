import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { GitConfigError, GitConfigStore, type WatchEvent } from '../../src/index.js'
import { encodeMeta } from '../../src/gitstore/entry.js'
import { keyToTreeDir, metaFileName, valueFileName } from '../../src/gitstore/keys.js'
import { FakeClock, childEnv, eventually, git, onCleanup, tempDir, text } from './helpers.js'

async function snapshot (store: GitConfigStore, since: string): Promise<unknown> {
  const keys = (await store.list('/', { recursive: true, values: true })).map((e) => [e.key, text(e.value)])
  const children = await store.list('/cfg')
  const histories = await Promise.all(['/cfg/a', '/cfg/b', '/cfg/sub/c', '/tmp/t'].map((k) => store.history(k)))
  const gets = await Promise.all(['/cfg/a', '/cfg/b', '/cfg/sub/c'].map(async (k) => {
    const kv = await store.get(k)
    return kv === null ? null : { ...kv, value: text(kv.value) }
  }))
  const it = store.watch('/', { recursive: true, since })[Symbol.asyncIterator]()
  const replay: WatchEvent[] = []
  const head = store.head
  while (replay.length === 0 || replay[replay.length - 1].commit !== head) {
    const r = await it.next()
    if (r.done === true) break
    replay.push(r.value)
  }
  await it.return?.()
  return { keys, children, histories, gets, replay: replay.map((e) => ({ ...e, value: text(e.value) })) }
}

test('deleting the index folder and reopening gives the same answers for get, list, history and watch-since', async (t) => {
  const clock = new FakeClock()
  const dir = join(await tempDir(t), 'repo')
  const store = await GitConfigStore.open(dir, { clock: clock.read, maintenance: false })
  const first = await store.set('/cfg/a', '1', { author: 'alice' })
  await Promise.all([store.set('/cfg/b', 'b'), store.set('/cfg/sub/c', 'c'), store.set('/tmp/t', 't', { ttlMs: 10 })])
  await store.cas('/cfg/a', '1', '2')
  await store.delete('/cfg/b')
  await store.rollback('/cfg/b', first.commit)
  clock.advance(1000)
  await store.set('/cfg/bin', new Uint8Array([0, 255, 10]))
  await eventually(async () => (await store.history('/tmp/t'))[0].op === 'expire' ? true : undefined)
  await store.flush()
  const before = await snapshot(store, first.commit)
  await store.close()

  await rm(join(dir, 'gitconfig', 'index'), { recursive: true })
  const reopened = await GitConfigStore.open(dir, { clock: clock.read, maintenance: false })
  onCleanup(t, () => reopened.close())
  assert.deepEqual(await snapshot(reopened, first.commit), before)
  // And writing continues after the rebuilt position with higher versions.
  const next = await reopened.set('/cfg/a', '3')
  const [latest, previous] = await reopened.history('/cfg/a', { limit: 2 })
  assert.equal(latest.commit, next.commit)
  assert.ok(latest.version.wallMs > previous.version.wallMs || latest.version.counter > previous.version.counter)
})

test('a backup taken with stock git while the store is open (clone --mirror, bundle) restores as a new node with the same data', async (t) => {
  const clock = new FakeClock()
  const root = await tempDir(t)
  const dir = join(root, 'repo')
  const store = await GitConfigStore.open(dir, { clock: clock.read, maintenance: false, nodeId: 'origin' })
  onCleanup(t, () => store.close())
  const first = await store.set('/cfg/a', '1', { author: 'alice' })
  await Promise.all([store.set('/cfg/b', 'b'), store.set('/cfg/sub/c', 'c')])
  await store.delete('/cfg/b')
  await store.flush()
  const before = await snapshot(store, first.commit)
  git(root, 'clone', '--quiet', '--mirror', dir, join(root, 'mirror'))
  git(dir, 'bundle', 'create', '--quiet', join(root, 'backup.bundle'), '--all')
  git(root, 'clone', '--quiet', '--bare', join(root, 'backup.bundle'), join(root, 'from-bundle'))

  for (const copy of ['mirror', 'from-bundle']) {
    const restored = await GitConfigStore.open(join(root, copy), { clock: clock.read, maintenance: false })
    onCleanup(t, () => restored.close())
    assert.deepEqual(await snapshot(restored, first.commit), before, copy)
    assert.notEqual(restored.nodeId, 'origin', 'a copy is a new node: two live nodes never share an id')
    await restored.set('/cfg/after-restore', 'x')
    git(join(root, copy), 'fsck', '--full', '--no-progress')
  }

  // A bare repository that is not a copy of a GitConfig repository is still refused, and left as it was.
  git(root, 'init', '--quiet', '--bare', join(root, 'other.git'))
  await assert.rejects(GitConfigStore.open(join(root, 'other.git')), (err: unknown) =>
    err instanceof GitConfigError && err.code === 'INVALID_ARGUMENT' && /not a GitConfig repository/.test(err.message))
  assert.deepEqual((await readdir(join(root, 'other.git'))).includes('gitconfig'), false)
})

test('an index that is behind git (commits made while it was not updated) is caught up at open', async (t) => {
  const dir = join(await tempDir(t), 'repo')
  const store = await GitConfigStore.open(dir, { maintenance: false })
  await store.set('/x', '1')
  await store.close()
  // Save the index, make more commits, then put the old index back: it is now behind main.
  const indexDir = join(dir, 'gitconfig', 'index')
  const saved = join(dir, '..', 'saved-index')
  await import('node:fs/promises').then((fs) => fs.cp(indexDir, saved, { recursive: true }))
  const again = await GitConfigStore.open(dir, { maintenance: false })
  await again.set('/x', '2')
  await again.set('/y', 'y')
  await again.close()
  await rm(indexDir, { recursive: true })
  await import('node:fs/promises').then((fs) => fs.cp(saved, indexDir, { recursive: true }))
  const third = await GitConfigStore.open(dir, { maintenance: false })
  onCleanup(t, () => third.close())
  assert.equal(text((await third.get('/x'))?.value), '2')
  assert.equal(text((await third.get('/y'))?.value), 'y')
  assert.equal((await third.history('/x')).length, 2)
})

test('a second opener is refused with REPOSITORY_LOCKED, in this process and from another process', async (t) => {
  const dir = join(await tempDir(t), 'repo')
  const store = await GitConfigStore.open(dir, { maintenance: false })
  onCleanup(t, () => store.close())
  await store.set('/k', 'v')
  await assert.rejects(GitConfigStore.open(dir), (err: unknown) =>
    err instanceof GitConfigError && err.code === 'REPOSITORY_LOCKED' && err.message.includes(`pid ${process.pid}`))
  // Twice: a refused open in this process must not release the lock that keeps other processes out.
  await assert.rejects(GitConfigStore.open(dir), /already open/)
  const script = `import { GitConfigStore } from ${JSON.stringify(new URL('../../src/index.ts', import.meta.url).href)}
try { await (await GitConfigStore.open(process.argv[1])).close(); console.log('opened') } catch (e) { console.log(e.code + ': ' + e.message) }`
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, dir],
      { stdio: ['ignore', 'pipe', 'inherit'], env: childEnv() })
    let s = ''
    child.stdout.on('data', (b: Buffer) => { s += b.toString() })
    child.on('error', reject)
    child.on('close', () => resolve(s))
  })
  assert.match(out, /^REPOSITORY_LOCKED: the repository is already open by another process \(pid \d+\)/)
  assert.equal(text((await store.get('/k'))?.value), 'v')
})

test('stale lock and temporary files left by a crash are cleared at open', async (t) => {
  const dir = join(await tempDir(t), 'repo')
  const store = await GitConfigStore.open(dir, { maintenance: false })
  await store.set('/k', '1')
  await store.close()
  const head = git(dir, 'rev-parse', 'main').trim()
  const stale = ['HEAD.lock', 'packed-refs.lock', 'config.lock', 'refs/heads/main.lock', 'objects/pack/tmp_pack_abc123']
  for (const p of stale) await writeFile(join(dir, p), head + '\n')
  await mkdir(join(dir, 'refs', 'heads', 'deep'), { recursive: true })
  await writeFile(join(dir, 'refs', 'heads', 'deep', 'x.lock'), '')
  const pack = (await readdir(join(dir, 'objects', 'pack'))).find((n) => n.endsWith('.pack'))
  assert.ok(pack !== undefined)
  const keep = join(dir, 'objects', 'pack', pack.replace(/\.pack$/, '.keep'))
  await writeFile(keep, 'fast-import\n')
  // With the stale ref lock, plain git cannot update main.
  assert.throws(() => git(dir, 'update-ref', 'refs/heads/main', head))

  const reopened = await GitConfigStore.open(dir, { maintenance: false })
  onCleanup(t, () => reopened.close())
  const left = await readdir(join(dir, 'objects', 'pack'))
  assert.ok(!left.some((n) => n.startsWith('tmp_') || n.endsWith('.keep')), left.join(','))
  for (const p of [...stale, 'refs/heads/deep/x.lock']) {
    await assert.rejects(import('node:fs/promises').then((fs) => fs.stat(join(dir, p))), p)
  }
  await reopened.set('/k', '2')
  assert.equal(git(dir, 'show', 'main:k/.value'), '2')
})

test('when git fast-import dies, pending writes fail clearly and the next write restarts it', async (t) => {
  const dir = join(await tempDir(t), 'repo')
  const store = await GitConfigStore.open(dir, { maintenance: false })
  onCleanup(t, () => store.close())
  await store.set('/a', '1')
  const committer = store['committer']
  const pid = committer.fastImportPid
  assert.ok(pid !== undefined)
  const inFlight = store.set('/b', '2')
  process.kill(pid, 'SIGKILL')
  // The write in flight either made it (git finished first) or failed with GIT_UNAVAILABLE: never silently lost.
  const outcome = await inFlight.then(() => 'ok', (err: unknown) => err instanceof GitConfigError ? err.code : 'other')
  assert.ok(outcome === 'ok' || outcome === 'GIT_UNAVAILABLE', outcome)
  await store.set('/c', '3')
  assert.notEqual(committer.fastImportPid, pid)
  assert.equal(text((await store.get('/c'))?.value), '3')
  const b = await store.get('/b')
  if (outcome === 'ok') assert.equal(text(b?.value), '2')
  git(dir, 'fsck', '--full')
})

test('close() waits for writes already accepted; later calls get UNAVAILABLE; the lock is released', async (t) => {
  const dir = join(await tempDir(t), 'repo')
  const store = await GitConfigStore.open(dir, { maintenance: false })
  const writes = Array.from({ length: 100 }, (_, i) => store.set(`/c/${i}`, String(i)))
  const closed = store.close()
  const results = await Promise.all(writes)
  await closed
  assert.equal(results.length, 100)
  await assert.rejects(store.get('/c/1'), (err: unknown) => err instanceof GitConfigError && err.code === 'UNAVAILABLE')
  assert.throws(() => store.watch('/c'), (err: unknown) => err instanceof GitConfigError && err.code === 'UNAVAILABLE')
  const reopened = await GitConfigStore.open(dir, { maintenance: false })
  onCleanup(t, () => reopened.close())
  assert.equal((await reopened.list('/c', { recursive: true })).length, 100)
})

test('a rebuild passes over an unreadable entry in an earlier commit a peer fast-forwarded main to', async (t) => {
  // A merge validates only the incoming head's tree; after a fast-forward the peer's earlier commits are on main's
  // first-parent chain, and a full rebuild walks them. One of them holding a malformed `.meta` must not keep the
  // node from opening: a later commit (the validated head) holds the key's real state.
  const dir = join(await tempDir(t), 'repo')
  let store = await GitConfigStore.open(dir, { maintenance: false })
  const base = await store.set('/cfg/a', '1')
  await store.close()
  const keyDir = keyToTreeDir('/cfg/b')
  const meta = encodeMeta({ op: 'set', version: { wallMs: Date.now(), counter: 0, node: 'peer' }, expiresAtMs: null, author: 'peer', raftIndex: null })
  const data = (content: string): string => `data ${Buffer.byteLength(content)}\n${content}\n`
  const commit = (message: string, time: number, from: string, metaText: string, value: string): string =>
    `commit refs/heads/main\ncommitter peer <peer@gitconfig.invalid> ${time} +0000\n${data(message)}${from}` +
    `M 100644 inline ${keyDir}/${metaFileName}\n${data(metaText)}M 100644 inline ${keyDir}/${valueFileName}\n${data(value)}\n`
  const stream = commit('bad', 1_700_000_000, `from ${base.commit}\n`, 'not json!', 'x') + commit('fixed', 1_700_000_001, '', meta, 'y') + 'done\n'
  execFileSync('git', ['--git-dir', dir, 'fast-import', '--quiet', '--done'], { input: stream })
  await rm(join(dir, 'gitconfig', 'index'), { recursive: true })
  store = await GitConfigStore.open(dir, { maintenance: false })
  onCleanup(t, () => store.close())
  assert.equal(text((await store.get('/cfg/b'))?.value), 'y')
  assert.equal(text((await store.get('/cfg/a'))?.value), '1')
  assert.deepEqual((await store.list('/cfg')).map((e) => e.key), ['/cfg/a', '/cfg/b'])
  assert.match(store.lastBackgroundError?.message ?? '', /passed over 1 unreadable key entries/)
})
