// Time as the Raft host sees it: ticks, and "soon" for running the host loop after an input. The Raft core counts
// ticks and never reads a clock (STYLE.md); the node turns milliseconds into ticks here. The simulator supplies its
// own HostClock on virtual time (test/sim/run.ts).
import { GitConfigError } from '../errors.js'

export interface HostClock {
  /** Calls `onTick` once per Raft tick until the returned function is called. */
  startTicking (onTick: () => void): () => void
  /** Runs `fn` later, after the caller has returned: the host loop runs there, never inside an input. */
  defer (fn: () => void): void
}

/** Real time for the daemon: a tick every `tickMs` (not keeping the process alive), the loop on the next turn. */
export function systemClock (tickMs: number): HostClock {
  if (!Number.isSafeInteger(tickMs) || tickMs <= 0) throw new GitConfigError('INVALID_ARGUMENT', `tickMs must be a positive integer, not ${tickMs}`)
  return {
    startTicking (onTick) {
      const timer = setInterval(onTick, tickMs)
      timer.unref()
      return () => { clearInterval(timer) }
    },
    defer (fn) { setImmediate(fn) }
  }
}
