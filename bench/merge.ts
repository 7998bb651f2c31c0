// Throughput of the pure merge functions on states of the sizes issue 5 cares about (2 x 10,000 divergent keys after
// a partition heals, and larger). Prints numbers; not a test. Run: node --import tsx bench/merge.ts
import type { TreeEntry } from '../src/gitstore/entry.js'
import { diffStates, expireDue, mergeStates } from '../src/gitstore/merge.js'

function entry (i: number, node: string, wallMs: number, ttl: boolean): TreeEntry {
  return {
    meta: { op: 'set', version: { wallMs, counter: i % 7, node }, expiresAtMs: ttl ? wallMs + 1000 : null, author: `client${i % 13}`, raftIndex: null },
    valueOid: (i * 2654435761 >>> 0).toString(16).padStart(40, '0')
  }
}

function state (keys: number, divergent: number, node: string): Map<string, TreeEntry> {
  const s = new Map<string, TreeEntry>()
  // A shared base every replica holds (the same objects, as after an earlier merge), then keys only this side wrote.
  for (let i = 0; i < keys; i++) s.set(`/shared/k${i}`, base[i] ?? (base[i] = entry(i, 'base', 1_000, i % 10 === 0)))
  for (let i = 0; i < divergent; i++) s.set(`/${node}/k${i}`, entry(i, node, 2_000 + i, i % 10 === 0))
  return s
}
const base: TreeEntry[] = []

function time (label: string, runs: number, fn: () => unknown): void {
  fn()
  const t0 = performance.now()
  for (let i = 0; i < runs; i++) fn()
  const ms = (performance.now() - t0) / runs
  console.log(`${label.padEnd(58)} ${ms.toFixed(2)} ms`)
}

for (const [shared, divergent] of [[0, 10_000], [100_000, 10_000], [0, 100_000]] as const) {
  const a = state(shared, divergent, 'n1')
  const b = state(shared, divergent, 'n2')
  const merged = mergeStates(a, b)
  console.log(`-- ${shared} shared keys + ${divergent} divergent keys per side (${merged.size} keys merged)`)
  time('mergeStates(a, b)', 5, () => mergeStates(a, b))
  time('diffStates(a, merged)', 5, () => diffStates(a, merged))
  time('expireDue(merged, deadline passed for 10%)', 5, () => expireDue(merged, 10_000))
}
