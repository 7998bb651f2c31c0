// Flow control for one follower: the last index of each append message still unacknowledged, oldest first,
// bounded by `capacity` (config.inflightMessagesMax). When full, the leader stops sending appends to it.
export class Inflights {
  private readonly buffer: number[] = []

  constructor (readonly capacity: number) {}

  add (lastIndex: number): void {
    if (this.full()) throw new Error('inflights: add to a full window')
    this.buffer.push(lastIndex)
  }

  /** Acknowledges every message whose last index is <= `index`. */
  freeLE (index: number): void {
    let n = 0
    while (n < this.buffer.length && this.buffer[n] <= index) n++
    if (n > 0) this.buffer.splice(0, n)
  }

  full (): boolean { return this.buffer.length >= this.capacity }
  count (): number { return this.buffer.length }
  reset (): void { this.buffer.length = 0 }
}
