// Background upkeep that keeps reads and history fast as the repository grows: fold the many small packs that
// one-pack-per-checkpoint produces into a geometric progression, and refresh the commit-graph with changed-path
// Bloom filters. Runs in child processes, one round at a time, never in the write path.
//
// A round does what `git repack -d --geometric=2` does, in two steps the store can order: the new pack is written
// first, and the packs it replaces are deleted only once every object lookup that was in flight in the store's git
// processes when it appeared has been answered (pack-lookups.ts, decision 0268). `git repack -d` deletes them a
// moment after writing the new pack, inside the window where a running fast-import can have rescanned the pack
// folder without the new pack and not yet opened the old one: it then fails with "Not a valid commit".
import { open, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { runGit } from './git-process.js'
import { packLookups } from './pack-lookups.js'
import { syncDirectory } from './repository.js'

export interface MaintenanceReport {
  readonly ok: boolean
  readonly message: string
}

/** Each pack kept holds at least this many times the objects of all lighter ones together (git's default). */
const geometricFactor = 2

/** Files a pack may have beside its .pack, deleted with it; the .idx goes first so no rescan picks the pack up. */
const packFileExtensions = ['.idx', '.pack', '.rev', '.bitmap', '.mtimes', '.promisor']

/** A pack that a round may fold: its name without extension, and how many objects it holds. */
export interface FoldablePack {
  readonly name: string
  readonly objects: number
}

/**
 * How many of `weights` (object counts, lightest first) to fold into one new pack so that the packs left form a
 * geometric progression, each at least `factor` times the weight of all lighter ones: git's split_pack_geometry
 * (builtin/repack.c), so the store's rounds fold what `git repack --geometric` would.
 */
export function geometricSplit (weights: readonly number[], factor: number): number {
  if (weights.length === 0) return 0
  // Count down from the heaviest the packs that already form a progression.
  let i = weights.length - 1
  while (i > 0 && weights[i] >= factor * weights[i - 1]) i--
  let split = i === 0 ? 0 : i + 1
  let total = 0
  for (let k = 0; k < split; k++) total += weights[k]
  // The new pack may be heavy enough to break the progression of the heavier packs: fold those too.
  while (split < weights.length && weights[split] < factor * total) {
    total += weights[split]
    split++
  }
  return split
}

/** The object count in a pack index (version 2, or the version 1 layout): the last fan-out entry. */
async function indexObjectCount (path: string): Promise<number | null> {
  const file = await open(path, 'r')
  try {
    const head = Buffer.alloc(8 + 256 * 4)
    const { bytesRead } = await file.read(head, 0, head.length, 0)
    const v2 = bytesRead >= 8 && head.readUInt32BE(0) === 0xff744f63
    const fanout = v2 ? 8 : 0
    if (v2 && head.readUInt32BE(4) !== 2) return null
    return bytesRead >= fanout + 256 * 4 ? head.readUInt32BE(fanout + 255 * 4) : null
  } finally {
    await file.close()
  }
}

/**
 * The packs in `packDir` a round may fold: a .pack with its .idx, and no .keep (fast-import keeps the packs it is
 * still writing), .promisor or .mtimes (cruft). Lightest first.
 */
export async function foldablePacks (packDir: string): Promise<FoldablePack[]> {
  const names = new Set(await readdir(packDir).catch(() => [] as string[]))
  const packs: FoldablePack[] = []
  for (const file of names) {
    if (!file.startsWith('pack-') || !file.endsWith('.idx')) continue
    const name = file.slice(0, -'.idx'.length)
    if (!names.has(`${name}.pack`) || ['.keep', '.promisor', '.mtimes'].some((ext) => names.has(name + ext))) continue
    const objects = await indexObjectCount(join(packDir, file)).catch(() => null)
    if (objects !== null) packs.push({ name, objects })
  }
  return packs.sort((a, b) => a.objects - b.objects || (a.name < b.name ? -1 : 1))
}

export class Maintenance {
  private running: Promise<MaintenanceReport> | null = null
  private rerun = false
  lastReport: MaintenanceReport | null = null
  /** True while a round has written its new pack and waits for lookups in flight before deleting the old ones. */
  waitingForLookups = false

  /** `afterRound` runs after every round, whatever its outcome (the repack may have deleted packs either way). */
  constructor (private readonly gitDir: string, private readonly afterRound: () => void = () => {}) {}

  /** Starts a round unless one is running (then one more round follows it). */
  trigger (): void {
    if (this.running !== null) { this.rerun = true; return }
    this.running = this.round().then((r) => {
      this.lastReport = r
      this.running = null
      this.afterRound()
      if (this.rerun) { this.rerun = false; this.trigger() }
      return r
    })
  }

  /** Waits for the running round, if any (close()). */
  async settle (): Promise<void> {
    this.rerun = false
    while (this.running !== null) await this.running
  }

  private async round (): Promise<MaintenanceReport> {
    const folded = await this.foldPacks().catch((e: Error) => e.message)
    if (typeof folded === 'string') return { ok: false, message: `git repack failed: ${folded}` }
    const graph = await runGit(this.gitDir, ['commit-graph', 'write', '--reachable', '--changed-paths', '--split']).catch((e: Error) => ({ code: -1, stderr: e.message }))
    if (graph.code !== 0) return { ok: false, message: `git commit-graph failed: ${graph.stderr}` }
    return { ok: true, message: 'repacked and wrote the commit-graph' }
  }

  /**
   * Writes one pack holding the objects of the lightest packs and the loose objects, then deletes what it holds
   * once no lookup that may have missed it is in flight. Resolves with null, or with git's message on failure.
   */
  private async foldPacks (): Promise<string | null> {
    const packDir = join(this.gitDir, 'objects', 'pack')
    const packs = await foldablePacks(packDir)
    const split = geometricSplit(packs.map((p) => p.objects), geometricFactor)
    const folded = packs.slice(0, split)
    // The same pack-objects run `git repack --geometric` makes: objects of the packs named, none of those named
    // with ^ (or kept), plus the loose objects; nothing written when there is nothing to pack.
    const input = [...folded.map((p) => `${p.name}.pack`), ...packs.slice(split).map((p) => `^${p.name}.pack`)].join('\n') + '\n'
    const made = await runGit(this.gitDir, ['pack-objects', '--stdin-packs', '--unpacked', '--non-empty', '--honor-pack-keep',
      '--keep-true-parents', '--delta-base-offset', '--quiet', join(packDir, 'pack')], input)
    if (made.code !== 0) return made.stderr
    const written = made.stdout.toString('utf8').trim()
    // The new pack's names are made durable before any folded pack is deleted: a crash in between must leave the
    // objects in one or the other (pack-objects fsyncs the files, not the folder).
    if (written !== '') await syncDirectory(packDir)
    // The new pack is in place (pack-objects names its .idx last). A lookup in flight may have rescanned before it
    // was; once those are answered, no lookup can need the folded packs.
    this.waitingForLookups = true
    try {
      await packLookups(this.gitDir).settled()
    } finally {
      this.waitingForLookups = false
    }
    for (const p of folded) {
      // A fold of one pack and no loose object rewrites that same pack (same content, same name): keep it.
      if (p.name === `pack-${written}`) continue
      for (const ext of packFileExtensions) await rm(join(packDir, p.name + ext), { force: true })
    }
    const pruned = await runGit(this.gitDir, ['prune-packed', '--quiet'])
    return pruned.code === 0 ? null : pruned.stderr
  }
}
