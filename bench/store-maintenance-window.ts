// Sequential set latency of the first write after each maintenance window against all other writes. Every
// maintenanceCommitsInterval (100) commits the store stops fast-import so a repack can run, and the next write starts
// a new fast-import (after `git rev-parse` of main) while the repack runs. With 100 commits per window those writes
// are 1% of a sequential run, which is exactly its p99 (decision 0307, finding 8).
//   node --import tsx bench/store-maintenance-window.ts [writes=1000]
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GitConfigStore } from '../src/index.js'
import { maintenanceCommitsInterval } from '../src/limits.js'

const writes = Number(process.argv[2] ?? 1000)
const root = await mkdtemp(join(tmpdir(), 'gitconfig-maint-window-'))
const store = await GitConfigStore.open(join(root, 'repo'))
const firstAfterWindow: number[] = []
const others: number[] = []
try {
  for (let i = 0; i < writes; i++) {
    const t0 = performance.now()
    await store.set('/window/k', `v${i}`)
    const ms = performance.now() - t0
    // Write i makes commit i + 1; the window closes after commit 100, 200, ..., so writes 100, 200, ... restart git.
    if (i > 0 && i % maintenanceCommitsInterval === 0) firstAfterWindow.push(ms)
    else others.push(ms)
  }
} finally {
  await store.close()
  await rm(root, { recursive: true, force: true })
}
const pct = (t: number[], p: number): string => {
  const s = [...t].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p * s.length))].toFixed(2)
}
console.log(`first write after a maintenance window: p50 ${pct(firstAfterWindow, 0.5)} ms, max ${pct(firstAfterWindow, 1)} ms ` +
  `(${firstAfterWindow.length} writes); all other writes: p50 ${pct(others, 0.5)} ms, p99 ${pct(others, 0.99)} ms`)
