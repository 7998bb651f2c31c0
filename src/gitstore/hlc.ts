// Hybrid logical clock (Kulkarni et al., "Logical Physical Clocks", 2014). Versions order plain writes across
// nodes: the wall-clock part keeps them close to real time, the counter orders changes inside one millisecond and
// after a clock step backwards, and the node id breaks ties so two nodes never produce equal versions.
import type { Version } from '../types.js'

/** Largest allowed jump of a remote version ahead of our wall clock before we refuse to follow it. */
export const hlcRemoteDriftMsMax = 60_000

export function compareVersions (a: Version, b: Version): number {
  if (a.wallMs !== b.wallMs) return a.wallMs < b.wallMs ? -1 : 1
  if (a.counter !== b.counter) return a.counter < b.counter ? -1 : 1
  if (a.node === b.node) return 0
  return a.node < b.node ? -1 : 1
}

export function formatVersion (v: Version): string {
  return `${v.wallMs}.${v.counter}@${v.node}`
}

const versionPattern = /^(\d{1,16})\.(\d{1,10})@([A-Za-z0-9_-]{1,64})$/

export function parseVersion (text: string): Version | null {
  const m = versionPattern.exec(text)
  if (m === null) return null
  const wallMs = Number(m[1])
  const counter = Number(m[2])
  if (!Number.isSafeInteger(wallMs) || !Number.isSafeInteger(counter)) return null
  return { wallMs, counter, node: m[3] }
}

export const nodeIdPattern = /^[A-Za-z0-9_-]{1,64}$/

export class HybridLogicalClock {
  private last: Version

  constructor (readonly node: string, private readonly wallClockMs: () => number) {
    if (!nodeIdPattern.test(node)) throw new Error(`invalid node id ${JSON.stringify(node)}`)
    this.last = { wallMs: 0, counter: 0, node }
  }

  /** A version greater than every version this clock has issued or observed. */
  now (): Version {
    const wall = this.wallClockMs()
    this.last = wall > this.last.wallMs
      ? { wallMs: wall, counter: 0, node: this.node }
      : { wallMs: this.last.wallMs, counter: this.last.counter + 1, node: this.node }
    return this.last
  }

  /**
   * Moves the clock past a version this node itself issued earlier (its own history, read at start-up), however
   * far ahead of the wall clock it is: unlike observe(), refusing would let a restart reuse a version.
   */
  restore (own: Version): void {
    if (own.wallMs > this.last.wallMs || (own.wallMs === this.last.wallMs && own.counter > this.last.counter)) {
      this.last = { wallMs: own.wallMs, counter: own.counter, node: this.node }
    }
  }

  /**
   * Takes note of a version seen elsewhere (a merged change, our own history at start-up) so later local versions
   * order after it. A remote version far ahead of our wall clock is ignored rather than followed, so one node with
   * a wrong clock cannot drag every node's versions into the future; returns false then.
   */
  observe (remote: Version): boolean {
    if (remote.wallMs > this.wallClockMs() + hlcRemoteDriftMsMax) return false
    if (remote.wallMs > this.last.wallMs ||
        (remote.wallMs === this.last.wallMs && remote.counter > this.last.counter)) {
      this.last = { wallMs: remote.wallMs, counter: remote.counter, node: this.node }
    }
    return true
  }
}
