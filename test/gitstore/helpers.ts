// Shared test plumbing: temporary repositories (removed afterwards), a fake clock, and plain git for checking
// what stock tools see.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import type { TestContext } from 'node:test'
import { GitConfigStore, type GitConfigStoreOptions, type WatchEvent } from '../../src/index.js'

const cleanups = new WeakMap<TestContext, Array<() => Promise<unknown> | unknown>>()

/**
 * Runs `fn` when the test ends, last registered first (node:test runs `t.after` hooks first registered first, which
 * would remove a folder before the store using it is closed, and the closing git would recreate files in it).
 */
export function onCleanup (t: TestContext, fn: () => Promise<unknown> | unknown): void {
  let stack = cleanups.get(t)
  if (stack === undefined) {
    const fresh: Array<() => Promise<unknown> | unknown> = []
    cleanups.set(t, fresh)
    t.after(async () => { for (const f of fresh.reverse()) await f() })
    stack = fresh
  }
  stack.push(fn)
}

export async function tempDir (t: TestContext, name = 'gitconfig-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), name))
  onCleanup(t, () => rm(dir, { recursive: true, force: true }))
  return dir
}

/** Opens a store in a fresh temporary folder; closed, then removed, when the test ends. */
export async function openTempStore (t: TestContext, opts: GitConfigStoreOptions = {}): Promise<{ store: GitConfigStore, dir: string }> {
  const dir = join(await tempDir(t), 'repo')
  const store = await GitConfigStore.open(dir, { maintenance: false, ...opts })
  onCleanup(t, () => store.close())
  return { store, dir }
}

export class FakeClock {
  constructor (public nowMs = 1_800_000_000_000) {}
  readonly read = (): number => this.nowMs
  advance (ms: number): void { this.nowMs += ms }
}

/**
 * Runs an expiry pass that reads the clock after the caller's last advance, and waits for its commits. expireNow()
 * joins a pass the store's own timer may have started before that advance, so a second call is made once that one
 * is over: it starts a pass of its own, or joins one the timer started after the advance.
 */
export async function expirePassAfterNow (store: GitConfigStore): Promise<void> {
  await store.expireNow()
  await store.expireNow()
}

/** Runs stock git on the repository and returns stdout (throws with stderr on failure). */
export function git (dir: string, ...args: string[]): string {
  const r = spawnSync('git', ['-C', dir, ...args], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}

export function gitBytes (dir: string, ...args: string[]): Buffer {
  const r = spawnSync('git', ['-C', dir, ...args])
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr.toString()}`)
  return r.stdout
}

export const text = (bytes: Uint8Array | null | undefined): string | null => bytes == null ? null : new TextDecoder().decode(bytes)

/** Polls `check` until it returns a value other than undefined (hang guard only: generous limit). */
export async function eventually<T> (check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const start = Date.now()
  while (true) {
    const v = await check()
    if (v !== undefined) return v
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * Environment for child node processes: without NODE_TEST_CONTEXT, which would make a child started from inside a
 * test believe it is itself a test file and wait to report to the runner.
 */
export function childEnv (): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.NODE_TEST_CONTEXT
  return env
}

/** The next n events of a watch (fewer if it ends first). */
export async function take (it: AsyncIterator<WatchEvent>, n: number): Promise<WatchEvent[]> {
  const out: WatchEvent[] = []
  while (out.length < n) {
    const r = await it.next()
    if (r.done === true) break
    out.push(r.value)
  }
  return out
}
