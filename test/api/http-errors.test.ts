// What Node's HTTP server refuses before fastify sees a request, answered in the API's error format. The request
// timeout is checked every connectionsCheckingInterval (30 s in the node), so a bare server with short ones runs the
// same handler on the same error from Node's parser; the other refusals are tested on a node (hostile-requests).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { answerClientError } from '../../src/api/http-errors.js'
import { rawRequest } from '../support/raw-http.js'

test('a request not received in time is answered 408 REQUEST_TIMEOUT in JSON', async (t) => {
  const server = createServer({ requestTimeout: 200, connectionsCheckingInterval: 20 }, () => {})
  server.on('clientError', answerClientError)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.after(() => { server.closeAllConnections(); server.close() })
  const { port } = server.address() as AddressInfo
  const res = await rawRequest(`http://127.0.0.1:${port}`, 'POST /keys/slow HTTP/1.1\r\nContent-Length: 10', 'abc')
  assert.equal(res.status, 408)
  const body = JSON.parse(res.body) as { error: string, message: string }
  assert.equal(body.error, 'REQUEST_TIMEOUT')
  assert.equal(typeof body.message, 'string')
  assert.match(res.headers, /content-type: application\/json/)
})
