// A free TCP port on 127.0.0.1, for a process that must be told its port before it starts (a fixed p2p port, etcd).
// Another process could take it in between; on a test machine's loopback that does not happen in practice.
import { createServer } from 'node:net'

export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>(resolve => server.close(() => { resolve() }))
  return typeof address === 'object' && address !== null ? address.port : 0
}
