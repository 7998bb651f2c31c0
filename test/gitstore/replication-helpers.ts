// Plumbing for the replication tests: several stores in temp dirs exchanging packs in-process, the way the node
// does over the network (createPack -> ingestPack -> mergeFrom).
import { spawnSync } from 'node:child_process'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { GitConfigStore } from '../../src/index.js'
import type { MergeResult } from '../../src/gitstore/store.js'
import { FakeClock, git, onCleanup, openTempStore, tempDir } from './helpers.js'

export interface Replica {
  readonly store: GitConfigStore
  readonly dir: string
  readonly clock: FakeClock
}

/** A store with its own fake clock (starting at `startMs`) and a fixed node id. */
export async function openReplica (t: TestContext, nodeId: string, startMs = 1_800_000_000_000): Promise<Replica> {
  const clock = new FakeClock(startMs)
  const { store, dir } = await openTempStore(t, { nodeId, clock: clock.read })
  return { store, dir, clock }
}

/** What a user can ask a store about `keys`: every live key and value, and each key's value and history. */
export async function answersAbout (store: GitConfigStore, keys: readonly string[]): Promise<unknown> {
  return {
    list: await snapshot(store),
    gets: await Promise.all(keys.map(async (k) => await store.get(k))),
    history: await Promise.all(keys.map(async (k) => await store.history(k)))
  }
}

/** Closes the replica's store, deletes its index and opens it again, so the index is rebuilt from git alone. */
export async function reopenWithoutIndex (t: TestContext, r: Replica): Promise<GitConfigStore> {
  await r.store.close()
  await rm(join(r.dir, 'gitconfig', 'index'), { recursive: true, force: true })
  const reopened = await GitConfigStore.open(r.dir, { maintenance: false, clock: r.clock.read })
  onCleanup(t, () => reopened.close())
  return reopened
}

export async function collect (chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const c of chunks) parts.push(Buffer.from(c))
  return Buffer.concat(parts)
}

export async function * chunksOf (bytes: Uint8Array, size = 7_000): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size)
}

/** Sends `from`'s head to `to` (thin pack against `to`'s head) and merges it there. */
export async function pull (to: GitConfigStore, from: GitConfigStore): Promise<MergeResult> {
  const head = from.head
  if (head === null) throw new Error('nothing to pull')
  const have = to.head === null ? [] : [to.head]
  await to.ingestPack(from.createPack({ want: [head], have }), { expect: [head] })
  return await to.mergeFrom(head)
}

export function treeOf (dir: string): string {
  return git(dir, 'rev-parse', 'main^{tree}').trim()
}

/** Every live key with its value, in key order (what a user reads). */
export async function snapshot (store: GitConfigStore): Promise<Array<[string, string]>> {
  const entries = await store.list('/', { recursive: true, values: true })
  return entries.map((e) => [e.key, new TextDecoder().decode(e.value)])
}

/**
 * A commit built on `base` in a bare copy of `source` with raw fast-import file edits (anything, valid or not), and
 * the pack that carries it to a repository holding `base`.
 */
export async function craft (t: TestContext, source: string, base: string, edits: string): Promise<{ commit: string, pack: Buffer }> {
  const evil = join(await tempDir(t), 'evil.git')
  git(source, 'clone', '--quiet', '--bare', source, evil)
  const stream = `commit refs/heads/evil\nmark :1\ncommitter evil <evil@example.com> 1800000000 +0000\ndata 5\nevil\nfrom ${base}\n${edits}\nget-mark :1\n`
  const r = spawnSync('git', ['--git-dir', evil, 'fast-import', '--quiet'], { input: stream })
  if (r.status !== 0) throw new Error(r.stderr.toString())
  const commit = r.stdout.toString().trim()
  const p = spawnSync('git', ['--git-dir', evil, 'pack-objects', '--revs', '--thin', '--stdout', '--quiet'], { input: `${commit}\n^${base}\n` })
  if (p.status !== 0) throw new Error(p.stderr.toString())
  return { commit, pack: p.stdout }
}

export const inline = (path: string, data: string): string => `M 100644 inline ${path}\ndata ${Buffer.byteLength(data)}\n${data}\n`
