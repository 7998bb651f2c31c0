// Runs the gitconfig CLI (src/cli/main.ts through tsx) as a child process, and starts node processes on ephemeral
// loopback ports. Every process started here is killed by stopAll() (call it in `after`).
import { spawn, type ChildProcess } from 'node:child_process'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const mainTs = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))
const live = new Set<ChildProcess>()
// A test file that ends without its `after` hook (a runner timeout, an uncaught error) still leaves no node behind.
process.once('exit', () => { stopAll() })

export interface CliResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Benchmarks may run what users run instead: the `gitconfig` command (`npm run build`, then
 * GITCONFIG_CLI_ENTRY=bin/gitconfig), or the compiled CLI under plain node (GITCONFIG_CLI_ENTRY=dist/src/cli/main.js),
 * without tsx's compiler in every node's memory.
 */
const compiledEntry = process.env.GITCONFIG_CLI_ENTRY

/** The program and leading arguments that run the CLI (see GITCONFIG_CLI_ENTRY above). */
export function cliCommand (): [string, string[]] {
  if (compiledEntry === undefined) return [process.execPath, ['--import', 'tsx', mainTs]]
  return /\.[cm]?js$/.test(compiledEntry) ? [process.execPath, [resolve(compiledEntry)]] : [resolve(compiledEntry), []]
}

/**
 * How to start the CLI instead of cliCommand(): `command` with `args` standing for `gitconfig` (for `node start`,
 * the words up to and including `start`), in `cwd`, with `env` over this process's environment.
 */
export interface Launch {
  readonly command: string
  readonly args: readonly string[]
  readonly env?: Record<string, string | undefined>
  readonly cwd?: string
}

function spawnCli (args: string[], env: Record<string, string | undefined>, launch?: Launch): ChildProcess {
  const [command, entry] = launch === undefined ? cliCommand() : [launch.command, launch.args]
  const child = spawn(command, [...entry, ...args], {
    env: { ...process.env, GITCONFIG_HTTP: undefined, GITCONFIG_TOKEN: undefined, GITCONFIG_TOKEN_FILE: undefined, ...env, ...launch?.env },
    stdio: ['pipe', 'pipe', 'pipe'],
    cwd: launch?.cwd
  })
  live.add(child)
  child.on('exit', () => { live.delete(child) })
  return child
}

export async function runCli (args: string[], opts: { env?: Record<string, string | undefined>, input?: string | Uint8Array, timeoutMs?: number } = {}): Promise<CliResult> {
  const child = spawnCli(args, opts.env ?? {})
  const out: Buffer[] = []
  const err: Buffer[] = []
  child.stdout?.on('data', (c: Buffer) => out.push(c))
  child.stderr?.on('data', (c: Buffer) => err.push(c))
  child.stdin?.end(opts.input ?? '')
  const hangGuard = setTimeout(() => { child.kill('SIGKILL') }, opts.timeoutMs ?? 60_000)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(resolve => child.on('close', (c, s) => { resolve([c, s]) }))
  clearTimeout(hangGuard)
  return { code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }
}

export interface NodeProcess {
  readonly url: string
  readonly child: ChildProcess
  /** Everything written so far (JSON log lines on stdout, the banner on stderr). */
  output (): { stdout: string, stderr: string }
  /** Sends `signal` and resolves with the exit code and signal. */
  stop (signal?: NodeJS.Signals): Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/**
 * Starts `gitconfig node start --http-port 0 ...` and resolves once it prints the address it bound. With `launch`,
 * its command and args replace `gitconfig node start`.
 */
export async function startNodeProcess (args: string[], timeoutMs = 60_000, launch?: Launch): Promise<NodeProcess> {
  const child = launch === undefined
    ? spawnCli(['node', 'start', '--http-port', '0', ...args], {})
    : spawnCli(['--http-port', '0', ...args], {}, launch)
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (c: Buffer) => { stdout += c.toString('utf8') })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => {
    child.on('exit', (code, signal) => { resolve({ code, signal }) })
  })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`node did not start: ${stderr}`)) }, timeoutMs)
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString('utf8')
      const m = /listening on (https?:\/\/[^\s]+)/.exec(stderr)
      if (m !== null) { clearTimeout(timer); resolve(m[1]) }
    })
    void exited.then(r => { clearTimeout(timer); reject(new Error(`node exited (${r.code ?? r.signal}) before listening: ${stderr}`)) })
  })
  return {
    url,
    child,
    output: () => ({ stdout, stderr }),
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return await exited
    }
  }
}

/** Kills every process this module started that is still running. */
export function stopAll (): void {
  for (const child of live) child.kill('SIGKILL')
  live.clear()
}
