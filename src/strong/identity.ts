// One node identity, from which the others derive (decision 0107).
//
//   root         the node's Ed25519 key (gitconfig/p2p.key, or --p2p-key-file), written once and kept across restarts
//   PeerId       libp2p's id of that key, as PeerId.toString() prints it (base58btc, `12D3KooW...`, 52 characters)
//   Raft id      the PeerId text itself: Raft addresses peers by it, and the transport can check that a message's
//                `from` is the peer that noise authenticated on its stream, with no table to keep in step
//   store id     the first 16 hex digits of SHA-256 over the PeerId text: the same shape as the random ids the store
//                made so far (`[0-9a-f]{16}`), so versions (`wallMs.counter@node`), commit metadata and remote branches
//                (`refs/heads/gitconfig/<id>`) keep their size; 64 bits make a collision in a cluster of at most
//                raftVotersMax + raftLearnersMax members negligible
//
// Derivation runs one way. The store id of a Raft member is found by deriving it from the member's PeerId
// (`memberWithStoreNodeId`); nothing maps a store id back without the membership.
import { createHash } from 'node:crypto'
import { GitConfigError } from '../errors.js'

export interface NodeIdentity {
  readonly peerId: string
  readonly raftId: string
  readonly storeNodeId: string
}

/** PeerId.toString(): base58btc (no 0, O, I or l), 46 characters (RSA `Qm...`) to 53 (secp256k1 `16Uiu2...`). */
const peerIdTextPattern = /^[1-9A-HJ-NP-Za-km-z]{46,59}$/

const storeNodeIdHexDigits = 16

export function isPeerIdText (text: string): boolean {
  return peerIdTextPattern.test(text)
}

function requirePeerIdText (peerId: string): void {
  if (!isPeerIdText(peerId)) {
    throw new GitConfigError('INVALID_ARGUMENT', `${JSON.stringify(peerId)} is not a libp2p PeerId in its base58btc text form`)
  }
}

/** The store node id of the node whose PeerId text is `peerId`. */
export function storeNodeIdOf (peerId: string): string {
  requirePeerIdText(peerId)
  return createHash('sha256').update(peerId, 'utf8').digest('hex').slice(0, storeNodeIdHexDigits)
}

/** The Raft id of the node whose PeerId text is `peerId`: the same text. */
export function raftIdOf (peerId: string): string {
  requirePeerIdText(peerId)
  return peerId
}

export function deriveNodeIdentity (peerId: string): NodeIdentity {
  return { peerId, raftId: raftIdOf(peerId), storeNodeId: storeNodeIdOf(peerId) }
}

/** The member (a Raft id, that is a PeerId) whose derived store node id is `storeNodeId`, or null. */
export function memberWithStoreNodeId (members: readonly string[], storeNodeId: string): string | null {
  for (const m of members) if (isPeerIdText(m) && storeNodeIdOf(m) === storeNodeId) return m
  return null
}
