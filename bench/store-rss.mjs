// The gets and RSS rows of bench/store.ts, in a fresh process so the earlier phases' garbage does not count. Plain
// JavaScript on the compiled build (dist/, made by `npm ci` / `npm run build`): what `npx gitconfig` and library users
// run, without the TypeScript loader's own memory. Prints the rows as JSON on stdout.
//   node --expose-gc bench/store-rss.mjs [keys] [gets]
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { GitConfigStore } from '../dist/src/index.js'

const keys = Number(process.argv[2] ?? 100_000)
const gets = Number(process.argv[3] ?? 1_000_000)
const rssAtStartMb = Math.round(process.memoryUsage().rss / 1024 / 1024)
const rows = []
const root = await mkdtemp(join(tmpdir(), 'gitconfig-bench-rss-'))
const store = await GitConfigStore.open(join(root, 'repo'))
try {
  let next = 0
  await Promise.all(Array.from({ length: 256 }, async () => {
    while (next < keys) {
      const i = next++
      await store.set(`/rss/app${i % 100}/key${i}`, `some configuration value number ${i}`)
    }
  }))
  await store.flush()
  for (let i = 0; i < keys; i++) await store.get(`/rss/app${i % 100}/key${i}`)
  const t0 = performance.now()
  let found = 0
  for (let i = 0; i < gets; i++) {
    if (await store.get(`/rss/app${i % 100}/key${i % keys}`) !== null) found++
  }
  const seconds = (performance.now() - t0) / 1000
  if (found !== gets) throw new Error('a get missed')
  rows.push(['gets/s (sequential awaits, current values)', `${Math.round(gets / seconds)}`, '>= 200,000'])
  globalThis.gc?.()
  const heapMb = Math.round(process.memoryUsage().heapUsed / 1024 / 1024)
  rows.push([`RSS with ${keys} keys (after reading all)`,
    `${Math.round(process.memoryUsage().rss / 1024 / 1024)} MB (heap ${heapMb} MB; compiled build, node at start ${rssAtStartMb} MB)`, '<= 200 MB'])
} finally {
  await store.close()
  await rm(root, { recursive: true, force: true })
}
console.log(JSON.stringify(rows))
