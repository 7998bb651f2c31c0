// Background upkeep that keeps reads and history fast as the repository grows: fold the many small packs that
// one-pack-per-checkpoint produces (geometric repack) and refresh the commit-graph with changed-path Bloom filters.
// Runs in child processes, one round at a time, never in the write path.
import { runGit } from './git-process.js'

export interface MaintenanceReport {
  readonly ok: boolean
  readonly message: string
}

export class Maintenance {
  private running: Promise<MaintenanceReport> | null = null
  private rerun = false
  lastReport: MaintenanceReport | null = null

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
    const repack = await runGit(this.gitDir, ['repack', '-d', '-q', '--geometric=2']).catch((e: Error) => ({ code: -1, stderr: e.message }))
    if (repack.code !== 0) return { ok: false, message: `git repack failed: ${repack.stderr}` }
    const graph = await runGit(this.gitDir, ['commit-graph', 'write', '--reachable', '--changed-paths', '--split']).catch((e: Error) => ({ code: -1, stderr: e.message }))
    if (graph.code !== 0) return { ok: false, message: `git commit-graph failed: ${graph.stderr}` }
    return { ok: true, message: 'repacked and wrote the commit-graph' }
  }
}
