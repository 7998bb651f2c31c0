// Sequential durable set latency of one key as its directory fills up: "flat" puts N other keys beside it in the same
// directory, "spread" puts them in 100 subdirectories (bench/store-load.ts's shape). Every commit rewrites the tree
// objects on the path to a changed key, so a directory of N entries costs git a tree of N entries per commit that
// touches anything in it. This is why bench/http.ts spreads its keys (decision 0307).
//   node --import tsx bench/store-wide-dir.ts [flat|spread|both] [samples=300]
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GitConfigStore } from '../src/index.js'
import { spreadKeySuffix } from './store-load.js'

const which = process.argv[2] ?? 'both'
const samples = Number(process.argv[3] ?? 300)
const steps = [0, 2000, 10_000, 20_000]

function percentile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}

async function run (shape: 'flat' | 'spread'): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'gitconfig-wide-'))
  const store = await GitConfigStore.open(join(root, 'repo'))
  try {
    let written = 0
    for (const target of steps) {
      let next = written
      await Promise.all(Array.from({ length: 64 }, async () => {
        while (next < target) {
          const i = next++
          await store.set(shape === 'flat' ? `/bench/k${i}` : `/bench/${spreadKeySuffix(i)}`, 'postgres://db1:5432/app1')
        }
      }))
      written = target
      await store.flush()
      await store.maintenanceSettled()
      const times: number[] = []
      for (let i = 0; i < samples; i++) {
        const t0 = performance.now()
        await store.set('/bench/seq', `v${i}`)
        times.push(performance.now() - t0)
      }
      times.sort((a, b) => a - b)
      console.log(`${shape.padEnd(6)} ${String(written).padStart(6)} other keys: set p50 ${percentile(times, 0.5).toFixed(2)} ms, p99 ${percentile(times, 0.99).toFixed(2)} ms`)
    }
  } finally {
    await store.close()
    await rm(root, { recursive: true, force: true })
  }
}

if (which !== 'spread') await run('flat')
if (which !== 'flat') await run('spread')
