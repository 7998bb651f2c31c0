// The write load the store and HTTP benchmarks share: `callers` concurrent loops sharing one counter, each awaiting a
// durable set before taking the next index, so at most `callers` writes are in flight. Keys are spread over 100
// directories of at most 100 keys (spreadKeySuffix), so no commit rewrites a tree of thousands of entries: a
// directory with N direct children costs git a tree object of N entries on every commit that touches it.
import type { GitConfigStore } from '../src/index.js'

/** `app<i mod 100>/k<i mod 10,000>`: the key shape of every benchmark write load. */
export function spreadKeySuffix (i: number): string {
  return `app${i % 100}/k${i % 10_000}`
}

/** Durable sets per second for `total` sets from `callers` concurrent callers. */
export async function concurrentSetsPerSecond (store: GitConfigStore, callers: number, total: number): Promise<number> {
  let next = 0
  const t0 = performance.now()
  await Promise.all(Array.from({ length: callers }, async () => {
    while (next < total) {
      const i = next++
      await store.set(`/tp/${spreadKeySuffix(i)}`, `value-${i}`)
    }
  }))
  return total / ((performance.now() - t0) / 1000)
}

/** Durable sets per second from `callers` concurrent callers writing under `prefix` for `seconds`. */
export async function setsPerSecondFor (store: GitConfigStore, callers: number, seconds: number, prefix: string): Promise<number> {
  let next = 0
  const t0 = performance.now()
  const end = t0 + seconds * 1000
  await Promise.all(Array.from({ length: callers }, async () => {
    while (performance.now() < end) {
      const i = next++
      await store.set(`${prefix}/${spreadKeySuffix(i)}`, 'postgres://db1:5432/app1')
    }
  }))
  return next / ((performance.now() - t0) / 1000)
}
