// Issue 13.1: single-node reads, writes, deletes and compare-and-swaps of a real node process are linearizable,
// without faults and across kill -9 restarts. Six HTTP clients load three keys of a `gitconfig node start` process
// (the built CLI: `npm run build` first) for 3 s; every key's history is checked with the linearizability checker
// (test/support/jepsen.ts says what is recorded and how). The long run is `npm run jepsen` (scripts/jepsen.ts).
//
// JEPSEN_SEED=S replays a seed's workload and kill schedule (not the node's timing); each run prints its seed.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomInt } from 'node:crypto'
import type { SimHistoryOp } from '../sim/models.js'
import { stopAll } from '../support/cli.js'
import {
  checkHistory, describeRun, firstViolation, jepsenOptions, runJepsen, verdictOf, type JepsenOptions, type JepsenResult
} from '../support/jepsen.js'

after(() => { stopAll() })

const seed = process.env.JEPSEN_SEED === undefined ? randomInt(0x7fffffff) : Number(process.env.JEPSEN_SEED)
const loadMs = 3_000

function replay (o: JepsenOptions): string {
  return `JEPSEN_SEED=${o.seed} node scripts/run-tests.mjs test/node/linearizability-process.test.ts` +
    ` (or npm run jepsen -- --seed ${o.seed} --seconds ${o.loadMs / 1000} --clients ${o.clients} --keys ${o.keys}${o.kill ? ' --kill' : ''})`
}

/**
 * The verdict of a run, as the test states it: a crash, an undocumented reply, an undecided key (the checker's
 * search bound: not a pass) and a violation each fail with their own message.
 */
function assertLinearizable (r: JepsenResult): void {
  const report = `${describeRun(r).join('\n')}\nreplay: ${replay(r.options)}`
  assert.deepEqual(r.crashes, [], `the node exited by itself\n${report}`)
  assert.deepEqual(r.unexpected, [], `replies the API does not document\n${report}`)
  const verdict = verdictOf(r)
  assert.notEqual(verdict, 'not linearizable', `a key's history is not linearizable\n${report}`)
  assert.notEqual(verdict, 'undecided', `the checker could not decide a key's history within ${r.options.statesMax} states; that is not a pass\n${report}`)
}

/** The run did what it names: reads saw values, writes landed, CAS both swapped and refused. */
function assertExercised (r: JepsenResult): void {
  for (const what of ['get:value', 'put:ok', 'cas:swapped', 'cas:refused']) {
    assert.ok((r.counts[what] ?? 0) > 0, `no ${what} in the run: ${JSON.stringify(r.counts)}`)
  }
}

async function run (t: { diagnostic: (message: string) => void }, o: JepsenOptions): Promise<JepsenResult> {
  t.diagnostic(`seed ${o.seed}; replay: ${replay(o)}`)
  const r = await runJepsen(o, { log: line => { t.diagnostic(line) } })
  // The summary; a failure's message has the details.
  t.diagnostic(describeRun(r)[0])
  return r
}

test('no faults: 6 clients doing read/write/delete/cas on 3 keys of a node process are linearizable',
  async (t) => {
    const r = await run(t, jepsenOptions({ seed, loadMs }))
    assertExercised(r)
    assertLinearizable(r)
  })

test('kill -9 at random moments, restarted on the same repository: still linearizable, acknowledged writes survive',
  async (t) => {
    const r = await run(t, jepsenOptions({ seed, loadMs, kill: true, killGapMs: [600, 1_500] }))
    assertExercised(r)
    assert.ok(r.kills >= 2, `at least one kill during the load and one at its end: ${r.kills}`)
    assertLinearizable(r)
  })

/**
 * A read that must have come after two finished writes W1 < W2 (W2 was called after W1 returned, the read after
 * W2 returned), changed to return W1's value: values are unique, so no op can bring it back, and the history can
 * no longer be linearizable.
 */
function staleRead (history: readonly SimHistoryOp[]): { history: SimHistoryOp[], read: SimHistoryOp } | null {
  const done = history.filter(op => op.returnTime !== Infinity)
  const writes = done.filter(op => op.input.kind === 'put')
  for (const [i, read] of history.entries()) {
    if (read.input.kind !== 'get' || read.returnTime === Infinity) continue
    const key = read.input.key
    const before = writes.filter(w => 'key' in w.input && w.input.key === key && w.returnTime < read.callTime)
    for (const w2 of before) {
      const w1 = before.find(w => w.returnTime < w2.callTime)
      if (w1 === undefined || w1.input.kind !== 'put') continue
      const corrupted: SimHistoryOp = { ...read, output: { kind: 'get', value: w1.input.value } }
      return { history: history.map((op, j) => j === i ? corrupted : op), read: corrupted }
    }
  }
  return null
}

test('the check can fail: a real read/write history passes, and fails once one read is made stale; an undecided check is not a pass', async (t) => {
  // Reads and writes alone do not decide anything on the accepted queue, so they are linearizable today.
  const r = await run(t, jepsenOptions({ seed, loadMs: 1_500, mix: { get: 50, put: 50, cas: 0, delete: 0 } }))
  assertLinearizable(r)

  const stale = staleRead(r.history)
  assert.ok(stale !== null, 'the run has a read after two sequential writes to its key')
  const corrupted = { ...r, verdicts: checkHistory(stale.history) }
  assert.throws(() => { assertLinearizable(corrupted) }, /not linearizable/)
  const key = stale.read.input.kind === 'get' ? stale.read.input.key : ''
  const bad = corrupted.verdicts.filter(v => v.result.ok === false)
  assert.deepEqual(bad.map(v => v.key), [key])
  // The search for the earliest failing reply names the read that was changed.
  assert.deepEqual(firstViolation(stale.history.filter(op => 'key' in op.input && op.input.key === key))?.culprit, stale.read)
  t.diagnostic(`corrupted:${describeRun(corrupted).slice(1).join('\n')}`)

  // A search cut short by the bound is 'undecided', which fails the run as well.
  const bounded = { ...r, verdicts: checkHistory(r.history, 1) }
  assert.equal(verdictOf(bounded), 'undecided')
  assert.throws(() => { assertLinearizable(bounded) }, /could not decide/)
})
