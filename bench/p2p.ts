// Measures the p2p layer on loopback, three hosts in one process (2 and 3 bootstrap from 1, then find each other):
// time until the cluster is fully connected, gossip propagation of head announcements (p50/p99), fetch throughput,
// and RSS. Prints numbers; asserts nothing. Run: node --import tsx bench/p2p.ts
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createP2pHost, type P2pHost } from '../src/p2p/index.js'
import type { HeadAnnouncement } from '../src/p2p/index.js'

const MiB = 1024 * 1024

function percentile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
}

async function until (condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise(resolve => setTimeout(resolve, 5))
}

function commitOf (n: number): string {
  return n.toString(16).padStart(40, '0')
}

const dir = await mkdtemp(join(tmpdir(), 'gitconfig-bench-p2p-'))
const chunk = new Uint8Array(1 * MiB).fill(7)
const hosts: P2pHost[] = []
try {
  const rssBeforeMb = process.memoryUsage().rss / MiB
  const make = async (name: string, bootstrap: string[]): Promise<P2pHost> => {
    const host = await createP2pHost({
      keyFile: join(dir, `${name}.key`),
      bootstrap,
      localHeads: () => [],
      fetchResponder: async function * (request) {
        const totalMb = Number.parseInt(request.want[0], 16)
        for (let i = 0; i < totalMb; i++) yield chunk
      }
    })
    await host.start()
    hosts.push(host)
    return host
  }
  const t0 = performance.now()
  const n1 = await make('n1', [])
  const n2 = await make('n2', n1.multiaddrs())
  const n3 = await make('n3', n1.multiaddrs())
  const connected = (a: P2pHost, b: P2pHost): boolean => a.peers().some(p => p.peerId === b.peerId)
  await until(() => connected(n2, n3) && connected(n3, n2) && connected(n1, n2) && connected(n1, n3))
  console.log(`full mesh (n2 <-> n3 learned through n1): ${(performance.now() - t0).toFixed(0)} ms after the first start`)

  // Gossip: n3 announces, n2 and n1 receive. Warm up until the mesh delivers, then 1000 messages at 200/s.
  const sentAt = new Map<string, number>()
  const latencies: number[] = []
  n2.addEventListener('head', (event) => {
    const start = sentAt.get(event.detail.head.commit)
    if (event.detail.via === 'gossip' && start !== undefined) {
      latencies.push(performance.now() - start)
      sentAt.delete(event.detail.head.commit)
    }
  })
  const announce = async (n: number): Promise<void> => {
    const head: HeadAnnouncement = { nodeId: 'n3', commit: commitOf(n), hlc: { wallMs: Date.now(), counter: 0, node: 'n3' } }
    sentAt.set(head.commit, performance.now())
    await n3.announceHead(head)
  }
  for (let n = 1_000_000; latencies.length === 0; n++) {
    await announce(n)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  latencies.length = 0
  sentAt.clear()
  const count = 1000
  const burstStart = performance.now()
  for (let n = 0; n < count; n++) {
    await announce(n)
    const due = burstStart + (n + 1) * 5
    const wait = due - performance.now()
    if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
  }
  await Promise.race([until(() => latencies.length === count), new Promise(resolve => setTimeout(resolve, 10_000))])
  latencies.sort((a, b) => a - b)
  console.log(`gossip n3 -> n2, ${count} announcements at 200/s: delivered ${latencies.length}, p50 ${percentile(latencies, 0.5).toFixed(1)} ms, p99 ${percentile(latencies, 0.99).toFixed(1)} ms, max ${latencies.at(-1)?.toFixed(1)} ms`)

  for (const sizeMb of [10, 100]) {
    const start = performance.now()
    let bytes = 0
    for await (const part of n2.fetch(n3.peerId, { want: [sizeMb.toString(16).padStart(40, '0')], have: [] })) bytes += part.byteLength
    const seconds = (performance.now() - start) / 1000
    console.log(`fetch ${sizeMb} MiB n3 -> n2 (learned peer): ${(bytes / MiB / seconds).toFixed(0)} MiB/s (${(seconds * 1000).toFixed(0)} ms)`)
  }
  console.log(`RSS: ${rssBeforeMb.toFixed(0)} MB before the hosts, ${(process.memoryUsage().rss / MiB).toFixed(0)} MB with 3 hosts after the runs`)
  console.log('counters n2:', JSON.stringify(n2.counters()))
} finally {
  for (const host of hosts) await host.stop()
  await rm(dir, { recursive: true, force: true })
}
