import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { GitConfigError, GitConfigStore } from '../../src/index.js'
import { git, gitBytes, openTempStore, tempDir, text } from './helpers.js'

const trickyKeys = [
  '/unicode/日本語/ключ/😀',
  '/spaces/a key with spaces',
  '/quotes/"double" and \'single\'',
  '/back\\slash/x\\y',
  '/dots/..x/x../a.b',
  '/git/.git/config',
  '/git/.gitmodules',
  '/meta/.value',
  '/meta/.meta',
  '/meta/x/.value/.meta',
  '/percent/%41%2E',
  '/tilde/git~1',
  '/' + 'k'.repeat(1023)
]

test('tricky keys round-trip and each lands in its own encoded directory', async (t) => {
  const { store, dir } = await openTempStore(t)
  await Promise.all(trickyKeys.map((k, i) => store.set(k, `value ${i}`)))
  for (const [i, k] of trickyKeys.entries()) {
    assert.equal(text((await store.get(k))?.value), `value ${i}`, k)
  }
  const listed = (await store.list('/', { recursive: true })).map((e) => e.key).sort()
  assert.deepEqual(listed, [...trickyKeys].sort())
  git(dir, 'fsck', '--full', '--strict')
  // Nothing escapes into a name git treats specially.
  const paths = git(dir, 'ls-tree', '-r', '--name-only', 'main').trim().split('\n')
  for (const p of paths) {
    for (const segment of p.split('/').slice(0, -1)) assert.ok(!segment.startsWith('.'), p)
  }
})

test('binary values, an empty value and a 1 MiB value round-trip exactly; larger is VALUE_TOO_LARGE', async (t) => {
  const { store, dir } = await openTempStore(t)
  const binary = new Uint8Array(256).map((_, i) => i)
  const big = new Uint8Array(1024 * 1024).map((_, i) => (i * 7919) & 0xff)
  await store.set('/bin', binary)
  await store.set('/empty', '')
  await store.set('/big', big)
  assert.deepEqual((await store.get('/bin'))?.value, binary)
  assert.deepEqual((await store.get('/empty'))?.value, new Uint8Array())
  assert.deepEqual((await store.get('/big'))?.value, big)
  assert.deepEqual(new Uint8Array(gitBytes(dir, 'show', 'main:bin/.value')), binary)
  await assert.rejects(store.set('/big2', new Uint8Array(1024 * 1024 + 1)), (err: unknown) => {
    assert.ok(err instanceof GitConfigError)
    assert.equal(err.code, 'VALUE_TOO_LARGE')
    assert.equal(err.details.limitBytes, 1024 * 1024)
    return true
  })
})

test('a key and its prefix both hold values; list shows children and hasChildren', async (t) => {
  const { store } = await openTempStore(t)
  await store.set('/app/db', 'db-url')
  await store.set('/app/db/host', 'localhost')
  await store.set('/app/db/port', '5432')
  await store.set('/app/db-x', 'other')
  await store.set('/app/cache/deep/key', 'v')
  assert.equal(text((await store.get('/app/db'))?.value), 'db-url')
  assert.equal(text((await store.get('/app/db/host'))?.value), 'localhost')
  assert.deepEqual(await store.list('/app'), [
    { key: '/app/cache', hasChildren: true },
    { key: '/app/db', hasChildren: true },
    { key: '/app/db-x', hasChildren: false }
  ])
  const withValues = await store.list('/app/', { values: true })
  assert.equal(text(withValues.find((e) => e.key === '/app/db')?.value), 'db-url')
  assert.equal(withValues.find((e) => e.key === '/app/cache')?.value, undefined)
  assert.deepEqual((await store.list('/app/db', { recursive: true })).map((e) => e.key), ['/app/db/host', '/app/db/port'])
  await store.delete('/app/cache/deep/key')
  assert.deepEqual((await store.list('/app')).map((e) => e.key), ['/app/db', '/app/db-x'])
})

