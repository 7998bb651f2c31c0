import { test } from 'node:test'
import assert from 'node:assert/strict'
import { GitConfigError } from '../../src/errors.js'
import { decodeSegment, encodeSegment, keyToTreeDir, normalizeKey, normalizePrefix, treeDirToKey } from '../../src/gitstore/keys.js'
import { SimRandom } from '../sim/random.js'

const max = 1024

function invalidReason (key: unknown): string {
  try {
    normalizeKey(key, max)
  } catch (err) {
    assert.ok(err instanceof GitConfigError)
    assert.equal(err.code, 'INVALID_KEY')
    return String(err.details.reason)
  }
  assert.fail(`${JSON.stringify(key)} was accepted`)
}

test('keys normalise to one leading slash', () => {
  assert.equal(normalizeKey('a/b', max), '/a/b')
  assert.equal(normalizeKey('///a/b', max), '/a/b')
  assert.equal(normalizeKey('/a b/ü/"q"\\x', max), '/a b/ü/"q"\\x')
  assert.equal(normalizePrefix('/env/prod/', max), '/env/prod')
  assert.equal(normalizePrefix('/', max), '')
})

test('malformed keys are refused with the reason', () => {
  assert.match(invalidReason('/'), /root/)
  assert.match(invalidReason(''), /root/)
  assert.match(invalidReason('/a//b'), /empty segment/)
  assert.match(invalidReason('/a/'), /end with/)
  assert.match(invalidReason('/a/../b'), /"\.\." segments/)
  assert.match(invalidReason('/./b'), /"\." segments/)
  assert.match(invalidReason('/a\u0000b'), /control/)
  assert.match(invalidReason('/a\nb'), /control/)
  assert.match(invalidReason('/a\u007fb'), /control/)
  assert.match(invalidReason('/a\u0085b'), /control/)
  assert.match(invalidReason('/a\ud800b'), /UTF-8/)
  assert.match(invalidReason(42), /string/)
  assert.match(invalidReason('/' + 'x'.repeat(max)), /1025 bytes.*limit is 1024/)
  assert.equal(normalizeKey('/' + 'x'.repeat(max - 1), max).length, max)
  // Multi-byte characters count in bytes, not characters.
  assert.match(invalidReason('/' + 'é'.repeat(512)), /1025 bytes/)
})

test('segments that git or the store treat specially cannot be produced by any key', () => {
  for (const segment of ['.git', '.gitmodules', '.value', '.meta', '..x', 'git~1', 'GIT~1', '.GIT', 'a\\b', 'x y', '~', '%41']) {
    const encoded = encodeSegment(segment)
    assert.ok(!encoded.startsWith('.'), `${segment} -> ${encoded}`)
    assert.ok(!encoded.includes('~'))
    assert.match(encoded, /^[A-Za-z0-9_.%-]+$/)
    assert.equal(decodeSegment(encoded), segment)
  }
  assert.equal(encodeSegment('.git'), '%2Egit')
  assert.equal(encodeSegment('a.b c'), 'a.b%20c')
  assert.equal(encodeSegment('é'), '%C3%A9')
  assert.equal(keyToTreeDir('/app/.meta/x y'), 'app/%2Emeta/x%20y')
})

test('non-canonical encodings do not decode, so the encoding has one form per key', () => {
  assert.equal(decodeSegment('%61'), null) // would be literal "a"
  assert.equal(decodeSegment('%2e'), null) // lowercase hex
  assert.equal(decodeSegment('.x'), null) // leading dot is never literal
  assert.equal(decodeSegment('a b'), null)
  assert.equal(decodeSegment('%FF'), null) // not UTF-8
  assert.equal(decodeSegment(''), null)
  // Directories that decode to something no key can be are not keys: the rebuild skips them.
  assert.equal(treeDirToKey('a/%2E'), null)
  assert.equal(treeDirToKey('a/%2E%2E/b'), null)
  assert.equal(treeDirToKey('a/%2F'), null)
  assert.equal(treeDirToKey('a/%00'), null)
  assert.equal(treeDirToKey('a/b%20c'), '/a/b c')
})

test('decode(encode(key)) = key and distinct keys get distinct paths (seeded random keys)', () => {
  const rnd = new SimRandom(20261126)
  const alphabet = ['a', 'Z', '0', '_', '-', '.', ' ', '%', '~', '"', '\\', 'é', '日', '😀', '\u00a0', '+', ':', '*', '?', '<']
  const seen = new Map<string, string>()
  for (let i = 0; i < 3000; i++) {
    const segments: string[] = []
    const n = rnd.int(1, 4)
    for (let s = 0; s < n; s++) {
      let seg = ''
      const len = rnd.int(1, 6)
      for (let c = 0; c < len; c++) seg += rnd.pick(alphabet)
      if (seg === '.' || seg === '..') seg += 'x'
      segments.push(seg)
    }
    const key = normalizeKey('/' + segments.join('/'), max)
    const dir = keyToTreeDir(key)
    assert.equal(treeDirToKey(dir), key)
    const other = seen.get(dir)
    if (other !== undefined) assert.equal(other, key, 'two keys share one path')
    seen.set(dir, key)
  }
  assert.ok(seen.size > 2500)
})
