// Key validation and the injective key -> tree path encoding (docs/format.md). Keys reach git only through
// `keyToTreePath`, whose output is plain ASCII from a small alphabet, so no key can escape the tree, name `.git`,
// collide with the store's own `.value`/`.meta` files, or need quoting in fast-import or cat-file input.
import { GitConfigError } from '../errors.js'

/** Name of the blob holding a key's value inside the key's directory. */
export const valueFileName = '.value'
/** Name of the blob holding a key's canonical meta (entry.ts) inside the key's directory. */
export const metaFileName = '.meta'

const textEncoder = new TextEncoder()
const utf8Strict = new TextDecoder('utf-8', { fatal: true })

function invalidKey (key: string, reason: string): GitConfigError {
  return new GitConfigError('INVALID_KEY', `invalid key ${JSON.stringify(key)}: ${reason}`, { key, reason })
}

// In `u` mode a surrogate range matches only unpaired halves, i.e. text that has no UTF-8 encoding.
const loneSurrogatePattern = /[\uD800-\uDFFF]/u
// C0 controls, DEL and C1 controls.
const controlCharPattern = /[\u0000-\u001f\u007f-\u009f]/ // eslint-disable-line no-control-regex

/**
 * Returns the normalised form of `key` (exactly one leading `/`) or throws INVALID_KEY saying why it is refused.
 */
export function normalizeKey (key: unknown, keyBytesMax: number): string {
  if (typeof key !== 'string') throw invalidKey(String(key), 'a key must be a string')
  if (loneSurrogatePattern.test(key)) throw invalidKey(key, 'it is not valid UTF-8 (lone surrogate)')
  if (controlCharPattern.test(key)) throw invalidKey(key, 'it contains NUL or a control character')
  const body = key.replace(/^\/+/, '')
  if (body === '') throw invalidKey(key, 'the root "/" is not a key')
  const segments = body.split('/')
  if (segments[segments.length - 1] === '') throw invalidKey(key, 'a key cannot end with "/"')
  for (const segment of segments) {
    if (segment === '') throw invalidKey(key, 'empty segment ("//")')
    if (segment === '.' || segment === '..') throw invalidKey(key, `"${segment}" segments are not allowed`)
  }
  const normalised = '/' + body
  const bytes = Buffer.byteLength(normalised, 'utf8')
  if (bytes > keyBytesMax) throw invalidKey(key, `it is ${bytes} bytes of UTF-8; the limit is ${keyBytesMax}`)
  return normalised
}

/**
 * A prefix for list/watch: like a key, but the root (`/` or empty) is allowed and a trailing `/` is ignored.
 * Returns '' for the root.
 */
export function normalizePrefix (prefix: unknown, keyBytesMax: number): string {
  if (typeof prefix !== 'string') throw invalidKey(String(prefix), 'a prefix must be a string')
  if (/^\/*$/.test(prefix)) return ''
  return normalizeKey(prefix.replace(/\/+$/, ''), keyBytesMax)
}

function isLiteralByte (byte: number, first: boolean): boolean {
  return (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39) ||
    byte === 0x5f || byte === 0x2d || (byte === 0x2e && !first)
}

/** A segment made only of bytes that stay literal: encodeSegment returns it unchanged (the common case, kept fast). */
const literalSegmentPattern = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/

/** Encodes one key segment: `A-Z a-z 0-9 _ -` and non-leading `.` stay, every other UTF-8 byte becomes `%XX`. */
export function encodeSegment (segment: string): string {
  if (literalSegmentPattern.test(segment)) return segment
  let out = ''
  const bytes = textEncoder.encode(segment)
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]
    out += isLiteralByte(b, i === 0) ? String.fromCharCode(b) : '%' + b.toString(16).toUpperCase().padStart(2, '0')
  }
  return out
}

/** Inverse of encodeSegment; null when `encoded` is not something encodeSegment produces. */
export function decodeSegment (encoded: string): string | null {
  const bytes: number[] = []
  for (let i = 0; i < encoded.length; i++) {
    const c = encoded.charCodeAt(i)
    if (c === 0x25) {
      const hex = encoded.slice(i + 1, i + 3)
      if (!/^[0-9A-F]{2}$/.test(hex)) return null
      const b = parseInt(hex, 16)
      if (isLiteralByte(b, bytes.length === 0)) return null // would have been literal: not canonical
      bytes.push(b)
      i += 2
    } else if (isLiteralByte(c, bytes.length === 0)) {
      bytes.push(c)
    } else {
      return null
    }
  }
  if (bytes.length === 0) return null
  try { return utf8Strict.decode(new Uint8Array(bytes)) } catch { return null }
}

/** The tree directory of a normalised key, e.g. `/app/db host` -> `app/db%20host`. */
export function keyToTreeDir (key: string): string {
  return key.slice(1).split('/').map(encodeSegment).join('/')
}

/** Inverse of keyToTreeDir; null for a directory no valid key maps to (foreign or hand-made files). */
export function treeDirToKey (dir: string): string | null {
  const parts = dir.split('/')
  const segments: string[] = []
  for (const part of parts) {
    const segment = decodeSegment(part)
    if (segment === null || segment === '.' || segment === '..' || segment.includes('/')) return null
    segments.push(segment)
  }
  const key = '/' + segments.join('/')
  try {
    return normalizeKey(key, Number.MAX_SAFE_INTEGER) === key ? key : null
  } catch {
    return null
  }
}

/** True when `key` is `prefix` itself or below it ('' is the root and matches every key). */
export function isKeyUnder (key: string, prefix: string): boolean {
  return prefix === '' || key === prefix || key.startsWith(prefix + '/')
}
