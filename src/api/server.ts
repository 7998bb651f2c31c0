// The HTTP API of a node, on fastify 5. This module wires the framework: body parsing (raw bytes for every
// content type, bounded), the error mapping (GitConfigError -> status + JSON), 404/405, request metrics and logs.
// The routes live in their own modules and only call the node.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { GitConfigError, isGitConfigError } from '../errors.js'
import { httpConnectionsMax, httpRequestReceiveMsMax } from '../limits.js'
import type { NodeService } from '../node/service.js'
import { registerAdminRoutes } from './admin-routes.js'
import { answerClientError, answerRequestsBelowFastify, discardUnreadBody, noteResponse } from './http-errors.js'
import { checkAuthorization, type HttpSecurity } from './security.js'
import { registerKeyRoutes } from './key-routes.js'
import { registerQueryRoutes } from './query-routes.js'
import { checkTarget, originForm, parseQuery, pathOf, undecodableTargetError } from './target.js'
import { registerWatchRoutes } from './watch-routes.js'

/** Route prefixes and the methods each serves, used to tell 405 (known path, wrong method) from 404. */
const routeMethods: ReadonlyArray<{ prefix: string, exact: boolean, methods: string[] }> = [
  { prefix: '/keys/', exact: false, methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'] },
  { prefix: '/history/', exact: false, methods: ['GET', 'HEAD'] },
  { prefix: '/rollback/', exact: false, methods: ['POST'] },
  { prefix: '/watch/', exact: false, methods: ['GET'] },
  { prefix: '/list', exact: true, methods: ['GET', 'HEAD'] },
  { prefix: '/audit', exact: true, methods: ['GET', 'HEAD'] },
  { prefix: '/health', exact: true, methods: ['GET', 'HEAD'] },
  { prefix: '/metrics', exact: true, methods: ['GET', 'HEAD'] },
  { prefix: '/status', exact: true, methods: ['GET', 'HEAD'] }
]

function allowedMethods (url: string): string[] | null {
  const path = pathOf(url)
  for (const r of routeMethods) {
    if (r.exact ? path === r.prefix : path.startsWith(r.prefix)) return r.methods
  }
  return null
}

export function buildApi (node: NodeService, security: HttpSecurity = { tls: null, authToken: null }): FastifyInstance {
  const logger: FastifyBaseLogger = node.logger
  const app = Fastify({
    // Node's own refusal of a request without Host has no body; checkTarget refuses it in our format.
    ...(security.tls === null
      ? { http: { requireHostHeader: false } }
      : { https: { cert: security.tls.cert, key: security.tls.key, requireHostHeader: false } }),
    loggerInstance: logger,
    // One debug line per request from our onResponse hook instead of fastify's two info lines.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: node.options.requestBytesMax,
    // Keys travel in the URL: allow a maximal key with every byte percent-encoded.
    routerOptions: { maxParamLength: node.options.keyBytesMax * 3 + 64, querystringParser: parseQuery },
    // While stopping, our onRequest hook answers 503 UNAVAILABLE in our error format instead of fastify's own body.
    return503OnClosing: false,
    // A client must finish sending its request (headers and body) within this time: a trickling upload cannot hold
    // a connection and a body buffer forever. Responses (SSE streams, long-polls) are not limited by it.
    requestTimeout: httpRequestReceiveMsMax,
    forceCloseConnections: 'idle',
    // Absolute-form targets are routed as their path, and every later reader of request.url sees that path.
    rewriteUrl: (req) => originForm(req.url ?? '/'),
    // Requests Node's parser refuses (malformed, headers too large, too slow) are answered in our format too.
    clientErrorHandler: answerClientError,
    frameworkErrors: (err, request, reply) => {
      // A target the router cannot decode, before routing: answer in our error format rather than fastify's.
      const e = err.code === 'FST_ERR_BAD_URL' || err.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? undecodableTargetError(request.url, err.message)
        : new GitConfigError('INVALID_ARGUMENT', err.message)
      // The hook's reply type is generic over route schemas we do not use; it is a plain reply here.
      void (reply as unknown as FastifyReply).code(e.status).send(e.toJSON())
    }
  })

  // Every body is read as raw bytes whatever its Content-Type (`curl -d` sends form-urlencoded): a value is bytes.
  // CAS parses its JSON itself so a malformed body is our 400, not a framework message.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => { done(null, body) })

  // Callback-style hooks: they run on every request, and a sync callback costs less than an async function's promise.
  answerRequestsBelowFastify(app.server)
  app.addHook('onRequest', (request, reply, done) => {
    noteResponse(request.raw, reply.raw)
    try {
      checkTarget(request)
      if (node.state === 'stopping') throw new GitConfigError('UNAVAILABLE', 'the node is stopping')
      checkAuthorization(security, request)
      refuseOversizeBody(node, request)
      // A body is bytes whatever its Content-Type: drop the header before fastify validates it, so that an empty or
      // malformed one cannot refuse a write (fastify would answer 415 before our catch-all parser runs).
      delete request.raw.headers['content-type']
      done()
    } catch (err) {
      done(err as FastifyError)
    }
  })

  app.addHook('onResponse', (request, reply, done) => {
    node.metrics.observeRequest(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime)
    if (node.logger.isLevelEnabled('debug')) {
      request.log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime }, 'request')
    }
    done()
  })

  app.setErrorHandler((err: FastifyError, request, reply) => sendError(node, err, request, reply))

  app.setNotFoundHandler((request, reply) => {
    const allowed = allowedMethods(request.url)
    if (allowed !== null) {
      void reply.code(405).header('allow', allowed.join(', '))
        .send(new GitConfigError('METHOD_NOT_ALLOWED', `${request.method} is not allowed here; allowed: ${allowed.join(', ')}`).toJSON())
      return
    }
    void reply.code(404).send(new GitConfigError('ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`).toJSON())
  })

  // Bounds everything that grows with connections (in-flight writes, watches, socket buffers).
  app.server.maxConnections = httpConnectionsMax
  registerKeyRoutes(app, node)
  registerQueryRoutes(app, node)
  registerWatchRoutes(app, node)
  registerAdminRoutes(app, node)
  return app
}

/**
 * Refuses a write whose declared Content-Length exceeds its limit before any of the body is read: a raw value is
 * bounded by valueBytesMax, a CAS body (two base64 values in JSON) by requestBytesMax. Chunked bodies without a
 * length are capped while streaming by fastify's bodyLimit (requestBytesMax), then by the value check.
 */
function refuseOversizeBody (node: NodeService, request: FastifyRequest): void {
  if (request.method !== 'POST' && request.method !== 'PUT') return
  const declared = request.headers['content-length']
  if (declared === undefined) return
  const length = Number(declared)
  const isRawValue = request.url.startsWith('/keys/') && !isCasRequest(request)
  const limit = isRawValue ? node.options.valueBytesMax : node.options.requestBytesMax
  if (Number.isFinite(length) && length > limit) throw tooLarge(length, limit, isRawValue ? 'value' : 'request body')
}

export function isCasRequest (request: FastifyRequest): boolean {
  return Object.hasOwn(request.query as object, 'cas')
}

export function tooLarge (bytes: number | null, limitBytes: number, what: string): GitConfigError {
  const size = bytes === null ? `${what} is over the limit` : `${what} is ${bytes} bytes`
  return new GitConfigError('VALUE_TOO_LARGE', `${size}; the limit is ${limitBytes} bytes`, { limitBytes })
}

function sendError (node: NodeService, err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  let e: GitConfigError
  if (isGitConfigError(err)) {
    e = err
  } else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    e = tooLarge(null, node.options.requestBytesMax, 'request body')
  } else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    e = new GitConfigError('INVALID_ARGUMENT', err.message)
  } else {
    node.reportUnexpected(err, { method: request.method, url: request.url })
    e = new GitConfigError('INTERNAL', 'internal error; see the node log')
  }
  // After refusing an oversize body, read and discard the rest of it (bounded) rather than close with it unread,
  // which would reset the connection under the answer; while stopping, close so the next request goes elsewhere.
  if (e.code === 'VALUE_TOO_LARGE') discardUnreadBody(request.raw, reply)
  if (node.state === 'stopping') void reply.header('connection', 'close')
  if (e.code === 'UNAUTHENTICATED') void reply.header('www-authenticate', 'Bearer')
  void reply.code(e.status).send(e.toJSON())
}
