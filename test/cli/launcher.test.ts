// The `gitconfig` command as npm installs it (bin/gitconfig, linked from node_modules/.bin): it must become the node
// process itself, so that the pid a supervisor signals is the node's, and start node with the memory settings of
// decision 0462. Runs the compiled CLI (dist/, built by `npm ci` or `npm run build`).
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { copyFile, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startNodeProcess, stopAll, type NodeProcess } from '../support/cli.js'

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)))
const launcher = join(root, 'bin', 'gitconfig')
const packageVersion = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version
const dirs: string[] = []
after(async () => {
  stopAll()
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

async function tempDir (): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'gitconfig-launcher-'))
  dirs.push(d)
  return d
}

/** A link to the launcher the way npm makes one: node_modules/.bin/gitconfig -> ../../bin/gitconfig (relative). */
async function npmStyleLink (): Promise<string> {
  const d = await tempDir()
  await mkdir(join(d, 'node_modules', '.bin'), { recursive: true })
  await symlink(root, join(d, 'node_modules', 'gitconfig'))
  const link = join(d, 'node_modules', '.bin', 'gitconfig')
  await symlink('../gitconfig/bin/gitconfig', link)
  return link
}

/** Starts `node start` through `command` (whose `args` end in `start`) on a new repository in a temp folder. */
async function startNode (command: string, env: Record<string, string | undefined>, args = ['node', 'start']): Promise<NodeProcess> {
  assert.ok(existsSync(join(root, 'dist', 'src', 'cli', 'main.js')), 'dist/ is missing: run npm run build')
  const repo = join(await tempDir(), 'repo')
  return await startNodeProcess(['--repo', repo, '--log-level', 'warn'], 60_000, { command, args, env, cwd: root })
}

function commandLine (pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '')
}

function environment (pid: number): string[] {
  return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')
}

test('the command runs through the link npm makes, from any folder', async () => {
  const link = await npmStyleLink()
  const r = spawnSync(link, ['--version'], { cwd: await tempDir(), encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stdout.trim(), packageVersion)
})

test('node start: the spawned pid is the node itself, with the memory flags, and SIGTERM to it stops it cleanly', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const node = await startNode(await npmStyleLink(), { NODE_OPTIONS: undefined, MALLOC_ARENA_MAX: undefined, GITCONFIG_NODE_FLAGS: undefined })
  const argv = commandLine(node.child.pid as number)
  assert.ok(environment(node.child.pid as number).includes('MALLOC_ARENA_MAX=2'))
  assert.match(argv[0], /node$/, `the process is ${argv.join(' ')}`)
  assert.ok(argv.includes('--max-semi-space-size=4'), argv.join(' '))
  assert.ok(argv.includes('--heap-growing-percent=50'), argv.join(' '))
  assert.ok(argv.some((a) => a.endsWith(join('dist', 'src', 'cli', 'main.js'))), argv.join(' '))
  assert.deepEqual(await node.stop(), { code: 0, signal: null })
})

test('the operator\'s --max-semi-space-size (NODE_OPTIONS) and MALLOC_ARENA_MAX win over the launcher\'s', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const node = await startNode(launcher, { NODE_OPTIONS: '--max-semi-space-size=16', MALLOC_ARENA_MAX: '4' })
  const argv = commandLine(node.child.pid as number)
  assert.ok(!argv.some((a) => a.startsWith('--max-semi-space-size')), argv.join(' '))
  assert.ok(environment(node.child.pid as number).includes('MALLOC_ARENA_MAX=4'))
  assert.deepEqual(await node.stop(), { code: 0, signal: null })
})

test('GITCONFIG_NODE_FLAGS replaces the launcher\'s V8 flags', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const node = await startNode(launcher, { NODE_OPTIONS: undefined, GITCONFIG_NODE_FLAGS: '--max-old-space-size=300 --stack-trace-limit=20' })
  const argv = commandLine(node.child.pid as number)
  assert.ok(argv.includes('--max-old-space-size=300') && argv.includes('--stack-trace-limit=20'), argv.join(' '))
  assert.ok(!argv.some((a) => a.startsWith('--max-semi-space-size') || a.startsWith('--heap-growing-percent')), argv.join(' '))
  assert.deepEqual(await node.stop(), { code: 0, signal: null })
})

test('without a build the command says how to make one and exits non-zero', async () => {
  const d = await tempDir()
  await mkdir(join(d, 'bin'))
  await copyFile(launcher, join(d, 'bin', 'gitconfig'))
  const r = spawnSync(join(d, 'bin', 'gitconfig'), ['--version'], { encoding: 'utf8' })
  assert.equal(r.status, 5)
  assert.match(r.stderr, /dist\/src\/cli\/main\.js is missing: build it with 'npm ci' or 'npm run build'/)
})

test('npm start (the README\'s start command) serves a node, and SIGTERM to npm stops the node gracefully', async () => {
  const node = await startNode('npm', { NODE_OPTIONS: undefined }, ['start', '--silent', '--'])
  assert.equal((await fetch(`${node.url}/health`)).status, 200)
  assert.deepEqual(await node.stop(), { code: 0, signal: null })
  await assert.rejects(fetch(`${node.url}/health`))
})
