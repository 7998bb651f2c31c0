// Validation of CLI arguments that commander passes as strings; failures are INVALID_ARGUMENT (exit code 2).
import { GitConfigError } from '../errors.js'
import { ttlMsMax } from '../limits.js'

export function parseTtlSeconds (text: string): number {
  const seconds = /^\d{1,12}(\.\d{1,3})?$/.test(text) ? Number(text) : NaN
  const ms = Math.round(seconds * 1000)
  if (!(ms >= 1 && ms <= ttlMsMax)) throw new GitConfigError('INVALID_ARGUMENT', `--ttl must be a number of seconds between 0.001 and ${ttlMsMax / 1000}, not ${JSON.stringify(text)}`)
  return ms
}

export function parseInteger (text: string, flag: string, min: number, max: number): number {
  const n = /^\d{1,10}$/.test(text) ? Number(text) : NaN
  if (!(n >= min && n <= max)) throw new GitConfigError('INVALID_ARGUMENT', `${flag} must be an integer from ${min} to ${max}, not ${JSON.stringify(text)}`)
  return n
}

/** Reads all of stdin as bytes, refusing more than `limitBytes`. */
export async function readStdin (limitBytes: number): Promise<Uint8Array> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of process.stdin) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk))
    size += buf.length
    if (size > limitBytes) throw new GitConfigError('VALUE_TOO_LARGE', `the value on stdin is larger than ${limitBytes} bytes`, { limitBytes })
    chunks.push(buf)
  }
  return new Uint8Array(Buffer.concat(chunks))
}
