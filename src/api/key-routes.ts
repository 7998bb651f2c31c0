// /keys/<path>: read, write (raw body), delete and compare-and-swap one key.
import { isUtf8 } from 'node:buffer'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { GitConfigError } from '../errors.js'
import { formatVersion } from '../gitstore/hlc.js'
import type { NodeService } from '../node/service.js'
import type { KeyValue } from '../types.js'
import { parseAuthor, parseCommitParam, parseTtlMs, type Query } from './params.js'
import { keyFromRoute } from './target.js'
import { isCasRequest, tooLarge } from './server.js'
import { encodeValue } from './wire.js'

export function registerKeyRoutes (app: FastifyInstance, node: NodeService): void {
  app.get('/keys/*', async (request, reply) => {
    const key = keyFromRoute(request)
    const commit = parseCommitParam(request.query as Query, 'commit')
    const kv = await node.get(key, commit === undefined ? {} : { commit })
    if (kv === null) throw new GitConfigError('NOT_FOUND', `key ${key} not found${commit === undefined ? '' : ` at commit ${commit}`}`, { key })
    return sendValue(request, reply, kv)
  })

  const set = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const key = keyFromRoute(request)
    const query = request.query as Query
    const ttlMs = parseTtlMs(query)
    const author = parseAuthor(request)
    const body = bodyBytes(request.body)
    if (isCasRequest(request)) {
      if (request.method !== 'POST') throw new GitConfigError('INVALID_ARGUMENT', 'compare-and-swap is POST /keys/<path>?cas')
      return await cas(node, key, body, ttlMs, author, reply)
    }
    if (body.length > node.options.valueBytesMax) throw tooLarge(body.length, node.options.valueBytesMax, 'value')
    return await node.set(key, body, { ttlMs, author })
  }
  app.post('/keys/*', set)
  app.put('/keys/*', set)

  app.delete('/keys/*', async (request) => {
    const key = keyFromRoute(request)
    const author = parseAuthor(request)
    const result = await node.delete(key, { author })
    if (!result.deleted) throw new GitConfigError('NOT_FOUND', `key ${result.key} not found`, { key: result.key })
    return result
  })
}

/** The request body as bytes: absent bodies are the empty value. */
function bodyBytes (body: unknown): Buffer {
  if (body === undefined || body === null) return Buffer.alloc(0)
  if (Buffer.isBuffer(body)) return body
  throw new GitConfigError('INTERNAL', 'request body was not read as bytes')
}

function sendValue (request: FastifyRequest, reply: FastifyReply, kv: KeyValue): FastifyReply {
  const version = formatVersion(kv.version)
  const etag = `"${version}"`
  void reply.header('etag', etag)
    .header('x-gitconfig-commit', kv.commit)
    .header('x-gitconfig-version', version)
  if (kv.expiresAtMs !== null) void reply.header('x-gitconfig-expires-at', String(kv.expiresAtMs))
  if (request.headers['if-none-match'] === etag) return reply.code(304).send()
  const buf = Buffer.from(kv.value.buffer, kv.value.byteOffset, kv.value.byteLength)
  return reply.type(isUtf8(buf) ? 'text/plain; charset=utf-8' : 'application/octet-stream').send(buf)
}

const textCas = z.strictObject({ expected: z.string().nullable(), value: z.string() })
const base64Text = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64')
const base64Cas = z.strictObject({ expectedBase64: base64Text.nullable(), valueBase64: base64Text })

function parseCasBody (body: Buffer): { expected: Uint8Array | null, value: Uint8Array } {
  let json: unknown
  try {
    json = JSON.parse(body.toString('utf8'))
  } catch {
    throw new GitConfigError('INVALID_ARGUMENT', 'CAS body must be JSON {"expected": string|null, "value": string} or {"expectedBase64", "valueBase64"}')
  }
  const text = textCas.safeParse(json)
  if (text.success) {
    return {
      expected: text.data.expected === null ? null : Buffer.from(text.data.expected, 'utf8'),
      value: Buffer.from(text.data.value, 'utf8')
    }
  }
  const b64 = base64Cas.safeParse(json)
  if (b64.success) {
    return {
      expected: b64.data.expectedBase64 === null ? null : Buffer.from(b64.data.expectedBase64, 'base64'),
      value: Buffer.from(b64.data.valueBase64, 'base64')
    }
  }
  throw new GitConfigError('INVALID_ARGUMENT', 'CAS body must be JSON {"expected": string|null, "value": string} or {"expectedBase64": string|null, "valueBase64": string}')
}

async function cas (node: NodeService, key: string, body: Buffer, ttlMs: number | undefined, author: string | undefined,
  reply: FastifyReply): Promise<unknown> {
  const { expected, value } = parseCasBody(body)
  if (value.length > node.options.valueBytesMax) throw tooLarge(value.length, node.options.valueBytesMax, 'value')
  const result = await node.compareAndSwap(key, expected, value, { ttlMs, author })
  if (result.swapped) return { swapped: true, commit: result.commit }
  // A CAS that does not swap is an answer, not an error: 409 with the current value so the caller can retry.
  return reply.code(409).send({ swapped: false, ...encodeValue(result.current, 'current') })
}
