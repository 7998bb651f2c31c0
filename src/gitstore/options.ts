// Store options, validated once at the edge with one schema that rejects unknown keys (STYLE.md).
import { z } from 'zod'
import { GitConfigError } from '../errors.js'
import { expiryTakeoverMsDefault, keyBytesMaxDefault, maintenanceCommitsInterval, valueBytesMaxDefault } from '../limits.js'
import { nodeIdPattern } from './hlc.js'

export interface GitConfigStoreOptions {
  /** This node's id (letters, digits, `_`, `-`; at most 64). Default: read from, or created in, DIR/gitconfig/node-id. */
  readonly nodeId?: string
  /** Longest key in UTF-8 bytes (default 1024). */
  readonly keyBytesMax?: number
  /** Largest value in bytes (default 1 MiB). */
  readonly valueBytesMax?: number
  /** Wall clock in epoch ms (default Date.now); tests inject a fake one. */
  readonly clock?: () => number
  /** Run background repack / commit-graph (default true). */
  readonly maintenance?: boolean
  /** Commits between maintenance rounds (default maintenanceCommitsInterval, 100). */
  readonly maintenanceCommits?: number
  /**
   * How long after a deadline this node waits for the writing node's expiry commit before it commits the expiry
   * itself (default expiryTakeoverMsDefault, 30 s). Reads hide the value from the deadline on regardless.
   */
  readonly expiryTakeoverMs?: number
}

export interface ResolvedStoreOptions {
  readonly nodeId: string | undefined
  readonly keyBytesMax: number
  readonly valueBytesMax: number
  readonly clock: () => number
  readonly maintenance: boolean
  readonly maintenanceCommits: number
  readonly expiryTakeoverMs: number
}

const schema = z.strictObject({
  nodeId: z.string().regex(nodeIdPattern, 'letters, digits, "_" or "-", at most 64').optional(),
  keyBytesMax: z.number().int().min(2).max(64 * 1024).optional(),
  valueBytesMax: z.number().int().min(0).max(1024 * 1024 * 1024).optional(),
  clock: z.custom<() => number>((v) => typeof v === 'function', 'a function returning epoch milliseconds').optional(),
  maintenance: z.boolean().optional(),
  maintenanceCommits: z.number().int().min(1).max(1_000_000).optional(),
  expiryTakeoverMs: z.number().int().min(0).max(24 * 3600 * 1000).optional()
})

export function resolveStoreOptions (opts: unknown): ResolvedStoreOptions {
  const parsed = schema.safeParse(opts ?? {})
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new GitConfigError('INVALID_ARGUMENT', `invalid store option ${issue.path.join('.') || '(options)'}: ${issue.message}`)
  }
  const o = parsed.data
  return Object.freeze({
    nodeId: o.nodeId,
    keyBytesMax: o.keyBytesMax ?? keyBytesMaxDefault,
    valueBytesMax: o.valueBytesMax ?? valueBytesMaxDefault,
    clock: o.clock ?? Date.now,
    maintenance: o.maintenance ?? true,
    maintenanceCommits: o.maintenanceCommits ?? maintenanceCommitsInterval,
    expiryTakeoverMs: o.expiryTakeoverMs ?? expiryTakeoverMsDefault
  })
}
