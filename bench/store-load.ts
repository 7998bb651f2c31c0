// The write load both store benchmarks use: `callers` concurrent loops sharing one counter, each awaiting a durable
// set before taking the next index, so at most `callers` writes are in flight. Returns durable sets per second.
import type { GitConfigStore } from '../src/index.js'

export async function concurrentSetsPerSecond (store: GitConfigStore, callers: number, total: number): Promise<number> {
  let next = 0
  const t0 = performance.now()
  await Promise.all(Array.from({ length: callers }, async () => {
    while (next < total) {
      const i = next++
      await store.set(`/tp/app${i % 100}/k${i % 10_000}`, `value-${i}`)
    }
  }))
  return total / ((performance.now() - t0) / 1000)
}
