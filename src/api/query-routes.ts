// /list, /history/<path>, /audit and /rollback/<path>.
import type { FastifyInstance } from 'fastify'
import { GitConfigError } from '../errors.js'
import type { NodeService } from '../node/service.js'
import { parseAuditLimit, parseAuthor, parseCommitParam, parseFlag, parseHistoryLimit, parseString, type Query } from './params.js'
import { keyFromRoute } from './target.js'
import { encodeValue } from './wire.js'

export function registerQueryRoutes (app: FastifyInstance, node: NodeService): void {
  app.get('/list', async (request) => {
    const query = request.query as Query
    const prefix = parseString(query, 'prefix') ?? '/'
    const recursive = parseFlag(query, 'recursive')
    const values = parseFlag(query, 'values')
    const entries = await node.list(prefix, { recursive, values })
    return {
      prefix,
      entries: entries.map(e => ({
        key: e.key,
        ...(e.hasChildren !== undefined ? { hasChildren: e.hasChildren } : {}),
        ...(e.value !== undefined ? encodeValue(e.value) : {})
      }))
    }
  })

  app.get('/history/*', async (request) => {
    const key = keyFromRoute(request)
    return await node.history(key, { limit: parseHistoryLimit(request.query as Query) })
  })

  app.get('/audit', async (request) => {
    const query = request.query as Query
    return await node.audit(parseString(query, 'prefix') ?? '/', {
      since: parseString(query, 'since'),
      until: parseString(query, 'until'),
      after: parseString(query, 'after'),
      limit: parseAuditLimit(query)
    })
  })

  app.post('/rollback/*', async (request) => {
    const key = keyFromRoute(request)
    const to = parseCommitParam(request.query as Query, 'to')
    if (to === undefined) throw new GitConfigError('INVALID_ARGUMENT', 'rollback needs ?to=<commit>')
    return await node.rollback(key, to, { author: parseAuthor(request) })
  })
}
