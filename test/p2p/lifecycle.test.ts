import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isGitConfigError } from '../../src/errors.js'
import { Scratch, head, isConnected, startHost, waitForEvent, waitUntil } from './helpers.js'

test('aborting the signal stops the host; its peer sees it leave; a stopped host cannot restart', async (t) => {
  const scratch = new Scratch()
  t.after(() => scratch.cleanup())
  const controller = new AbortController()
  const a = await startHost(scratch, { name: 'a', signal: controller.signal })
  const b = await startHost(scratch, { name: 'b', bootstrap: a.multiaddrs() })
  await waitUntil(() => isConnected(a, b), 'a and b to connect')
  const left = waitForEvent(b, 'peer:disconnect', id => id === a.peerId, 'a to leave')
  controller.abort()
  await left
  await assert.rejects(a.start(), (err: unknown) => isGitConfigError(err) && err.code === 'INVALID_ARGUMENT')
  assert.equal(await a.announceHead(head('a', '1')), 0, 'announcing on a stopped host is a counted drop, not a throw')
  assert.equal(a.counters().gossipPublishDropped, 1)
})

test('an invalid local announcement is a programming error and throws', async (t) => {
  const scratch = new Scratch()
  t.after(() => scratch.cleanup())
  const a = await startHost(scratch, { name: 'a' })
  await assert.rejects(a.announceHead({ ...head('a', '1'), commit: 'main' }), (err: unknown) => isGitConfigError(err) && err.code === 'INVALID_ARGUMENT')
  assert.equal(await a.announceHead(head('a', '1')), 0, 'alone, a valid announcement reaches nobody: counted, not thrown')
  assert.equal(a.counters().gossipPublishDropped, 1)
})

test('a port already in use is reported as INVALID_ARGUMENT naming the address', async (t) => {
  const scratch = new Scratch()
  t.after(() => scratch.cleanup())
  const a = await startHost(scratch, { name: 'a' })
  const port = Number(/\/tcp\/(\d+)\//.exec(a.multiaddrs()[0])?.[1])
  await assert.rejects(startHost(scratch, { name: 'b', port }), (err: unknown) =>
    isGitConfigError(err) && err.code === 'INVALID_ARGUMENT' && err.message.includes(`/tcp/${port}`))
})
