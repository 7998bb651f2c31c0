import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseNodeOptions } from '../../src/node/options.js'
import { GitConfigNode } from '../../src/node/node.js'

test('node options: defaults are the embedded default (./data, loopback, 8080) and the result is frozen', () => {
  const o = parseNodeOptions({})
  assert.equal(o.repo, './data')
  assert.equal(o.host, '127.0.0.1')
  assert.equal(o.httpPort, 8080)
  assert.equal(o.logLevel, 'info')
  assert.equal(o.keyBytesMax, 1024)
  assert.equal(o.valueBytesMax, 1024 * 1024)
  assert.ok(Object.isFrozen(o))
})

test('node options: unknown keys and bad values are rejected with every reason', () => {
  const bad = (input: unknown, pattern: RegExp): void => {
    assert.throws(() => parseNodeOptions(input), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'INVALID_ARGUMENT')
      assert.match(err.message, pattern)
      return true
    })
  }
  bad({ httpPrt: 1 }, /httpPrt/)
  bad({ httpPort: 70000 }, /httpPort/)
  bad({ httpPort: 1.5 }, /httpPort/)
  bad({ logLevel: 'loud' }, /logLevel/)
  bad({ valueBytesMax: 0, keyBytesMax: 'x' }, /valueBytesMax.*keyBytesMax|keyBytesMax.*valueBytesMax/)
  bad({ valueBytesMax: 4096, requestBytesMax: 2048 }, /requestBytesMax/)
  bad('not an object', /options/)
})

test('GitConfigNode validates options in its constructor, before opening anything', () => {
  assert.throws(() => new GitConfigNode({ repo: '/tmp/x', bogus: true }), (err: Error & { code?: string }) => err.code === 'INVALID_ARGUMENT')
})
