// What the replication benchmarks share: their write load (POSTs; `count` keys under a prefix with a bounded number
// of requests in flight, spread over 100 directories by spreadKeySuffix unless `flat` puts them in one), and the
// checks they wait on (a node's main tree, its connected peers, a condition polled until it holds).
import { execFileSync } from 'node:child_process'
import { setTimeout as delay } from 'node:timers/promises'
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

/** The tree of a repository's main branch (equal trees on every node means converged). */
export function mainTree (repo: string): string {
  return execFileSync('git', ['-C', repo, 'rev-parse', 'main^{tree}'], { encoding: 'utf8' }).trim()
}

/** Polls `check` every `stepMs` until it holds; throws after `timeoutMs` (a hang guard, not a measurement). */
export async function until (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 300_000, stepMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`)
    await delay(stepMs)
  }
}

/** How many peers the node at `url` reports as connected. */
export async function connectedPeers (url: string): Promise<number> {
  const status = await (await fetch(`${url}/status`)).json() as { p2p: { peers: Array<{ connected: boolean }> } }
  return status.p2p.peers.filter(p => p.connected).length
}
