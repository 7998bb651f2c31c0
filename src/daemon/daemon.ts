// GitConfigNode: the daemon, a node with its HTTP API. This is the composition root above both: the node (src/node)
// composes the store, replication and strong operations and knows no front end; the API (src/api) calls the node
// through NodeService; only this module imports both (decision 0107). `gitconfig node start` runs it.
import type { FastifyInstance } from 'fastify'
import { loadHttpSecurity } from '../api/security.js'
import { buildApi } from '../api/server.js'
import { GitConfigError } from '../errors.js'
import { NodeCore, type NodeDependencies } from '../node/node.js'
import type { NodeOptions } from '../node/options.js'
import type { NodeAddress, NodeFrontend, NodeService } from '../node/service.js'

export type { NodeAddress, NodeState, NodeStatus, WatchHandle } from '../node/service.js'

/** How often a stopping node closes connections that became idle after the server stopped accepting. */
const idleSweepMs = 50

export class GitConfigNode extends NodeCore {
  /** Validates the options (INVALID_ARGUMENT on any unknown or bad field); nothing is opened until start(). */
  constructor (options: unknown = {}, deps: NodeDependencies = {}) {
    super(options, { frontend: httpFrontend, ...deps })
  }

  /** Opens the store, then listens; resolves with the bound address (useful with httpPort 0). */
  override async start (): Promise<NodeAddress> {
    const address = await super.start()
    if (address === null) throw new GitConfigError('INTERNAL', 'the node started without its HTTP front end')
    return address
  }
}

/** The HTTP API as the node's front end: the security files are read when it is built, before the store opens. */
export async function httpFrontend (node: NodeService): Promise<NodeFrontend> {
  const security = await loadHttpSecurity(node.options)
  const server = buildApi(node, security)
  return {
    listen: async () => await listen(server, node.options),
    close: async () => { await closeServer(server) }
  }
}

async function listen (server: FastifyInstance, options: NodeOptions): Promise<NodeAddress> {
  try {
    await server.listen({ host: options.host, port: options.httpPort })
  } catch (err) {
    throw listenError(err, options)
  }
  const bound = server.server.address()
  const port = typeof bound === 'object' && bound !== null ? bound.port : options.httpPort
  const hostInUrl = options.host.includes(':') ? `[${options.host}]` : options.host
  const scheme = options.tlsCertFile === undefined ? 'http' : 'https'
  return { host: options.host, port, url: `${scheme}://${hostInUrl}:${port}` }
}

function listenError (err: unknown, options: NodeOptions): unknown {
  const code = (err as { code?: unknown }).code
  if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES') {
    return new GitConfigError('UNAVAILABLE', `cannot listen on ${options.host}:${options.httpPort}: ${(err as Error).message}`)
  }
  return err
}

/**
 * Closes the HTTP server. close() drops connections that are idle at that moment, but a kept-alive connection
 * whose request was still in flight becomes idle only later and would hold close() for the whole keep-alive
 * timeout (72 s), so idle connections are swept again until the server has closed.
 */
async function closeServer (server: FastifyInstance): Promise<void> {
  const sweep = setInterval(() => { server.server.closeIdleConnections() }, idleSweepMs)
  try {
    await server.close()
  } finally {
    clearInterval(sweep)
  }
}
