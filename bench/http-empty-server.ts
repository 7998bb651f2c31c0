// The ceiling of this machine for bench/http.ts: fastify 5 with handlers that do nothing, in its own process,
// reading bodies as raw bytes like the node does. Prints its URL on stdout once listening.
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.removeAllContentTypeParsers()
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => { done(null, body) })
app.get('/keys/*', async () => 'value')
app.post('/keys/*', async () => ({ ok: true }))
const address = await app.listen({ host: '127.0.0.1', port: 0 })
process.stdout.write(address + '\n')
process.on('SIGTERM', () => { void app.close().then(() => process.exit(0)) })
