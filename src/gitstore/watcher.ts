// One watch() subscription: an async iterator that first replays changes from the change log (lazily, a page at a
// time, so a slow consumer holds at most one page) and then yields live changes buffered since it registered.
// Registration and the replay bound are taken in the same tick, so replay and live meet without a gap or an overlap.
import { GitConfigError } from '../errors.js'
import type { WatchEvent } from '../types.js'

export interface WatcherInit {
  readonly matches: (key: string) => boolean
  /** Next replay page; null when the replay is complete. Absent: live only. */
  readonly replay: (() => Promise<WatchEvent[] | null>) | null
  /** The commit a consumer would resume from if nothing has been delivered yet (since, or the head at start). */
  readonly startCommit: string | null
  /** Settles once the `since` cursor has been looked up (rejecting as the first next() will); absent: nothing to check. */
  readonly cursorChecked?: Promise<unknown>
  readonly queueEventsMax: number
  readonly onEnd: () => void
  readonly signal?: AbortSignal
}

export class Watcher implements AsyncIterableIterator<WatchEvent> {
  private queue: WatchEvent[] = []
  private live: Array<{ seq: number, event: WatchEvent }> = []
  /** Change-log positions up to this one were covered by the replay (or precede `since`): never delivered live. */
  private coveredThroughSeq = -1
  private replaying: boolean
  private wake: (() => void) | null = null
  private failure: Error | null = null
  private ended = false
  /** The newest commit whose events have all been delivered. */
  private lastCompleteCommit: string | null
  private readonly onAbort = (): void => { this.end(null) }

  constructor (private readonly init: WatcherInit) {
    this.replaying = init.replay !== null
    this.lastCompleteCommit = init.startCommit
    init.signal?.addEventListener('abort', this.onAbort, { once: true })
    if (init.signal?.aborted === true) this.end(null)
  }

  [Symbol.asyncIterator] (): AsyncIterableIterator<WatchEvent> { return this }

  /**
   * Resolves once the watch's `since` cursor is known to name a commit of main (at once without a cursor), and
   * rejects with the error the first next() will throw otherwise (UNKNOWN_COMMIT, INVALID_ARGUMENT).
   */
  async cursorChecked (): Promise<void> {
    await this.init.cursorChecked
  }

  /** The events of one newly durable commit (change-log position `seq`), in order. */
  offer (seq: number, events: readonly WatchEvent[]): void {
    if (this.ended || seq <= this.coveredThroughSeq) return
    for (const e of events) {
      if (!this.init.matches(e.key)) continue
      if (this.queue.length + this.live.length >= this.init.queueEventsMax) {
        this.overflow()
        return
      }
      if (this.replaying) this.live.push({ seq, event: e })
      else this.queue.push(e)
    }
    this.signalWake()
  }

  /**
   * Live commits up to `seq` must not be delivered: called at registration (positions the replay covers or that are
   * in the past) and by the replay once it knows where `since` is.
   */
  coverThrough (seq: number): void {
    this.coveredThroughSeq = Math.max(this.coveredThroughSeq, seq)
  }

  /** Ends the watch: cleanly (err null) or with an error the consumer's next() rejects with. */
  end (err: Error | null): void {
    if (this.ended) return
    this.ended = true
    this.failure = err
    if (err === null) { this.queue = []; this.live = [] }
    this.init.signal?.removeEventListener('abort', this.onAbort)
    this.init.onEnd()
    this.signalWake()
  }

  async next (): Promise<IteratorResult<WatchEvent>> {
    while (true) {
      const e = this.queue.shift()
      if (e !== undefined) {
        this.deliver(e)
        return { value: e, done: false }
      }
      if (this.ended) {
        if (this.failure !== null) {
          const err = this.failure
          this.failure = null
          throw err
        }
        return { value: undefined, done: true }
      }
      if (this.replaying && this.init.replay !== null) {
        let page: WatchEvent[] | null
        try {
          page = await this.init.replay()
        } catch (err) {
          this.end(err instanceof Error ? err : new Error(String(err)))
          continue
        }
        if (page === null) {
          this.replaying = false
          this.queue.push(...this.live.filter((l) => l.seq > this.coveredThroughSeq).map((l) => l.event))
          this.live = []
        } else {
          this.queue.push(...page.filter((ev) => this.init.matches(ev.key)))
        }
        continue
      }
      await new Promise<void>((resolve) => { this.wake = resolve })
    }
  }

  async return (): Promise<IteratorResult<WatchEvent>> {
    this.end(null)
    return { value: undefined, done: true }
  }

  private deliver (e: WatchEvent): void {
    // A commit's events are queued together (a live commit at once, a replay page holds whole commits), so when
    // the next queued event belongs to another commit, every event of e's commit has been delivered.
    if (this.queue.length === 0 || this.queue[0].commit !== e.commit) this.lastCompleteCommit = e.commit
  }

  private overflow (): void {
    const resumeSince = this.lastCompleteCommit
    this.end(new GitConfigError('WATCH_OVERFLOW',
      `the watcher fell more than ${this.init.queueEventsMax} events behind and was ended; ` +
      `watch again with since=${resumeSince ?? '(the commit you started from)'} to continue without missing changes`,
      { resumeSince, queueEventsMax: this.init.queueEventsMax }))
  }

  private signalWake (): void {
    const wake = this.wake
    this.wake = null
    wake?.()
  }
}
