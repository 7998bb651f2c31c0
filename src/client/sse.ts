// A minimal Server-Sent Events parser (the subset the node sends: id, event, data, comments), fed with text chunks
// as they arrive. Kept separate from the client so it can be tested on its own with awkward chunk boundaries.
import { GitConfigError } from '../errors.js'
import { clientSseBufferBytesMax } from '../limits.js'

export interface SseMessage {
  readonly event: string
  readonly data: string
  /** The `id:` field of this message itself, null when it has none. */
  readonly id: string | null
}

export class SseParser {
  private buffer = ''

  /** Adds a chunk and returns the messages it completed. */
  push (chunk: string): SseMessage[] {
    this.buffer += chunk
    if (this.buffer.length > clientSseBufferBytesMax) {
      throw new GitConfigError('INTERNAL', `SSE message longer than ${clientSseBufferBytesMax} bytes`)
    }
    const out: SseMessage[] = []
    // Messages end with a blank line; normalise CRLF/CR line ends (all three are valid SSE) to LF first. A CR at the
    // very end waits for the next chunk, which may start with the LF of the same CRLF.
    this.buffer = this.buffer.replace(/\r\n|\r(?!$)/g, '\n')
    let end = this.buffer.indexOf('\n\n')
    while (end >= 0) {
      const block = this.buffer.slice(0, end)
      this.buffer = this.buffer.slice(end + 2)
      const msg = parseBlock(block)
      if (msg !== null) out.push(msg)
      end = this.buffer.indexOf('\n\n')
    }
    return out
  }
}

function parseBlock (block: string): SseMessage | null {
  let event = 'message'
  let id: string | null = null
  const data: string[] = []
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'event') event = value
    else if (field === 'data') data.push(value)
    else if (field === 'id') id = value
  }
  if (data.length === 0) return null
  return { event, data: data.join('\n'), id }
}
