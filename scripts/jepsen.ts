// The long run of the Jepsen-style process test (issue 13.1; test/support/jepsen.ts, the short run being
// test/node/linearizability-process.test.ts):
//   npm run jepsen -- --seconds 120 --clients 8 --kill
// runs consecutive runs of --run-seconds of load each (a fresh node and repository per run, seeds S, S+1, ...) until
// --seconds of load, prints one result per run (with the replay command of a failing one) and a summary. Exit code 0
// when every key's history of every run was decided linearizable, 1 otherwise (a violation, an undecided history, a
// node that exited by itself, or a reply the API does not document). Needs the built CLI: `npm run build` first.
import { randomInt } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { stopAll } from '../test/support/cli.js'
import { describeRun, jepsenDefaults, jepsenOptions, runJepsen, verdictOf, type JepsenOptions, type JepsenResult } from '../test/support/jepsen.js'

const usage = `usage: npm run jepsen -- [--seconds N] [--run-seconds N] [--clients N] [--keys N] [--round-ms N] [--kill] [--seed S] [--save DIR] [--verbose]
  --seconds N      load in all, in seconds of node up-time (default 60)
  --run-seconds N  load per run (default 10; at most --seconds): a fresh node, repository and seed per run
  --clients N      concurrent HTTP clients (default ${jepsenDefaults.clients})
  --keys N         keys per round (default ${jepsenDefaults.keys})
  --round-ms N     the clients move to fresh keys every N ms of load (default ${jepsenDefaults.roundMs})
  --kill           SIGKILL the node at random moments and restart it on the same repository
  --seed S         the first run's seed (default: random); run i uses S+i
  --save DIR       write each run's history that is not decided linearizable to DIR/jepsen-<seed>.json
  --verbose        print every kill and restart`

interface Args {
  seconds: number
  runSeconds: number
  clients: number
  keys: number
  roundMs: number
  kill: boolean
  seed: number
  save: string | null
  verbose: boolean
}

function parseArgs (argv: readonly string[]): Args {
  const args: Args = {
    seconds: 60, runSeconds: 10, clients: jepsenDefaults.clients, keys: jepsenDefaults.keys, roundMs: jepsenDefaults.roundMs,
    kill: false, seed: randomInt(0x7fffffff), save: null, verbose: false
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const num = (): number => {
      const v = Number(argv[++i])
      if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${a} needs a non-negative integer\n${usage}`)
      return v
    }
    if (a === '--seconds') args.seconds = num()
    else if (a === '--run-seconds') args.runSeconds = num()
    else if (a === '--clients') args.clients = num()
    else if (a === '--keys') args.keys = num()
    else if (a === '--round-ms') args.roundMs = num()
    else if (a === '--kill') args.kill = true
    else if (a === '--seed') args.seed = num()
    else if (a === '--save') args.save = argv[++i] ?? ''
    else if (a === '--verbose') args.verbose = true
    else if (a === '--help' || a === '-h') {
      console.log(usage)
      process.exit(0)
    } else throw new Error(`unknown argument ${a}\n${usage}`)
  }
  if (args.seconds < 1 || args.runSeconds < 1) throw new Error(`--seconds and --run-seconds must be at least 1\n${usage}`)
  return args
}

function replayCommand (o: JepsenOptions): string {
  const s = o.loadMs / 1000
  return `npm run jepsen -- --seed ${o.seed} --seconds ${s} --run-seconds ${s} --clients ${o.clients} --keys ${o.keys} --round-ms ${o.roundMs}${o.kill ? ' --kill' : ''}`
}

async function save (dir: string, r: JepsenResult): Promise<string> {
  await mkdir(dir, { recursive: true })
  const file = join(dir, `jepsen-${r.options.seed}.json`)
  // JSON has no Infinity: an unknown outcome's returnTime is written as null.
  await writeFile(file, JSON.stringify({ options: r.options, verdicts: r.verdicts, history: r.history }, null, 1) + '\n')
  return file
}

async function main (): Promise<number> {
  const args = parseArgs(process.argv.slice(2))
  const runSeconds = Math.min(args.runSeconds, args.seconds)
  const runs = Math.ceil(args.seconds / runSeconds)
  console.log(`jepsen: ${runs} run(s) of ${runSeconds} s, ${args.clients} clients, ${args.keys} keys per ${args.roundMs} ms round` +
    `${args.kill ? ', kill -9 and restart' : ', no faults'}; first seed ${args.seed}`)
  const tally = { 'linearizable': 0, 'not linearizable': 0, 'undecided': 0, 'other failures': 0 }
  let ops = 0
  let kills = 0
  for (let i = 0; i < runs; i++) {
    const o = jepsenOptions({
      seed: (args.seed + i) % 0x7fffffff,
      clients: args.clients,
      keys: args.keys,
      roundMs: args.roundMs,
      kill: args.kill,
      loadMs: Math.min(runSeconds, args.seconds - i * runSeconds) * 1000
    })
    const r = await runJepsen(o, { log: args.verbose ? line => { console.log(`  ${line}`) } : undefined, signal: interrupted.signal })
    const verdict = verdictOf(r)
    tally[verdict]++
    if (r.crashes.length > 0 || r.unexpected.length > 0) tally['other failures']++
    ops += r.history.length
    kills += r.kills
    console.log(`run ${i + 1}/${runs} ${describeRun(r).join('\n')}`)
    if (verdict !== 'linearizable' || r.crashes.length > 0 || r.unexpected.length > 0) {
      console.log(`  replay: ${replayCommand(o)}`)
      if (args.save !== null) console.log(`  history: ${await save(args.save, r)}`)
    }
  }
  console.log(`summary: ${runs} runs, ${ops} ops, ${kills} kills: ` + Object.entries(tally).map(([k, n]) => `${n} ${k}`).join(', '))
  return tally.linearizable === runs && tally['other failures'] === 0 ? 0 : 1
}

// The first Ctrl-C ends the current run cleanly (its node stopped, its folder removed); a second one kills at once.
const interrupted = new AbortController()
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (!interrupted.signal.aborted) {
      interrupted.abort()
      return
    }
    stopAll()
    process.exit(130)
  })
}
main().then(code => { process.exitCode = code }, (err: unknown) => {
  console.error(err instanceof Error ? err.message : err)
  stopAll()
  process.exitCode = 2
})
