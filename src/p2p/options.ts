// The host's options, validated once at the edge with one strict schema (unknown keys rejected), frozen and passed
// down typed. Bootstrap entries must be full multiaddrs ending in /p2p/<PeerId>: dialling without the PeerId would
// skip authenticating who answers.
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { z } from 'zod'
import { GitConfigError } from '../errors.js'
import {
  p2pAntiEntropyIntervalMsDefault, p2pBootstrapAddrsMax, p2pFetchBytesMaxDefault, p2pFetchIdleTimeoutMsDefault,
  p2pMultiaddrBytesMax, p2pRedialIntervalMsDefault, p2pRequestTimeoutMsDefault
} from '../limits.js'
import type { FetchResponder } from './fetch.js'
import type { HeadAnnouncement } from './messages.js'

/** The node's current heads (usually one: its own), sent in every anti-entropy exchange. */
export type LocalHeadsProvider = () => readonly HeadAnnouncement[] | Promise<readonly HeadAnnouncement[]>

export interface P2pHostOptions {
  /** Path of the Ed25519 key file; created with mode 0600 when absent. */
  readonly keyFile: string
  /** Path of the cluster key file (cluster-key.ts); when given, only peers holding the same key can connect. */
  readonly clusterKeyFile?: string
  /** IP address to listen on; default 127.0.0.1. */
  readonly listenHost?: string
  /** TCP port; 0 (default) picks a free one. */
  readonly port?: number
  /** Multiaddrs of peers to join, each ending in /p2p/<PeerId>. */
  readonly bootstrap?: readonly string[]
  readonly localHeads: LocalHeadsProvider
  /** Produces the pack for a fetch request; without it, fetches from this node are refused. */
  readonly fetchResponder?: FetchResponder
  readonly antiEntropyIntervalMs?: number
  readonly redialIntervalMs?: number
  readonly requestTimeoutMs?: number
  /** Default total byte limit of one fetch. */
  readonly fetchBytesMax?: number
  readonly fetchIdleTimeoutMs?: number
  /** Aborting it stops the host. */
  readonly signal?: AbortSignal
}

export interface BootstrapPeer {
  /**
   * The peer the address names, or null for an address without /p2p/<PeerId>: then the peer is whoever answers
   * there, its id learned from the connection's handshake (the cluster key, when set, still decides who may answer).
   */
  readonly peerId: PeerId | null
  /** The address without its /p2p/<PeerId> suffix. */
  readonly addr: Multiaddr
  readonly text: string
}

export interface ValidP2pHostOptions {
  readonly keyFile: string
  readonly clusterKeyFile: string | null
  readonly listenAddr: string
  readonly bootstrap: readonly BootstrapPeer[]
  readonly localHeads: LocalHeadsProvider
  readonly fetchResponder: FetchResponder | null
  readonly antiEntropyIntervalMs: number
  readonly redialIntervalMs: number
  readonly requestTimeoutMs: number
  readonly fetchBytesMax: number
  readonly fetchIdleTimeoutMs: number
  readonly signal: AbortSignal | null
}

const isFunction = (v: unknown): boolean => typeof v === 'function'
const intervalMs = z.number().int().min(10).max(24 * 3600 * 1000)

const schema = z.strictObject({
  keyFile: z.string().min(1),
  clusterKeyFile: z.string().min(1).optional(),
  listenHost: z.union([z.ipv4(), z.ipv6()]).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(0),
  bootstrap: z.array(z.string().min(1).max(p2pMultiaddrBytesMax)).max(p2pBootstrapAddrsMax).default([]),
  localHeads: z.custom<LocalHeadsProvider>(isFunction, 'localHeads must be a function'),
  fetchResponder: z.custom<FetchResponder>(isFunction, 'fetchResponder must be a function').optional(),
  antiEntropyIntervalMs: intervalMs.default(p2pAntiEntropyIntervalMsDefault),
  redialIntervalMs: intervalMs.default(p2pRedialIntervalMsDefault),
  requestTimeoutMs: intervalMs.default(p2pRequestTimeoutMsDefault),
  fetchBytesMax: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).default(p2pFetchBytesMaxDefault),
  fetchIdleTimeoutMs: intervalMs.default(p2pFetchIdleTimeoutMsDefault),
  signal: z.custom<AbortSignal>(v => v instanceof AbortSignal, 'signal must be an AbortSignal').optional()
})

export function validateP2pHostOptions (input: unknown): ValidP2pHostOptions {
  const result = schema.safeParse(input)
  if (!result.success) {
    const issue = result.error.issues[0]
    throw new GitConfigError('INVALID_ARGUMENT', `invalid p2p option ${issue.path.join('.') || '(root)'}: ${issue.message}`)
  }
  const o = result.data
  const ipVersion = o.listenHost.includes(':') ? 'ip6' : 'ip4'
  return Object.freeze({
    keyFile: o.keyFile,
    clusterKeyFile: o.clusterKeyFile ?? null,
    listenAddr: `/${ipVersion}/${o.listenHost}/tcp/${o.port}`,
    bootstrap: Object.freeze(o.bootstrap.map(parseBootstrapAddr)),
    localHeads: o.localHeads,
    fetchResponder: o.fetchResponder ?? null,
    antiEntropyIntervalMs: o.antiEntropyIntervalMs,
    redialIntervalMs: o.redialIntervalMs,
    requestTimeoutMs: o.requestTimeoutMs,
    fetchBytesMax: o.fetchBytesMax,
    fetchIdleTimeoutMs: o.fetchIdleTimeoutMs,
    signal: o.signal ?? null
  })
}

/**
 * Parses `/ip4/1.2.3.4/tcp/4001/p2p/12D3Koo...` or, without a peer id, `/ip4/1.2.3.4/tcp/4001`; throws
 * INVALID_ARGUMENT naming the entry otherwise.
 */
export function parseBootstrapAddr (text: string): BootstrapPeer {
  const invalid = (why: string): GitConfigError =>
    new GitConfigError('INVALID_ARGUMENT', `invalid bootstrap address ${JSON.stringify(text)}: ${why}`, { bootstrap: text })
  let addr: Multiaddr
  try {
    addr = multiaddr(text)
  } catch (err) {
    throw invalid(err instanceof Error ? err.message : String(err))
  }
  const split = splitPeerId(addr)
  const transport = split?.addr ?? addr
  if (!transport.getComponents().some((c) => c.name === 'tcp')) throw invalid('it needs a TCP address, like /ip4/10.0.0.1/tcp/4001')
  if (transport.getComponents().some((c) => c.name === 'p2p')) throw invalid('its /p2p/ part must be a valid PeerId, and only at the end')
  return { peerId: split?.peerId ?? null, addr: transport, text }
}

/** Separates a trailing /p2p/<PeerId> from an address; null when there is none or it does not parse. */
export function splitPeerId (addr: Multiaddr): { addr: Multiaddr, peerId: PeerId } | null {
  const components = addr.getComponents()
  const last = components.at(-1)
  if (last === undefined || last.name !== 'p2p' || last.value === undefined) return null
  try {
    return { peerId: peerIdFromString(last.value), addr: addr.decapsulateCode(last.code) }
  } catch {
    return null
  }
}
