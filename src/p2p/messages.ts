// Wire messages of the gitconfig protocols, as JSON in UTF-8, and their validation. Everything that arrives from a
// peer goes through a decoder here first: size, shape and value checks, with unknown fields rejected, so the rest
// of the layer only ever sees well-formed values. A decoder returns null for anything malformed; callers count
// and drop it.
import { z } from 'zod'
import type { Version } from '../types.js'
import {
  p2pAddrsPerPeerMax, p2pFetchHaveMax, p2pFetchRequestBytesMax, p2pFetchWantMax, p2pHeadAnnouncementBytesMax,
  p2pHeadsMessageBytesMax, p2pHeadsPerExchangeMax, p2pKnownPeersMax, p2pMultiaddrBytesMax, p2pPeerListBytesMax
} from '../limits.js'

/** A node's current head: what gossip announces and anti-entropy exchanges. */
export interface HeadAnnouncement {
  /** The announcing node's id (the same id its HLC versions carry). */
  readonly nodeId: string
  /** The commit `refs/heads/main` points at on that node: 40 lowercase hex digits. */
  readonly commit: string
  /** The version of the newest change in that commit. */
  readonly hlc: Version
}

/** A peer and the addresses it listens on, as exchanged by the peer-list protocol. */
export interface PeerRecord {
  /** PeerId string (base58btc multihash). */
  readonly peerId: string
  /** Multiaddr strings, without the trailing /p2p/<PeerId>. */
  readonly addrs: readonly string[]
}

/** What a requester asks of a fetch responder: the commits it wants and the ones it already has. */
export interface FetchRequest {
  readonly want: readonly string[]
  readonly have: readonly string[]
}

export const commitPattern = /^[0-9a-f]{40}$/
/** The node id alphabet of the HLC (src/gitstore/hlc.ts), repeated here because p2p may not import gitstore. */
const nodeIdPattern = /^[A-Za-z0-9_-]{1,64}$/
/** Base58btc PeerIds of Ed25519 (12D3Koo...) and RSA/secp256k1 (Qm..., 16U...) keys; checked again by parsing. */
const peerIdPattern = /^[1-9A-HJ-NP-Za-km-z]{32,128}$/

const commitSchema = z.string().regex(commitPattern)
const versionSchema = z.strictObject({
  wallMs: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  counter: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  node: z.string().regex(nodeIdPattern)
})
const headSchema = z.strictObject({
  nodeId: z.string().regex(nodeIdPattern),
  commit: commitSchema,
  hlc: versionSchema
})
const headsMessageSchema = z.strictObject({ heads: z.array(headSchema).max(p2pHeadsPerExchangeMax) })
const peerRecordSchema = z.strictObject({
  peerId: z.string().regex(peerIdPattern),
  addrs: z.array(z.string().min(1).max(p2pMultiaddrBytesMax)).max(p2pAddrsPerPeerMax)
})
const peerListSchema = z.strictObject({ peers: z.array(peerRecordSchema).max(p2pKnownPeersMax) })
const fetchRequestSchema = z.strictObject({
  want: z.array(commitSchema).min(1).max(p2pFetchWantMax),
  have: z.array(commitSchema).max(p2pFetchHaveMax)
})

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

function encodeJson (value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value))
}

function decodeJson<T> (bytes: Uint8Array, bytesMax: number, schema: z.ZodType<T>): T | null {
  if (bytes.byteLength > bytesMax) return null
  let parsed: unknown
  try {
    parsed = JSON.parse(decoder.decode(bytes))
  } catch {
    return null
  }
  const result = schema.safeParse(parsed)
  return result.success ? result.data : null
}

/** Checks an announcement made locally, so a programming error surfaces here rather than as drops on every peer. */
export function isValidHeadAnnouncement (value: unknown): value is HeadAnnouncement {
  return headSchema.safeParse(value).success
}

export function encodeHeadAnnouncement (head: HeadAnnouncement): Uint8Array {
  return encodeJson({ nodeId: head.nodeId, commit: head.commit, hlc: { wallMs: head.hlc.wallMs, counter: head.hlc.counter, node: head.hlc.node } })
}

export function decodeHeadAnnouncement (bytes: Uint8Array): HeadAnnouncement | null {
  return decodeJson(bytes, p2pHeadAnnouncementBytesMax, headSchema)
}

export function encodeHeads (heads: readonly HeadAnnouncement[]): Uint8Array {
  return encodeJson({ heads: heads.slice(0, p2pHeadsPerExchangeMax).map(h => ({ nodeId: h.nodeId, commit: h.commit, hlc: h.hlc })) })
}

export function decodeHeads (bytes: Uint8Array): HeadAnnouncement[] | null {
  return decodeJson(bytes, p2pHeadsMessageBytesMax, headsMessageSchema)?.heads ?? null
}

export function encodePeerList (peers: readonly PeerRecord[]): Uint8Array {
  return encodeJson({ peers: peers.slice(0, p2pKnownPeersMax).map(p => ({ peerId: p.peerId, addrs: p.addrs.slice(0, p2pAddrsPerPeerMax) })) })
}

export function decodePeerList (bytes: Uint8Array): PeerRecord[] | null {
  return decodeJson(bytes, p2pPeerListBytesMax, peerListSchema)?.peers ?? null
}

export function encodeFetchRequest (request: FetchRequest): Uint8Array {
  return encodeJson({ want: request.want, have: request.have })
}

export function decodeFetchRequest (bytes: Uint8Array): FetchRequest | null {
  return decodeJson(bytes, p2pFetchRequestBytesMax, fetchRequestSchema)
}

/** Validates a fetch request built locally; throws the typed error the caller should see. */
export function isValidFetchRequest (request: FetchRequest): boolean {
  return fetchRequestSchema.safeParse(request).success && encodeFetchRequest(request).byteLength <= p2pFetchRequestBytesMax
}
