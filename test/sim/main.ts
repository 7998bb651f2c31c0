// Simulator entry point.
//   npm run sim -- --seed N [--trace]        replay one seed (with --trace: print its trace)
//   npm run sim -- --seeds 10000 [--from S]  run seeds S, S+1, ... and print a summary
// Any failing seed is printed with the command that replays it. Exit code 1 when any seed failed.
import { runSeed } from './run.js'
import type { RunResult } from './run.js'
import { bugFactories } from './buggy-raft.js'
import type { RaftFactory } from '../../src/raft/raw-node.js'

interface Args { seed?: number, seeds?: number, from: number, trace: boolean, bug?: string }

function parseArgs (argv: readonly string[]): Args {
  const args: Args = { from: 1, trace: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const num = (): number => {
      const v = Number(argv[++i])
      if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${a} needs a non-negative integer`)
      return v
    }
    if (a === '--seed') args.seed = num()
    else if (a === '--seeds') args.seeds = num()
    else if (a === '--from') args.from = num()
    else if (a === '--trace') args.trace = true
    else if (a === '--bug') args.bug = argv[++i]
    else throw new Error(`unknown argument ${a}`)
  }
  return args
}

function replayCommand (seed: number, bug?: string): string {
  return `npm run sim -- --seed ${seed} --trace${bug !== undefined ? ` --bug ${bug}` : ''}`
}

function printFailure (r: RunResult, bug?: string): void {
  console.log(`FAIL seed=${r.seed}: ${r.violations.map(v => `${v.kind} at t=${v.timeMs}: ${v.detail}`).join('\n  ')}`)
  console.log(`  replay: ${replayCommand(r.seed, bug)}`)
}

function main (): void {
  const args = parseArgs(process.argv.slice(2))
  let factory: RaftFactory | undefined
  if (args.bug !== undefined) {
    factory = bugFactories[args.bug]
    if (factory === undefined) throw new Error(`unknown --bug ${args.bug}; known: ${Object.keys(bugFactories).join(', ')}`)
  }
  if (args.seed !== undefined) {
    console.log(`seed ${args.seed}`)
    const r = runSeed(args.seed, { trace: args.trace, factory })
    if (args.trace) for (const line of r.trace) console.log(line)
    console.log(`ops=${r.ops} unknown=${r.unknownOps} lockGrants=${r.lockGrants} confChanges=${r.confChanges} crashes=${r.crashes} messages=${r.messages} virtualMs=${r.virtualMs} recoveryMs=${r.recoveryMs}${r.linearizabilityUnknown ? ' linearizability=undecided' : ''}`)
    if (!r.ok) printFailure(r, args.bug)
    else console.log('ok')
    process.exitCode = r.ok ? 0 : 1
    return
  }
  const count = args.seeds ?? 100
  const started = performance.now()
  const byKind = new Map<string, number>()
  let ops = 0
  let unknown = 0
  let grants = 0
  let confChanges = 0
  let undecided = 0
  let crashes = 0
  let failed = 0
  let maxRecoveryMs = 0
  console.log(`campaign: seeds ${args.from}..${args.from + count - 1}`)
  for (let s = args.from; s < args.from + count; s++) {
    const r = runSeed(s, { factory })
    ops += r.ops
    unknown += r.unknownOps
    grants += r.lockGrants
    confChanges += r.confChanges
    if (r.linearizabilityUnknown) undecided++
    crashes += r.crashes
    maxRecoveryMs = Math.max(maxRecoveryMs, r.recoveryMs)
    if (!r.ok) {
      failed++
      for (const v of r.violations) byKind.set(v.kind, (byKind.get(v.kind) ?? 0) + 1)
      printFailure(r, args.bug)
    }
    if ((s - args.from + 1) % 500 === 0) console.log(`  ... ${s - args.from + 1} seeds, ${failed} failed, ${((performance.now() - started) / 1000).toFixed(0)} s`)
  }
  const seconds = (performance.now() - started) / 1000
  console.log('summary')
  console.log(`  seeds run:          ${count} (from ${args.from})`)
  console.log(`  seeds failed:       ${failed}`)
  console.log(`  ops checked:        ${ops} (${unknown} with unknown outcome), lock grants: ${grants}`)
  console.log(`  faults:             ${crashes} node crashes, ${confChanges} membership changes applied`)
  console.log(`  undecided checks:   ${undecided} seeds where the linearizability checker ran out of states`)
  console.log(`  violations by kind: ${byKind.size === 0 ? 'none' : [...byKind].map(([k, n]) => `${k}=${n}`).join(' ')}`)
  console.log(`  slowest recovery:   ${maxRecoveryMs} virtual ms after faults stopped`)
  console.log(`  wall time:          ${seconds.toFixed(1)} s (${(seconds * 1000 / count).toFixed(1)} ms/seed)`)
  process.exitCode = failed === 0 ? 0 : 1
}

main()
