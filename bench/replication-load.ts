// The write load of the replication benchmarks: POSTs to a node, and `count` keys under a prefix with a bounded
// number of requests in flight, spread over 100 directories (spreadKeySuffix) unless `flat` puts them in one.
import { spreadKeySuffix } from './store-load.js'

export async function post (url: string, key: string, value: string): Promise<void> {
  const res = await fetch(`${url}/keys${key}`, { method: 'POST', body: value })
  await res.arrayBuffer()
  if (res.status !== 200) throw new Error(`POST ${key}: ${res.status}`)
}

/** Writes `count` keys under `prefix` with at most `concurrency` requests in flight. */
export async function writeMany (url: string, prefix: string, count: number, opts: { concurrency: number, flat: boolean }): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: opts.concurrency }, async () => {
    while (next < count) {
      const i = next++
      await post(url, `${prefix}/${opts.flat ? `k${i}` : spreadKeySuffix(i)}`, `v${i}`)
    }
  }))
}
