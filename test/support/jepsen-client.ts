// One register operation of the Jepsen-style process test (test/support/jepsen.ts) over the node's HTTP API, and
// what its reply says about its effect. The routes and bodies are those of docs/http-api.md:
//   read    GET    /keys/<path>         200 raw value | 404 NOT_FOUND (absent)
//   write   POST   /keys/<path>         200 {key, commit, version}
//   delete  DELETE /keys/<path>         200 {key, deleted: true, commit} | 404 NOT_FOUND (absent: deleted false;
//                                       a 200 with deleted false is read the same way)
//   cas     POST   /keys/<path>?cas     body {"expected": string|null, "value": string};
//                                       200 {swapped: true, commit} | 409 {swapped: false, current: string|null}
// Plain http.request with one keep-alive socket per client, not fetch: nothing retries a request behind our back,
// and a refused connection (the request never left) is told apart from one lost on the way (it may have acted).
import { Agent, request } from 'node:http'
import type { SimInput, SimOutput } from '../sim/models.js'

/** What came back for one request. */
export type Reply =
  | { readonly kind: 'reply', readonly status: number, readonly body: string }
  /** The connection was refused: the request never reached a node, so it had no effect. */
  | { readonly kind: 'refused', readonly reason: string }
  /** Reset, cut off or timed out after it may have been received: it may or may not have taken effect. */
  | { readonly kind: 'lost', readonly reason: string }

/** What a reply means for the history (the checker's conventions, docs/merge.md). */
export type Effect =
  | { readonly kind: 'done', readonly output: SimOutput }
  /** Known to have had no effect: left out of the history. */
  | { readonly kind: 'none', readonly reason: string }
  /** May or may not have taken effect: returnTime Infinity (a read is left out, having no effect either way). */
  | { readonly kind: 'unknown', readonly reason: string }
  /** A reply the API does not document for this request (a test or node bug); recorded as unknown, and reported. */
  | { readonly kind: 'unexpected', readonly reason: string }

export type RegisterInput = Extract<SimInput, { readonly key: string }>

export function clientAgent (): Agent {
  return new Agent({ keepAlive: true, maxSockets: 1 })
}

/** Sends `input` to the node at `url`; never throws. */
export async function perform (agent: Agent, url: string, input: RegisterInput, timeoutMs: number): Promise<Reply> {
  const path = '/keys' + input.key
  switch (input.kind) {
    case 'get': return await send(agent, url + path, 'GET', undefined, timeoutMs)
    case 'put': return await send(agent, url + path, 'POST', input.value, timeoutMs)
    case 'delete': return await send(agent, url + path, 'DELETE', undefined, timeoutMs)
    case 'cas': return await send(agent, url + path + '?cas', 'POST', JSON.stringify({ expected: input.expected, value: input.value }), timeoutMs)
  }
}

function send (agent: Agent, url: string, method: string, body: string | undefined, timeoutMs: number): Promise<Reply> {
  return new Promise(resolve => {
    // Only the first call counts: a response cut off mid-body reports both 'error' and 'close'.
    let settled = false
    const settle = (r: Reply): void => { if (!settled) { settled = true; resolve(r) } }
    const headers: Record<string, string | number> = body === undefined ? {} : { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) }
    const req = request(url, { method, agent, headers, signal: AbortSignal.timeout(timeoutMs) }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { settle({ kind: 'reply', status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }) })
      res.on('error', (err) => { settle(failure(err)) })
      res.on('close', () => { if (!res.complete) settle({ kind: 'lost', reason: 'response cut off' }) })
    })
    req.on('error', (err) => { settle(failure(err)) })
    req.end(body)
  })
}

function failure (err: Error & { code?: string }): Reply {
  const reason = err.code ?? err.name
  return err.code === 'ECONNREFUSED' ? { kind: 'refused', reason } : { kind: 'lost', reason }
}

/** Reads a reply as the register model's output, or says why it cannot. */
export function effectOf (input: RegisterInput, reply: Reply): Effect {
  if (reply.kind === 'refused') return { kind: 'none', reason: `connection refused (${reply.reason})` }
  if (reply.kind === 'lost') return { kind: 'unknown', reason: reply.reason }
  const { status } = reply
  const json = status === 200 && input.kind === 'get' ? {} : parseJson(reply.body)
  if (status === 503 && json.error === 'UNAVAILABLE') return { kind: 'none', reason: '503 UNAVAILABLE' }
  if (status >= 500) return { kind: 'unknown', reason: `${status} ${String(json.error)}` }
  const output = outputOf(input, status, json, reply.body)
  if (output !== null) return { kind: 'done', output }
  return { kind: 'unexpected', reason: `${input.kind} ${input.key}: ${status} ${reply.body.slice(0, 200)}` }
}

function outputOf (input: RegisterInput, status: number, json: Record<string, unknown>, body: string): SimOutput | null {
  const absent = status === 404 && json.error === 'NOT_FOUND'
  switch (input.kind) {
    case 'get':
      if (status === 200) return { kind: 'get', value: body }
      return absent ? { kind: 'get', value: null } : null
    case 'put':
      return status === 200 && typeof json.commit === 'string' ? { kind: 'put' } : null
    case 'delete':
      if (status === 200 && typeof json.deleted === 'boolean') return { kind: 'delete', deleted: json.deleted }
      return absent ? { kind: 'delete', deleted: false } : null
    case 'cas':
      if (status === 200 && json.swapped === true) return { kind: 'cas', swapped: true, current: null }
      // Values in this test are ASCII, so the current value comes as `current`, never `currentBase64`.
      if (status === 409 && json.swapped === false && (typeof json.current === 'string' || json.current === null)) {
        return { kind: 'cas', swapped: false, current: json.current }
      }
      return null
  }
}

function parseJson (body: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(body)
    return typeof v === 'object' && v !== null ? v as Record<string, unknown> : {}
  } catch {
    return {}
  }
}
