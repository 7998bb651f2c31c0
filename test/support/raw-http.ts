// HTTP requests written byte for byte on a socket, for what fetch refuses to send or normalises away
// (dot segments, control characters, lying Content-Length headers, bodies cut short).
import { connect } from 'node:net'

export interface RawResponse {
  readonly status: number
  readonly headers: string
  readonly body: string
}

/** Sends `head` (request line and headers, without the final blank line), then `body`; resolves with the reply. */
export function rawRequest (url: string, head: string, body: Buffer | string = '', opts: { endAfterWrite?: boolean } = {}): Promise<RawResponse> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname)
    const chunks: Buffer[] = []
    let settled = false
    const finish = (): void => {
      if (settled) return
      const text = Buffer.concat(chunks).toString('latin1')
      const split = text.indexOf('\r\n\r\n')
      if (split < 0) { settled = true; reject(new Error(`no HTTP response: ${JSON.stringify(text.slice(0, 200))}`)); return }
      const headers = text.slice(0, split)
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1] ?? 0)
      const cl = /\r\ncontent-length: (\d+)/i.exec(headers)
      const rawBody = text.slice(split + 4)
      if (cl !== null && rawBody.length < Number(cl[1]) && !socket.destroyed && !socket.readableEnded) return
      settled = true
      socket.destroy()
      resolve({ status, headers, body: Buffer.from(cl === null ? rawBody : rawBody.slice(0, Number(cl[1])), 'latin1').toString('utf8') })
    }
    socket.on('data', (c: Buffer) => { chunks.push(c); finish() })
    socket.on('end', finish)
    socket.on('close', finish)
    socket.on('error', (err) => { if (chunks.length > 0) finish(); else if (!settled) { settled = true; reject(err) } })
    socket.write(`${head}\r\nHost: ${hostname}:${port}\r\nConnection: close\r\n\r\n`)
    if (body.length > 0) socket.write(body)
    if (opts.endAfterWrite === true) socket.end()
  })
}
