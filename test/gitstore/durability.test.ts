// What survives a power cut (docs/operations.md "Durability"): the system calls of one write, in order, and the
// start-up recovery of an update of main that a crash left in refs/heads/main.lock.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { GitConfigError, GitConfigStore } from '../../src/index.js'
import { childEnv, git, onCleanup, tempDir, text } from './helpers.js'

/** Why the strace test cannot run here, or null when it can. */
function straceUnusable (): string | null {
  if (process.platform !== 'linux') return 'strace is Linux only'
  const r = spawnSync('strace', ['-f', '-qq', '-o', '/dev/null', 'true'], { encoding: 'utf8' })
  if (r.error !== undefined) return 'strace is not installed (apt-get install strace); the order of system calls of a write is not checked'
  if (r.status !== 0) return `strace cannot trace processes here (${r.stderr.trim()}); the order of system calls of a write is not checked`
  return null
}

/** One system call from `strace -f -y`: its name and the paths in its arguments (fds are shown as `N</path>`). */
interface Call {
  readonly line: number
  readonly name: string
  readonly paths: readonly string[]
}

function parseTrace (trace: string): Call[] {
  const calls: Call[] = []
  trace.split('\n').forEach((raw, line) => {
    // `PID name(args) = result`; a call another thread interrupted is split into `<unfinished ...>` and `resumed`.
    const m = /^\d+\s+(?:<\.\.\. )?(\w+)(?:\(| resumed>)(.*)$/.exec(raw)
    if (m === null || /= -1 /.test(raw) || raw.includes('<unfinished ...>')) return
    const paths = [...m[2].matchAll(/<([^<>]+)>|"([^"]+)"/g)].map((p) => p[1] ?? p[2])
    calls.push({ line, name: m[1], paths })
  })
  return calls
}

/** The child: one write before tracing matters, then the traced write between two marker files. */
const writerScript = `import { openSync, closeSync } from 'node:fs'
import { GitConfigStore } from ${JSON.stringify(new URL('../../src/index.ts', import.meta.url).href)}
const dir = process.argv[1]
const store = await GitConfigStore.open(dir, { maintenance: false })
await store.set('/warm', 'up')
closeSync(openSync(dir + '/gitconfig/MARK-BEFORE', 'w'))
const { commit } = await store.set('/traced', 'value')
closeSync(openSync(dir + '/gitconfig/MARK-AFTER', 'w'))
await store.close()
console.log(commit)`

const unusable = straceUnusable()

test('one write fsyncs the pack, its index and the ref lock, renames the lock, then fsyncs refs/heads, all before the reply', { skip: unusable ?? false }, async (t) => {
  const dir = join(await tempDir(t), 'repo')
  const tracePath = join(await tempDir(t), 'trace')
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('strace', ['-f', '-y', '-qq', '-o', tracePath,
      '-e', 'trace=fsync,fdatasync,rename,renameat,renameat2,openat,link,linkat',
      process.execPath, '--import', 'tsx', '--input-type=module', '-e', writerScript, dir],
    { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
    child.on('error', reject)
    child.on('close', (code) => code === 0 ? resolve(stdout.trim()) : reject(new Error(`traced writer failed (${code}): ${stderr}`)))
  })
  assert.match(out, /^[0-9a-f]{40}$/)
  assert.equal(git(dir, 'rev-parse', 'main').trim(), out)

  const calls = parseTrace(await readFile(tracePath, 'utf8'))
  const at = (what: string, from: number, match: (c: Call) => boolean): number => {
    const i = calls.findIndex((c, k) => k > from && match(c))
    assert.ok(i >= 0, `no ${what} after call ${from} (${calls[from]?.name ?? 'start'} ${calls[from]?.paths.join(' ') ?? ''})`)
    return i
  }
  const marker = (name: string) => (c: Call) => c.name === 'openat' && c.paths.some((p) => p.endsWith(`/gitconfig/${name}`))
  const fsyncOf = (test: (path: string) => boolean) => (c: Call) => (c.name === 'fsync' || c.name === 'fdatasync') && c.paths.some(test)
  const pack = join(dir, 'objects', 'pack')
  const heads = join(dir, 'refs', 'heads')

  const before = at('marker before the write', -1, marker('MARK-BEFORE'))
  const reply = at('marker after the reply', before, marker('MARK-AFTER'))
  const packSync = at('fsync of the new pack', before, fsyncOf((p) => p.startsWith(join(pack, 'tmp_pack_'))))
  const idxSync = at('fsync of the pack index', packSync, fsyncOf((p) => p.startsWith(join(pack, 'tmp_idx_'))))
  const named = at('the pack index given its name', idxSync, (c) => /^(link|rename)/.test(c.name) && c.paths.some((p) => /\/pack-[0-9a-f]+\.idx$/.test(p)))
  const lockSync = at('fsync of refs/heads/main.lock', named, fsyncOf((p) => p === join(heads, 'main.lock')))
  const renamed = at('rename of main.lock over main', lockSync, (c) => c.name.startsWith('rename') && c.paths.includes(join(heads, 'main.lock')) && c.paths.includes(join(heads, 'main')))
  const headsSync = at('fsync of refs/heads after the rename', renamed, fsyncOf((p) => p === heads))
  const packDirSync = at('fsync of objects/pack after the pack was named', named, fsyncOf((p) => p === pack))
  t.diagnostic(`trace lines: pack ${calls[packSync].line}, idx ${calls[idxSync].line}, lock ${calls[lockSync].line}, rename ${calls[renamed].line}, ` +
    `objects/pack ${calls[packDirSync].line}, refs/heads ${calls[headsSync].line}, reply ${calls[reply].line}`)
  assert.ok(packDirSync < reply, 'objects/pack is fsynced before the reply')
  assert.ok(headsSync < reply, 'refs/heads is fsynced after the rename and before the reply')
})

/**
 * The state a power cut leaves when the rename of main.lock over main was lost but the lock (written and fsynced
 * by git before the rename) survived: main at `older`, main.lock naming `newer`.
 */
async function loseTheRename (dir: string, older: string, newer: string): Promise<void> {
  await writeFile(join(dir, 'refs', 'heads', 'main'), older + '\n')
  await writeFile(join(dir, 'refs', 'heads', 'main.lock'), newer + '\n')
}

test('an update of main that a crash left in main.lock is finished at open', async (t) => {
  const dir = join(await tempDir(t), 'repo')
  const store = await GitConfigStore.open(dir, { maintenance: false })
  const first = await store.set('/k', '1')
  const second = await store.set('/k', '2')
  await store.close()
  await loseTheRename(dir, first.commit, second.commit)

  const reopened = await GitConfigStore.open(dir, { maintenance: false })
  onCleanup(t, () => reopened.close())
  assert.equal(reopened.head, second.commit)
  assert.equal(text((await reopened.get('/k'))?.value), '2')
  assert.deepEqual((await reopened.history('/k')).map((h) => h.commit), [second.commit, first.commit])
  assert.ok(!(await readdir(join(dir, 'refs', 'heads'))).includes('main.lock'))
  await reopened.set('/k', '3')
  git(dir, 'fsck', '--full', '--strict')
})

test('a first commit left in main.lock (no main yet) is finished at open', async (t) => {
  const dir = join(await tempDir(t), 'repo')
  const store = await GitConfigStore.open(dir, { maintenance: false })
  const only = await store.set('/k', '1')
  await store.close()
  await rm(join(dir, 'refs', 'heads', 'main'))
  await writeFile(join(dir, 'refs', 'heads', 'main.lock'), only.commit + '\n')
  const reopened = await GitConfigStore.open(dir, { maintenance: false })
  onCleanup(t, () => reopened.close())
  assert.equal(reopened.head, only.commit)
  assert.equal(text((await reopened.get('/k'))?.value), '1')
})

test('a lock that is torn, names no complete commit, or would drop a write from main is dropped', async (t) => {
  const dir = join(await tempDir(t), 'repo')
  const store = await GitConfigStore.open(dir, { maintenance: false })
  const a = await store.set('/k', 'a')
  const b = await store.set('/k', 'b')
  await store.close()
  // A commit on another line of history: its tree is main's, its parent main's parent.
  const sideways = git(dir, 'commit-tree', '-p', a.commit, '-m', 'side', `${b.commit}^{tree}`).trim()
  const missing = '1'.repeat(40)
  const incomplete = git(dir, 'commit-tree', '-p', b.commit, '-m', 'x',
    spawnSync('git', ['-C', dir, 'mktree', '--missing'], { input: `100644 blob ${missing}\tf\n`, encoding: 'utf8' }).stdout.trim()).trim()
  // Lock contents: torn mid-write, a missing commit, a commit missing a blob, main's parent, a sibling of main
  // (both lack main's last write).
  for (const lock of [b.commit.slice(0, 20), `${missing}\n`, `${incomplete}\n`, `${a.commit}\n`, `${sideways}\n`]) {
    await writeFile(join(dir, 'refs', 'heads', 'main.lock'), lock)
    const reopened = await GitConfigStore.open(dir, { maintenance: false })
    try {
      assert.equal(reopened.head, b.commit, `lock ${JSON.stringify(lock)}`)
      assert.equal(text((await reopened.get('/k'))?.value), 'b')
    } finally {
      await reopened.close()
    }
    assert.ok(!(await readdir(join(dir, 'refs', 'heads'))).includes('main.lock'))
  }
})

test('a lock naming a merge that joins all of main\'s writes and more (a sideways move) is finished at open', async (t) => {
  const dir = join(await tempDir(t), 'repo')
  const store = await GitConfigStore.open(dir, { maintenance: false })
  const a = await store.set('/k', 'a')
  const b = await store.set('/k', 'b')
  await store.close()
  const tree = `${b.commit}^{tree}`
  const w1 = git(dir, 'commit-tree', '-p', a.commit, '-m', 'w1', tree).trim()
  const w2 = git(dir, 'commit-tree', '-p', a.commit, '-m', 'w2', tree).trim()
  // main moves from one merge of the writes to the next, which is not its descendant (docs/merge.md).
  const m1 = git(dir, 'commit-tree', '-p', b.commit, '-p', w1, '-m', 'm1', tree).trim()
  const m2 = git(dir, 'commit-tree', '-p', b.commit, '-p', w1, '-p', w2, '-m', 'm2', tree).trim()
  await loseTheRename(dir, m1, m2)
  const reopened = await GitConfigStore.open(dir, { maintenance: false })
  onCleanup(t, () => reopened.close())
  assert.equal(reopened.head, m2)
  assert.equal(text((await reopened.get('/k'))?.value), 'b')
})

test('a main that names a missing commit stops the open instead of starting a new history', async (t) => {
  const dir = join(await tempDir(t), 'repo')
  const store = await GitConfigStore.open(dir, { maintenance: false })
  await store.set('/k', 'v')
  await store.close()
  const lost = '2'.repeat(40)
  await writeFile(join(dir, 'refs', 'heads', 'main'), lost + '\n')
  await assert.rejects(GitConfigStore.open(dir, { maintenance: false }), (err: unknown) =>
    err instanceof GitConfigError && err.code === 'GIT_UNAVAILABLE' && err.message.includes(lost) && /damaged/.test(err.message))
  assert.equal(git(dir, 'rev-parse', 'refs/heads/main').trim(), lost, 'main is left for the operator')
})

test('a checkpoint that could not move main (a lock left by a killed git) is a failed write, and the next write repairs the lock', async (t) => {
  const dir = join(await tempDir(t), 'repo')
  const store = await GitConfigStore.open(dir, { maintenance: false })
  onCleanup(t, () => store.close())
  const first = await store.set('/k', '1')
  // git answers fast-import's query after its checkpoint even when the ref update failed ("cannot lock ref").
  await writeFile(join(dir, 'refs', 'heads', 'main.lock'), '')
  await assert.rejects(store.set('/k', '2'), (err: unknown) =>
    err instanceof GitConfigError && err.code === 'GIT_UNAVAILABLE' && /did not move refs\/heads\/main/.test(err.message))
  assert.equal(git(dir, 'rev-parse', 'main').trim(), first.commit)
  assert.equal(text((await store.get('/k'))?.value), '1', 'nothing unacknowledged is readable')
  // The store repairs it by itself: the failed write's fast-import is gone, so the next start drops the stale lock
  // (before, every later write failed the same way until the process was restarted).
  const third = await store.set('/k', '3')
  assert.equal(git(dir, 'rev-parse', 'main').trim(), third.commit)
  assert.equal(text((await store.get('/k'))?.value), '3')
})
