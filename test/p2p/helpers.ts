// Shared helpers of the p2p tests: temp folders, hosts on 127.0.0.1 ephemeral ports with short intervals, a bare
// libp2p peer that can misbehave, and event waits with generous hang guards (the machine is shared and slow; the
// guards only stop a hung test, they never assert speed).
import '../../src/p2p/polyfill.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { identify, type Identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { createP2pHost, headsTopic, type HeadEvent, type P2pHost, type P2pHostEvents } from '../../src/p2p/host.js'
import type { HeadAnnouncement } from '../../src/p2p/messages.js'
import type { P2pHostOptions } from '../../src/p2p/options.js'

export const hangGuardMs = 60_000

/** A temp folder removed by cleanup(). */
export class Scratch {
  private readonly cleanups: Array<() => Promise<void>> = []
  private dir: string | null = null

  async folder (): Promise<string> {
    this.dir ??= await mkdtemp(join(tmpdir(), 'gitconfig-p2p-'))
    return this.dir
  }

  defer (cleanup: () => Promise<void>): void {
    this.cleanups.push(cleanup)
  }

  async cleanup (): Promise<void> {
    for (const c of this.cleanups.reverse()) await c().catch(() => {})
    this.cleanups.length = 0
    if (this.dir !== null) await rm(this.dir, { recursive: true, force: true })
    this.dir = null
  }
}

export type TestHostOptions = Partial<P2pHostOptions> & { name: string }

/** Starts a host with a key file named after `name` in the scratch folder, fast timers, and stops it on cleanup. */
export async function startHost (scratch: Scratch, options: TestHostOptions): Promise<P2pHost> {
  const { name, ...rest } = options
  const host = await createP2pHost({
    keyFile: join(await scratch.folder(), `${name}.key`),
    localHeads: () => [],
    antiEntropyIntervalMs: 500,
    redialIntervalMs: 200,
    requestTimeoutMs: 10_000,
    ...rest
  })
  await host.start()
  scratch.defer(() => host.stop())
  return host
}

export function head (nodeId: string, commitDigit: string, wallMs = 1_700_000_000_000): HeadAnnouncement {
  return { nodeId, commit: commitDigit.repeat(40), hlc: { wallMs, counter: 0, node: nodeId } }
}

/** Resolves with the first event of `type` matching `predicate`; rejects after the hang guard. */
export async function waitForEvent<K extends keyof P2pHostEvents> (
  host: P2pHost, type: K, predicate: (detail: P2pHostEvents[K]['detail']) => boolean, what: string, timeoutMs = hangGuardMs
): Promise<P2pHostEvents[K]['detail']> {
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      host.removeEventListener(type, listener)
      reject(new Error(`hang guard: no ${what} within ${timeoutMs} ms`))
    }, timeoutMs)
    const listener = (event: P2pHostEvents[K]): void => {
      if (!predicate(event.detail)) return
      clearTimeout(timer)
      host.removeEventListener(type, listener)
      resolve(event.detail)
    }
    host.addEventListener(type, listener)
  })
}

export async function waitForHead (host: P2pHost, commit: string, via?: HeadEvent['via']): Promise<HeadEvent> {
  return await waitForEvent(host, 'head', d => d.head.commit === commit && (via === undefined || d.via === via), `head ${commit.slice(0, 8)} on ${host.peerId.slice(-6)}`)
}

/** Polls `condition` until it holds; the timeout is a hang guard only. */
export async function waitUntil (condition: () => boolean, what: string, timeoutMs = hangGuardMs): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`hang guard: ${what} did not happen within ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

export function isConnected (a: P2pHost, b: P2pHost): boolean {
  return a.peers().some(p => p.peerId === b.peerId)
}

/** A plain libp2p node of the same stack, free to break the protocols: the "bad peer" of the tests. */
export async function startRawPeer (scratch: Scratch): Promise<Libp2p<{ identify: Identify, pubsub: GossipSub }>> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), pubsub: gossipsub({ allowPublishToZeroTopicPeers: true }) }
  })
  node.services.pubsub.subscribe(headsTopic)
  scratch.defer(async () => { await node.stop() })
  return node
}
