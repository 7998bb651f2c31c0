// A write can fail after a repack (issue 13 part 3, decision 0268). git looks an object up in the packs it knows,
// rescans objects/pack once on a miss and looks again. If a repack writes its new pack after that rescan and
// deletes the old pack before the lookup opens it, the lookup fails although the object is on disk: fast-import
// dies with "fatal: Not a valid commit: <sha>" and the merge (or write) is refused with GIT_UNAVAILABLE. These tests
// drive that order on purpose. Maintenance now deletes folded packs only after the lookups that were in flight
// when the new pack appeared have been answered.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { GitConfigStore } from '../../src/index.js'
import type { Maintenance } from '../../src/gitstore/maintenance.js'
import { eventually, git, onCleanup, openTempStore, tempDir, text } from './helpers.js'
import { chunksOf } from './replication-helpers.js'

const maintenanceOf = (store: GitConfigStore): Maintenance => (store as unknown as { maintenance: Maintenance }).maintenance
/** Starts a maintenance round the way the store does when it is due. */
const startRound = (store: GitConfigStore): void => { (store as unknown as { startMaintenance: () => void }).startMaintenance() }
const exists = async (path: string): Promise<boolean> => await stat(path).then(() => true, () => false)
const packIndexes = async (dir: string): Promise<string[]> => (await readdir(join(dir, 'objects', 'pack'))).filter((n) => n.endsWith('.idx'))

/**
 * A pack of what `want` reaches minus what `have` reaches, not thin, and its name: git names a pack after its
 * trailing checksum, and index-pack stores a complete pack as it came.
 */
function packOf (dir: string, want: string, have?: string): { bytes: Buffer, name: string } {
  const r = spawnSync('git', ['-C', dir, 'pack-objects', '--revs', '--stdout', '-q'], { input: have === undefined ? `${want}\n` : `${want}\n^${have}\n` })
  if (r.status !== 0) throw new Error(r.stderr.toString())
  return { bytes: r.stdout, name: `pack-${r.stdout.subarray(r.stdout.length - 20).toString('hex')}` }
}

/** Why strace cannot stop fast-import here, or null when it can. */
function straceUnusable (): string | null {
  if (process.platform !== 'linux') return 'strace is Linux only'
  const r = spawnSync('strace', ['-f', '-qq', '-o', '/dev/null', 'true'], { encoding: 'utf8' })
  if (r.error !== undefined) return 'strace is not installed (apt-get install strace): the interleaving is not driven through a real fast-import'
  if (r.status !== 0) return `strace cannot trace processes here (${r.stderr.trim()})`
  return null
}

/**
 * A `git` placed first on PATH: the fast-import of the repository $GITCONFIG_TEST_STOP_REPO runs under strace, which
 * stops it (SIGSTOP) right after it opens the file $GITCONFIG_TEST_STOP_AT, and logs to $GITCONFIG_TEST_TRACE.
 * Every other git command runs unchanged.
 */
const shim = (realGit: string): string => `#!/bin/sh
case " $* " in
  *" --git-dir $GITCONFIG_TEST_STOP_REPO fast-import "*)
    exec strace -f -qq -o "$GITCONFIG_TEST_TRACE" -P "$GITCONFIG_TEST_STOP_AT" -e trace=openat -e inject=openat:signal=SIGSTOP '${realGit}' "$@" ;;
esac
exec '${realGit}' "$@"
`

const unusable = straceUnusable()

test('a fast-import that rescanned the packs before a repack wrote its new pack still finds the commit it merges', { skip: unusable ?? false }, async (t) => {
  const writer = await openTempStore(t, { maintenance: false })
  const c0 = (await writer.store.set('/a', '0')).commit
  const c1 = (await writer.store.set('/b', '1')).commit
  const p0 = packOf(writer.dir, c0)
  const p1 = packOf(writer.dir, c1, c0)

  const replicaDir = join(await tempDir(t), 'repo')
  const trace = join(await tempDir(t), 'fast-import.trace')
  const bin = await tempDir(t)
  const realGit = spawnSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).stdout.trim()
  await writeFile(join(bin, 'git'), shim(realGit))
  await chmod(join(bin, 'git'), 0o755)
  const p1Index = join(replicaDir, 'objects', 'pack', `${p1.name}.idx`)
  const savedPath = process.env.PATH
  Object.assign(process.env, {
    PATH: `${bin}:${savedPath ?? ''}`,
    GITCONFIG_TEST_STOP_REPO: replicaDir,
    GITCONFIG_TEST_STOP_AT: p1Index,
    GITCONFIG_TEST_TRACE: trace
  })
  let stopped: number | null = null
  onCleanup(t, () => {
    process.env.PATH = savedPath
    for (const k of ['GITCONFIG_TEST_STOP_REPO', 'GITCONFIG_TEST_STOP_AT', 'GITCONFIG_TEST_TRACE']) Reflect.deleteProperty(process.env, k)
    if (stopped !== null) try { process.kill(stopped, 'SIGCONT') } catch { /* gone */ }
  })

  // Maintenance rounds start only when this test starts one.
  const replica = await GitConfigStore.open(replicaDir, { maintenance: true, maintenanceCommits: 1_000_000 })
  onCleanup(t, () => replica.close())
  // The first merge starts the replica's fast-import, which looks c0 up: it knows c0's pack only.
  await replica.ingestPack(chunksOf(p0.bytes), { expect: [c0] })
  assert.equal((await replica.mergeFrom(c0)).outcome, 'fast-forward')
  await replica.ingestPack(chunksOf(p1.bytes), { expect: [c1] })
  assert.ok(await exists(p1Index), `c1 arrived in ${p1.name}`)
  const packsBefore = await packIndexes(replicaDir)

  // Merging c1: fast-import misses it in the packs it knows, rescans, finds p1 and opens its index, where strace
  // stops it: between its one rescan and its reading of the pack it found.
  const merged = replica.mergeFrom(c1).then((r) => r, (e: Error) => e)
  stopped = await eventually(async () => {
    const m = /^(\d+)\s+--- stopped by SIGSTOP ---$/m.exec(await readFile(trace, 'utf8').catch(() => ''))
    return m === null ? undefined : Number(m[1])
  })
  // The bad order, on purpose: a round folds p0 and p1 into a new pack while that lookup is in flight.
  startRound(replica)
  const maintenance = maintenanceOf(replica)
  await eventually(async () => maintenance.waitingForLookups || !(await exists(p1Index)) ? true : undefined)
  const newPackWritten = (await packIndexes(replicaDir)).some((n) => !packsBefore.includes(n))
  const p1OutlivedTheRescan = await exists(p1Index)
  process.kill(stopped, 'SIGCONT')
  stopped = null
  const result = await merged

  assert.ok(!(result instanceof Error), `the merge failed: ${result instanceof Error ? result.message : ''}`)
  assert.equal(result.head, c1)
  assert.ok(newPackWritten, 'the round had written its new pack before fast-import went on')
  assert.ok(p1OutlivedTheRescan, 'the folded pack was still there for the lookup that had rescanned before the new pack')
  await replica.maintenanceSettled()
  assert.ok(!(await exists(p1Index)), 'and was deleted once that lookup was answered')
  assert.equal(text((await replica.get('/b'))?.value), '1')
  assert.equal(text((await replica.get('/a'))?.value), '0')
  git(replicaDir, 'fsck', '--full', '--strict')
})
