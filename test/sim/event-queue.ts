// A priority queue of simulation events ordered by (virtual time, insertion order): ties run in the order they
// were scheduled, so a seed always replays the same schedule.
export interface Scheduled<E> { readonly time: number, readonly seq: number, readonly event: E }

export class EventQueue<E> {
  private readonly heap: Array<Scheduled<E>> = []
  private seq = 0

  get size (): number { return this.heap.length }

  push (time: number, event: E): void {
    const item = { time, seq: this.seq++, event }
    const h = this.heap
    h.push(item)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.less(h[i], h[p])) break
      ;[h[i], h[p]] = [h[p], h[i]]
      i = p
    }
  }

  pop (): Scheduled<E> | undefined {
    const h = this.heap
    if (h.length === 0) return undefined
    const top = h[0]
    const last = h.pop() as Scheduled<E>
    if (h.length > 0) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && this.less(h[l], h[m])) m = l
        if (r < h.length && this.less(h[r], h[m])) m = r
        if (m === i) break
        ;[h[i], h[m]] = [h[m], h[i]]
        i = m
      }
    }
    return top
  }

  private less (a: Scheduled<E>, b: Scheduled<E>): boolean {
    return a.time < b.time || (a.time === b.time && a.seq < b.seq)
  }
}
