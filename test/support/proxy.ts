// A TCP proxy on loopback that can cut every connection passing through it: how tests drop a watch stream in the
// middle without stopping the node behind it.
import { createServer, connect, type Server, type Socket } from 'node:net'

export interface CuttableProxy {
  readonly url: string
  /** Connections accepted so far. */
  readonly connections: number
  /** Destroys every open connection (both sides); new connections still work. */
  cutAll (): void
  close (): Promise<void>
}

export async function startProxy (targetUrl: string): Promise<CuttableProxy> {
  const target = new URL(targetUrl)
  const sockets = new Set<Socket>()
  let connections = 0
  const server: Server = createServer(client => {
    connections++
    const upstream = connect(Number(target.port), target.hostname)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => { sockets.delete(s) })
      s.on('error', () => { client.destroy(); upstream.destroy() })
    }
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    get connections () { return connections },
    cutAll: () => { for (const s of sockets) s.destroy() },
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
    }
  }
}
