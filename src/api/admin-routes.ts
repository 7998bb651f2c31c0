// /health, /metrics and /status: what an operator or a load balancer asks a node.
import type { FastifyInstance } from 'fastify'
import type { NodeService } from '../node/service.js'

export function registerAdminRoutes (app: FastifyInstance, node: NodeService): void {
  app.get('/health', async (_request, reply) => {
    const ok = node.state === 'running'
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : node.state })
  })

  app.get('/metrics', async (_request, reply) => {
    const text = await node.metrics.registry.metrics()
    return reply.type(node.metrics.registry.contentType).send(text)
  })

  app.get('/status', async () => await node.status())
}
