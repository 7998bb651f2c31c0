// The CI slice of the simulation campaign: a few hundred seeds of mixed faults must show no invariant,
// linearizability or liveness violation; and one seed run twice must give the same trace.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runSeed } from './run.js'

const seedCount = 300

test(`simulation: ${seedCount} seeds of mixed faults pass every checker`, () => {
  const failures: string[] = []
  let ops = 0
  for (let seed = 1; seed <= seedCount; seed++) {
    const r = runSeed(seed)
    ops += r.ops
    if (!r.ok) failures.push(`seed ${seed}: ${r.violations.map(v => `${v.kind}: ${v.detail}`).join('; ')} (replay: npm run sim -- --seed ${seed} --trace)`)
  }
  assert.deepEqual(failures, [])
  assert.ok(ops > seedCount * 50, `clients should complete plenty of operations (got ${ops})`)
})

test('simulation: a seed replays exactly', () => {
  const a = runSeed(4242, { trace: true })
  const b = runSeed(4242, { trace: true })
  assert.ok(a.trace.length > 50)
  assert.deepEqual(a.trace, b.trace)
  assert.equal(a.messages, b.messages)
  assert.notDeepEqual(runSeed(4243, { trace: true }).trace, a.trace, 'another seed gives another run')
})
