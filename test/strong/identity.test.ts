// One node identity (decision 0107): the Raft id and the store node id derive from the libp2p PeerId.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { isGitConfigError } from '../../src/errors.js'
import { nodeIdPattern } from '../../src/gitstore/hlc.js'
import { isValidNodeId } from '../../src/raft/config.js'
import { deriveNodeIdentity, isPeerIdText, memberWithStoreNodeId, raftIdOf, storeNodeIdOf } from '../../src/strong/identity.js'

// Fixed PeerIds (Ed25519, secp256k1, RSA); the expected store ids are `printf %s ID | sha256sum | cut -c1-16`.
const vectors = [
  ['12D3KooWM4SekUWuxBCvKo4yBY5YSes8v9HGRG9VFJY5c2ufup5a', 'b6891098660c5267'],
  ['16Uiu2HAkwhCVefmiravQtMaiK2N5cXACkQEWQJqCh2Piwx5XUBjD', '0968e6e2df76c285'],
  ['QmfYxGyJwsKbfyGLp5Yzf9xHnDAbmsRNtMdgYx9E8PfPiy', '13d48581b5336878']
] as const

test('the store node id is the first 16 hex digits of SHA-256 over the PeerId text; the Raft id is the PeerId', () => {
  for (const [peerId, storeNodeId] of vectors) {
    assert.equal(storeNodeIdOf(peerId), storeNodeId, peerId)
    assert.deepEqual(deriveNodeIdentity(peerId), { peerId, raftId: peerId, storeNodeId })
    assert.equal(raftIdOf(peerId), peerId)
  }
})

test('derived ids are valid where they are used: the store\'s node id pattern and Raft\'s node ids', async () => {
  for (let i = 0; i < 5; i++) {
    const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    assert.ok(isPeerIdText(peerId), peerId)
    const id = deriveNodeIdentity(peerId)
    assert.match(id.storeNodeId, /^[0-9a-f]{16}$/)
    assert.match(id.storeNodeId, nodeIdPattern)
    assert.ok(isValidNodeId(id.raftId))
    assert.equal(peerIdFromString(id.raftId).toString(), peerId, 'the Raft id is a PeerId the transport can dial')
  }
})

test('different PeerIds give different store ids; the derivation is stable', () => {
  const ids = vectors.map(([p]) => storeNodeIdOf(p))
  assert.equal(new Set(ids).size, ids.length)
  assert.deepEqual(vectors.map(([p]) => storeNodeIdOf(p)), ids)
})

test('a member is found by its derived store id', () => {
  const members = vectors.map(([p]) => p)
  assert.equal(memberWithStoreNodeId(members, vectors[1][1]), vectors[1][0])
  assert.equal(memberWithStoreNodeId(members, '0123456789abcdef'), null)
  assert.equal(memberWithStoreNodeId(['n1', 'not a peer id'], storeNodeIdOf(vectors[0][0])), null)
})

test('text that is not a PeerId is refused with INVALID_ARGUMENT', () => {
  for (const bad of ['', 'n1', '0123456789abcdef', '12D3KooWM4SekUWuxBCvKo4yBY5YSes8v9HGRG9VFJY5c2ufup5l', 'x'.repeat(80), '12D3KooW M4SekUWuxBCvKo4yBY5YSes8v9HGRG9VFJY5c2ufup5']) {
    assert.equal(isPeerIdText(bad), false, bad)
    assert.throws(() => storeNodeIdOf(bad), (err: unknown) => isGitConfigError(err) && err.code === 'INVALID_ARGUMENT', bad)
  }
})
