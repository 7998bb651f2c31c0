// Helpers of the replication process tests: node processes with p2p on loopback, their multiaddrs read from the
// banner, HTTP writes and reads, and polling with a hang-guard deadline (never a speed assertion).
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { startNodeProcess, type NodeProcess } from '../support/cli.js'

/** Every wait in these tests gives up after this long: a hang guard, not a performance target. */
export const hangGuardMs = 90_000

export interface Version { wallMs: number, counter: number, node: string }
export interface Ack { key: string, value: string, version: Version }

export class Scratch {
  private readonly dirs: string[] = []
  async dir (prefix = 'gitconfig-repl-'): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), prefix))
    this.dirs.push(d)
    return d
  }

  async remove (): Promise<void> {
    for (const d of this.dirs) await rm(d, { recursive: true, force: true })
  }
}

export interface ClusterNode {
  readonly repo: string
  proc: NodeProcess
  url: string
  /** The p2p multiaddrs printed at start (empty when p2p is off). */
  multiaddrs: string[]
}

/** Starts `gitconfig node start --repo REPO ...args` and reads the HTTP URL and p2p multiaddrs it prints. */
export async function startClusterNode (repo: string, args: string[]): Promise<ClusterNode> {
  const proc = await startNodeProcess(['--repo', repo, '--log-level', 'warn', ...args], hangGuardMs)
  return { repo, proc, url: proc.url, multiaddrs: multiaddrsOf(proc) }
}

export async function restartClusterNode (node: ClusterNode, args: string[]): Promise<void> {
  const fresh = await startClusterNode(node.repo, args)
  node.proc = fresh.proc
  node.url = fresh.url
  node.multiaddrs = fresh.multiaddrs
}

export function multiaddrsOf (proc: NodeProcess): string[] {
  return [...proc.output().stderr.matchAll(/gitconfig p2p listening on (\S+)/g)].map(m => m[1])
}

export async function put (url: string, key: string, value: string): Promise<Ack> {
  const res = await fetch(`${url}/keys${key}`, { method: 'POST', body: value })
  const body = await res.json() as { version?: Version }
  assert.equal(res.status, 200, JSON.stringify(body))
  assert.ok(body.version !== undefined, 'a write answers with its version')
  return { key, value, version: body.version }
}

export async function read (url: string, key: string): Promise<{ value: string, version: string } | null> {
  const res = await fetch(`${url}/keys${key}`)
  if (res.status === 404) {
    await res.arrayBuffer()
    return null
  }
  assert.equal(res.status, 200)
  return { value: await res.text(), version: res.headers.get('x-gitconfig-version') ?? '' }
}

/** Polls `check` until it returns true; fails with `what` and the last state after the hang guard. */
export async function waitFor (what: string, check: () => Promise<boolean>, timeoutMs = hangGuardMs): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (true) {
    let ok: boolean
    try {
      ok = await check()
    } catch {
      ok = false // a node that is restarting refuses connections for a moment
    }
    if (ok) return
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await delay(100)
  }
}

export async function waitForValue (url: string, key: string, value: string): Promise<void> {
  await waitFor(`${key}=${value} on ${url}`, async () => (await read(url, key))?.value === value)
}

export function mainTree (repo: string): string {
  return execFileSync('git', ['-C', repo, 'rev-parse', 'main^{tree}'], { encoding: 'utf8' }).trim()
}

function parseVersion (text: string): Version {
  const m = /^(\d+)\.(\d+)@(.+)$/.exec(text)
  assert.ok(m !== null, `a version header: ${text}`)
  return { wallMs: Number(m[1]), counter: Number(m[2]), node: m[3] }
}

function newer (a: Version, b: Version): boolean {
  if (a.wallMs !== b.wallMs) return a.wallMs > b.wallMs
  if (a.counter !== b.counter) return a.counter > b.counter
  return a.node > b.node
}

/** Every acknowledged write is present on `url`, or superseded by a newer version of the same key. */
export async function assertAcksHeld (url: string, acks: readonly Ack[]): Promise<void> {
  for (const ack of acks) {
    const now = await read(url, ack.key)
    assert.ok(now !== null, `${ack.key} (acknowledged as ${ack.value}) is missing on ${url}`)
    if (now.value === ack.value) continue
    assert.ok(newer(parseVersion(now.version), ack.version),
      `${ack.key}: acknowledged ${ack.value} was replaced by ${now.value} at an older version ${now.version} on ${url}`)
  }
}
