// Refusals made below fastify, by Node's HTTP server, answered in the API's error format (`{error, message}` with a
// code of docs/errors.md) instead of Node's or fastify's own bodies; and the connection discipline after a refusal
// that leaves part of a request unread, so the client reads its answer instead of a connection reset.
//
// Why a reset: a socket closed while received bytes are still unread makes the kernel send RST instead of FIN, and
// a client still sending its body then fails on its next write (EPIPE) or loses the answer it had not read yet.
// So a refused body is read and discarded (up to a bound), and a connection whose parser failed is half-closed
// after the answer and closed once the client is done, or after a short grace.
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyReply } from 'fastify'
import { GitConfigError } from '../errors.js'

/** How long a connection refused by the HTTP parser stays half-open for the client to read the answer and close. */
export const refusedConnectionLingerMs = 5_000
/** A refused request body (413) is read and discarded up to this many more bytes; past it the connection is closed. */
export const refusedBodyDiscardBytesMax = 64 * 1024 * 1024

/** The response under way on each connection, so a parser error that arrives meanwhile does not write a second one. */
const responses = new WeakMap<Duplex, ServerResponse>()
/** Connections answered by answerAndLinger: the parser reports its error again for every later chunk; once is enough. */
const answered = new WeakSet<Duplex>()

export function noteResponse (request: IncomingMessage, response: ServerResponse): void {
  responses.set(request.socket, response)
}

function statusLine (status: number): string {
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`
}

/** A whole HTTP/1.1 response carrying the error, for a socket no ServerResponse owns. */
function rawErrorResponse (e: GitConfigError): string {
  const body = JSON.stringify(e.toJSON())
  return `${statusLine(e.status)}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
    `connection: close\r\n\r\n${body}`
}

/** The error an HTTP parser failure stands for (`err.code` as Node's server and llhttp set it). */
export function clientErrorOf (err: NodeJS.ErrnoException): GitConfigError {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new GitConfigError('REQUEST_TIMEOUT', 'the request (headers and body) was not received in time')
    case 'HPE_HEADER_OVERFLOW':
      return new GitConfigError('HEADERS_TOO_LARGE', 'the request line and headers are larger than the node reads')
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new GitConfigError('VALUE_TOO_LARGE', 'the chunk extensions of the request body are too large')
    default:
      return new GitConfigError('INVALID_ARGUMENT', `malformed HTTP request${typeof err.code === 'string' ? ` (${err.code})` : ''}`)
  }
}

/** Writes the answer, half-closes, and closes once the client has (or after the grace); unread input is dropped. */
function answerAndLinger (socket: Duplex, e: GitConfigError): void {
  answered.add(socket)
  const timer = setTimeout(() => { socket.destroy() }, refusedConnectionLingerMs)
  timer.unref()
  socket.once('close', () => { clearTimeout(timer) })
  socket.once('end', () => { socket.destroy() })
  socket.on('data', () => {})
  socket.end(rawErrorResponse(e))
}

/** fastify's `clientErrorHandler`: Node's parser refused the request (or timed it out) before fastify saw it. */
export function answerClientError (err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed || answered.has(socket)) return
  const response = responses.get(socket)
  // An answer already under way cannot be followed by another on the same connection: close it.
  if (!socket.writable || (response !== undefined && response.headersSent && !response.writableEnded)) {
    socket.destroy()
    return
  }
  answerAndLinger(socket, clientErrorOf(err))
}

function respondWithError (response: ServerResponse, e: GitConfigError): void {
  const body = JSON.stringify(e.toJSON())
  response.writeHead(e.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) })
  response.end(body)
}

/** Requests Node's server answers without emitting 'request': an unknown Expect, and CONNECT. */
export function answerRequestsBelowFastify (server: Server): void {
  // Without this listener Node answers 417 with an empty body.
  server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    respondWithError(response, new GitConfigError('EXPECTATION_FAILED', `only "Expect: 100-continue" is understood, not ${JSON.stringify(request.headers.expect)}`))
  })
  // Without this listener Node drops a CONNECT without an answer.
  server.on('connect', (_request: IncomingMessage, socket: Duplex) => {
    answerAndLinger(socket, new GitConfigError('INVALID_ARGUMENT', 'CONNECT is not served: this node is not a proxy'))
  })
}

/**
 * After a refusal sent before the request body was read (413): reads and discards the rest of the body instead of
 * closing with it unread. Node closes the connection right after a response that says `Connection: close` (fastify
 * sets it after a body error) or that answers a request asking for it, which is the reset: so the answer is sent
 * keep-alive, and the connection is closed only once the body is in, if the client asked for that. Past
 * `refusedBodyDiscardBytesMax` discarded bytes the connection is closed at once.
 */
export function discardUnreadBody (request: IncomingMessage, reply: FastifyReply): void {
  if (request.complete) return
  const clientKeepsAlive = reply.raw.shouldKeepAlive
  reply.removeHeader('connection')
  reply.raw.shouldKeepAlive = true
  let discarded = 0
  request.on('data', (chunk: Buffer) => {
    discarded += chunk.length
    if (discarded > refusedBodyDiscardBytesMax) request.socket.destroy()
  })
  request.once('end', () => { if (!clientKeepsAlive) request.socket.end() })
  request.resume()
}
