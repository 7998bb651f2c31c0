import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isGitConfigError } from '../../src/errors.js'
import { parseBootstrapAddr, validateP2pHostOptions } from '../../src/p2p/options.js'

const peerId = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'
const base = { keyFile: '/tmp/k', localHeads: () => [] }

function rejects (fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => isGitConfigError(err) && err.code === 'INVALID_ARGUMENT' && pattern.test(err.message))
}

test('bootstrap addresses are TCP multiaddrs, with or without a trailing /p2p/<PeerId>', () => {
  const parsed = parseBootstrapAddr(`/ip4/127.0.0.1/tcp/4001/p2p/${peerId}`)
  assert.equal(parsed.peerId?.toString(), peerId)
  assert.equal(parsed.addr.toString(), '/ip4/127.0.0.1/tcp/4001')
  const bare = parseBootstrapAddr('/ip4/127.0.0.1/tcp/4001')
  assert.equal(bare.peerId, null)
  assert.equal(bare.addr.toString(), '/ip4/127.0.0.1/tcp/4001')
  assert.equal(parseBootstrapAddr('/dns4/dc1.example/tcp/4001').peerId, null)
  rejects(() => parseBootstrapAddr('127.0.0.1:4001'), /invalid bootstrap address/)
  rejects(() => parseBootstrapAddr(`/p2p/${peerId}`), /needs a TCP address/)
  rejects(() => parseBootstrapAddr('/ip4/127.0.0.1'), /needs a TCP address/)
  rejects(() => parseBootstrapAddr('/ip4/127.0.0.1/tcp/4001/p2p/notapeerid'), /invalid bootstrap address/)
  rejects(() => parseBootstrapAddr(`/ip4/127.0.0.1/tcp/4001/p2p/${peerId}/p2p/${peerId}`), /invalid bootstrap address/)
})

test('options get defaults, loopback listening, and unknown or bad values are refused', () => {
  const valid = validateP2pHostOptions(base)
  assert.equal(valid.listenAddr, '/ip4/127.0.0.1/tcp/0')
  assert.equal(valid.fetchBytesMax, 256 * 1024 * 1024)
  assert.ok(Object.isFrozen(valid))
  assert.equal(validateP2pHostOptions({ ...base, listenHost: '::1', port: 4001 }).listenAddr, '/ip6/::1/tcp/4001')
  rejects(() => validateP2pHostOptions({ ...base, port: 70000 }), /port/)
  rejects(() => validateP2pHostOptions({ ...base, listenHost: 'localhost' }), /listenHost/)
  rejects(() => validateP2pHostOptions({ ...base, colour: 'blue' }), /colour|unrecognized/i)
  rejects(() => validateP2pHostOptions({ keyFile: '/tmp/k' }), /localHeads/)
  rejects(() => validateP2pHostOptions({ ...base, bootstrap: ['/ip4/1.2.3.4/udp/1'] }), /bootstrap/)
})
