import { test } from 'node:test'
import assert from 'node:assert/strict'
import { HybridLogicalClock, compareVersions, formatVersion, parseVersion, hlcRemoteDriftMsMax } from '../../src/gitstore/hlc.js'

test('versions from one clock strictly increase even when the wall clock stalls or steps back', () => {
  let wall = 1000
  const clock = new HybridLogicalClock('n1', () => wall)
  const seen = [clock.now(), clock.now()]
  wall = 900
  seen.push(clock.now())
  wall = 2000
  seen.push(clock.now())
  for (let i = 1; i < seen.length; i++) assert.equal(compareVersions(seen[i - 1], seen[i]), -1)
  assert.deepEqual(seen.map(formatVersion), ['1000.0@n1', '1000.1@n1', '1000.2@n1', '2000.0@n1'])
})

test('after observing a remote version, local versions order after it', () => {
  const clock = new HybridLogicalClock('a', () => 10)
  assert.equal(clock.observe({ wallMs: 50, counter: 7, node: 'b' }), true)
  const v = clock.now()
  assert.equal(compareVersions({ wallMs: 50, counter: 7, node: 'b' }, v), -1)
})

test('a remote version too far in the future is not followed', () => {
  const clock = new HybridLogicalClock('a', () => 10)
  assert.equal(clock.observe({ wallMs: 10 + hlcRemoteDriftMsMax + 1, counter: 0, node: 'b' }), false)
  assert.equal(clock.now().wallMs, 10)
})

test('the node id breaks ties and formatting round-trips', () => {
  const a = { wallMs: 5, counter: 1, node: 'a' }
  const b = { wallMs: 5, counter: 1, node: 'b' }
  assert.equal(compareVersions(a, b), -1)
  assert.equal(compareVersions(b, a), 1)
  assert.equal(compareVersions(a, { ...a }), 0)
  assert.deepEqual(parseVersion(formatVersion(b)), b)
  for (const bad of ['', '5.1', '5.1@', 'x.1@a', '5.1@a b', '99999999999999999.1@a']) assert.equal(parseVersion(bad), null, bad)
})
