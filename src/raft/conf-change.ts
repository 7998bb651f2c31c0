// Encoding of membership changes inside confChange entries.
import { isValidNodeId } from './config.js'
import type { ConfChange } from './types.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeConfChange (cc: ConfChange): Uint8Array {
  return encoder.encode(JSON.stringify({ type: cc.type, nodeId: cc.nodeId }))
}

/** Undefined when the bytes are not a valid change (a corrupt or forged entry is then ignored). */
export function decodeConfChange (data: Uint8Array): ConfChange | undefined {
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(data))
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const { type, nodeId } = value as Record<string, unknown>
  if (type !== 'addVoter' && type !== 'addLearner' && type !== 'removeNode') return undefined
  if (!isValidNodeId(nodeId)) return undefined
  return { type, nodeId }
}
