// Store-side replication benchmark: two stores write N divergent keys each (half of them the same keys), then each
// pulls the other's head in-process (createPack -> ingestPack -> mergeFrom). Prints the time of each step and of the
// whole exchange (the "2 x 10,000 divergent keys within 5 s" goal of issue 5, without the network). Not a test.
//   node --import tsx bench/store-merge.ts [--keys 10000]
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GitConfigStore } from '../src/index.js'

const keysArg = process.argv.indexOf('--keys')
const keys = keysArg > 0 ? Number(process.argv[keysArg + 1]) : 10_000

async function fill (store: GitConfigStore, side: string): Promise<void> {
  const writes: Array<Promise<unknown>> = []
  for (let i = 0; i < keys; i++) {
    // Half the keys are written on both sides (real conflicts), half are one side's own.
    const key = i % 2 === 0 ? `/bench/shared/k${i}` : `/bench/${side}/k${i}`
    writes.push(store.set(key, `${side}-${i}-${'v'.repeat(40)}`, i % 10 === 0 ? { ttlMs: 3_600_000 } : undefined))
    if (writes.length >= 5_000) await Promise.all(writes.splice(0))
  }
  await Promise.all(writes)
  await store.flush()
}

async function timed<T> (label: string, fn: () => Promise<T>): Promise<T> {
  const start = performance.now()
  const result = await fn()
  console.log(`${label.padEnd(40)} ${(performance.now() - start).toFixed(0).padStart(7)} ms`)
  return result
}

async function main (): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'gitconfig-bench-merge-'))
  const a = await GitConfigStore.open(join(root, 'a'), { nodeId: 'bench-a', maintenance: false })
  const b = await GitConfigStore.open(join(root, 'b'), { nodeId: 'bench-b', maintenance: false })
  try {
    console.log(`${keys} keys written on each of two stores`)
    await timed('write (both stores)', async () => await Promise.all([fill(a, 'a'), fill(b, 'b')]))
    const total = performance.now()
    const pull = async (to: GitConfigStore, from: GitConfigStore, label: string): Promise<void> => {
      const head = from.head as string
      await timed(`${label}: createPack + ingestPack`, async () => {
        await to.ingestPack(from.createPack({ want: [head], have: [to.head as string] }), { expect: [head] })
      })
      const r = await timed(`${label}: mergeFrom`, async () => await to.mergeFrom(head))
      await timed(`${label}: index settled`, async () => { await to.flush() })
      console.log(`${label}: ${r.outcome}, ${r.changedKeys} keys changed`)
    }
    await pull(a, b, 'b -> a')
    await pull(b, a, 'a -> b')
    console.log(`${'whole exchange (both directions)'.padEnd(40)} ${(performance.now() - total).toFixed(0).padStart(7)} ms`)
    if (a.head !== b.head) throw new Error('heads differ after the exchange')
    console.log(`RSS ${(process.memoryUsage().rss / 1024 / 1024).toFixed(0)} MB (both stores in one process)`)
  } finally {
    await a.close()
    await b.close()
    await rm(root, { recursive: true, force: true })
  }
}

await main()
