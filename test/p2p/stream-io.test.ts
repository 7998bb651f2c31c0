import { test } from 'node:test'
import assert from 'node:assert/strict'
import { encodeFrame, encodeVarint } from '../../src/p2p/stream-io.js'

test('varint length prefixes match unsigned LEB128', () => {
  assert.deepEqual([...encodeVarint(0)], [0])
  assert.deepEqual([...encodeVarint(127)], [127])
  assert.deepEqual([...encodeVarint(128)], [0x80, 0x01])
  assert.deepEqual([...encodeVarint(300)], [0xac, 0x02])
  assert.deepEqual([...encodeVarint(2 ** 32)], [0x80, 0x80, 0x80, 0x80, 0x10])
  assert.deepEqual([...encodeFrame(Uint8Array.of(9, 8))], [2, 9, 8])
})
