// The JSON wire format shared by the HTTP API and GitConfigClient. Values are bytes: in JSON a value travels as a
// string when it is valid UTF-8 (`value`) and as base64 otherwise (`valueBase64`), so binary values round-trip.
import { isUtf8 } from 'node:buffer'
import { errorCodes, GitConfigError, type ErrorCode } from '../errors.js'
import type { Operation, Version } from '../types.js'

/** `{<field>: text}` for UTF-8 bytes, `{<field>Base64: base64}` otherwise, `{<field>: null}` for absence. */
export function encodeValue (bytes: Uint8Array | null, field: string = 'value'): Record<string, string | null> {
  if (bytes === null) return { [field]: null }
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return isUtf8(buf) ? { [field]: buf.toString('utf8') } : { [`${field}Base64`]: buf.toString('base64') }
}

/** Reads what encodeValue wrote; undefined when neither field is present. */
export function decodeValue (body: Record<string, unknown>, field: string = 'value'): Uint8Array | null | undefined {
  const text = body[field]
  const b64 = body[`${field}Base64`]
  if (typeof b64 === 'string') return new Uint8Array(Buffer.from(b64, 'base64'))
  if (typeof text === 'string') return new Uint8Array(Buffer.from(text, 'utf8'))
  if (text === null) return null
  return undefined
}

export interface WireWatchEvent {
  readonly key: string
  readonly op: Operation
  readonly value?: string | null
  readonly valueBase64?: string
  readonly commit: string
  readonly version: Version
}

/** The body of every error reply. */
export interface WireError {
  readonly error: string
  readonly message: string
  readonly [detail: string]: unknown
}

/** Turns an error reply back into the GitConfigError the server raised (unknown codes become INTERNAL). */
export function errorFromWire (status: number, body: unknown, fallback: string): GitConfigError {
  if (typeof body === 'object' && body !== null) {
    const { error, message, ...details } = body as Record<string, unknown>
    if (typeof error === 'string' && typeof message === 'string') {
      return new GitConfigError(isKnownCode(error) ? error : codeForStatus(status), message, details)
    }
  }
  return new GitConfigError(codeForStatus(status), `${fallback}: HTTP ${status}`)
}

/** For replies that carry no code of ours (a proxy in between, an older node): the code of the status class. */
function codeForStatus (status: number): ErrorCode {
  if (status === 413) return 'VALUE_TOO_LARGE'
  if (status === 502 || status === 503 || status === 504) return 'UNAVAILABLE'
  if (status >= 400 && status < 500) return 'INVALID_ARGUMENT'
  return 'INTERNAL'
}

function isKnownCode (code: string): code is ErrorCode {
  return Object.hasOwn(errorCodes, code)
}
