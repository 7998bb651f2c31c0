// A test of the simulator itself: with a deliberately broken Raft (a node that votes twice in one term), the
// campaign must find a violation within 1,000 seeds, and the failing seed must replay to the same failure.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runSeed } from './run.js'
import { bugFactories } from './buggy-raft.js'

test('the simulator catches a double vote within 1,000 seeds', () => {
  const factory = bugFactories.unsafeDoubleVote
  let caught: number | undefined
  for (let seed = 1; seed <= 1000 && caught === undefined; seed++) {
    const r = runSeed(seed, { factory, skipLinearizability: true })
    if (!r.ok) caught = seed
  }
  assert.notEqual(caught, undefined, 'no seed out of 1,000 caught the injected bug')
  const seed = caught as number
  const first = runSeed(seed, { factory })
  const again = runSeed(seed, { factory })
  assert.ok(first.violations.some(v => v.kind === 'election-safety'), 'two leaders in one term is what a double vote causes')
  assert.deepEqual(again.violations, first.violations, 'the failing seed replays to the same failure')
})

test('the correct Raft passes the seeds that catch the double vote', () => {
  for (let seed = 1; seed <= 20; seed++) assert.ok(runSeed(seed, { skipLinearizability: true }).ok, `seed ${seed}`)
})