test('stock git log and git show read what docs/format.md describes', async (t) => {
  const { store, dir } = await openTempStore(t, { nodeId: 'node-a' })
  const { commit } = await store.set('/env/dev/db/host', 'localhost', { author: 'alice' })
  await store.delete('/env/dev/db/host', { author: 'bob' })
  assert.equal(git(dir, 'show', `${commit}:env/dev/db/host/.value`), 'localhost')
  assert.equal(git(dir, 'show', 'main:.gitconfig-format'), '1\n')
  const meta = JSON.parse(git(dir, 'show', 'main:env/dev/db/host/.meta')) as Record<string, unknown>
  assert.equal(meta.op, 'delete')
  assert.equal(meta.author, 'bob')
  assert.throws(() => git(dir, 'show', 'main:env/dev/db/host/.value'))
  const log = git(dir, 'log', '--format=%an <%ae>|%cn <%ce>|%s|%b', 'main')
  const [deleted, created] = log.trim().split('\n\n').map((s) => s.trim())
  assert.match(created, /^alice <node-a@gitconfig\.invalid>\|gitconfig <node-a@gitconfig\.invalid>\|set \/env\/dev\/db\/host\|GitConfig-Change: \{"op":"set","key":"\/env\/dev\/db\/host","version":"\d+\.0@node-a","author":"alice","node":"node-a"\}/)
  assert.match(deleted, /^bob <node-a@gitconfig\.invalid>\|.*\|delete \/env\/dev\/db\/host\|GitConfig-Change: \{"op":"delete"/)
  assert.equal(git(dir, 'rev-parse', '--is-bare-repository').trim(), 'true')
  git(dir, 'fsck', '--full', '--strict')
})

test('bad input is refused with a typed error and never changes the repository', async (t) => {
  const { store, dir } = await openTempStore(t)
  await store.set('/ok', 'v')
  const before = git(dir, 'rev-parse', 'main')
  const attempts: Array<[() => Promise<unknown>, string]> = [
    [() => store.set('/a//b', 'v'), 'INVALID_KEY'],
    [() => store.set('/a/../b', 'v'), 'INVALID_KEY'],
    [() => store.set('/', 'v'), 'INVALID_KEY'],
    [() => store.set('/a\u0000', 'v'), 'INVALID_KEY'],
    [() => store.set('/' + 'x'.repeat(1024), 'v'), 'INVALID_KEY'],
    [() => store.set('/x', 42 as unknown as string), 'INVALID_ARGUMENT'],
    [() => store.set('/x', 'v', { ttlMs: -1 }), 'INVALID_ARGUMENT'],
    [() => store.set('/x', 'v', { ttlMs: 1.5 }), 'INVALID_ARGUMENT'],
    [() => store.set('/x', 'v', { author: 7 as unknown as string }), 'INVALID_ARGUMENT'],
    [() => store.set('/x', new Uint8Array(2 * 1024 * 1024)), 'VALUE_TOO_LARGE'],
    [() => store.cas('/ok', 'v', new Uint8Array(2 * 1024 * 1024)), 'VALUE_TOO_LARGE'],
    [() => store.delete('/a/'), 'INVALID_KEY'],
    [() => store.rollback('/ok', 'not-a-commit'), 'INVALID_ARGUMENT'],
    [() => store.rollback('/ok', 'deadbeefdeadbeef'), 'UNKNOWN_COMMIT'],
    [() => store.get('/ok', { commit: 'main~1' }), 'INVALID_ARGUMENT'],
    [() => store.get('/ok', { commit: '0000000000000000000000000000000000000000' }), 'UNKNOWN_COMMIT'],
    [() => store.history('/ok', { limit: 0 }), 'INVALID_ARGUMENT']
  ]
  for (const [attempt, code] of attempts) {
    await assert.rejects(attempt(), (err: unknown) => err instanceof GitConfigError && err.code === code, code)
  }
  assert.equal((await store.delete('/never-set')).deleted, false)
  assert.equal(git(dir, 'rev-parse', 'main'), before)
  assert.equal(git(dir, 'rev-list', '--count', 'main').trim(), '1')
})

test('a folder that is not a GitConfig repository is refused; options are validated', async (t) => {
  const dir = await tempDir(t)
  await mkdir(join(dir, 'project'))
  await writeFile(join(dir, 'project', 'notes.txt'), 'mine')
  await assert.rejects(GitConfigStore.open(join(dir, 'project')), (err: unknown) =>
    err instanceof GitConfigError && err.code === 'INVALID_ARGUMENT' && /not a GitConfig repository/.test(err.message))
  await assert.rejects(GitConfigStore.open(join(dir, 'r'), { bogus: 1 } as never), /invalid store option/)
  await assert.rejects(GitConfigStore.open(join(dir, 'r'), { nodeId: 'bad id' }), /nodeId/)
})

test('keyBytesMax and valueBytesMax options change the limits', async (t) => {
  const { store } = await openTempStore(t, { keyBytesMax: 10, valueBytesMax: 4 })
  await store.set('/123456789', 'abcd')
  await assert.rejects(store.set('/1234567890', 'a'), /limit is 10/)
  await assert.rejects(store.set('/k', 'abcde'), (err: unknown) => err instanceof GitConfigError && err.details.limitBytes === 4)
})
