// What the node needs from a store: the public ConfigStore contract, plus optional introspection (head commit, key
// count, node id, commit events) used only by /status and /metrics. The introspection is probed rather than
// required so the node runs on any ConfigStore; a missing capability shows as null in /status and as a metric
// counted at the node layer instead.
import type { ConfigStore } from '../types.js'

export interface StoreOpenOptions {
  readonly keyBytesMax: number
  readonly valueBytesMax: number
}

export type StoreOpener = (dir: string, opts: StoreOpenOptions) => Promise<ConfigStore>

/** A commit made by the store: its id and how many keys it changed (the group-commit batch size). */
export interface CommitNotice {
  readonly commit: string
  readonly changes: number
}

interface Introspectable {
  head?: () => string | null | Promise<string | null>
  keyCount?: () => number | Promise<number>
  nodeId?: unknown
  on?: (event: string, listener: (payload: unknown) => void) => unknown
  off?: (event: string, listener: (payload: unknown) => void) => unknown
}

function view (store: ConfigStore): Introspectable {
  return store as unknown as Introspectable
}

export async function storeHead (store: ConfigStore): Promise<string | null> {
  const s = view(store)
  return typeof s.head === 'function' ? await s.head.call(store) : null
}

export async function storeKeyCount (store: ConfigStore): Promise<number | null> {
  const s = view(store)
  return typeof s.keyCount === 'function' ? await s.keyCount.call(store) : null
}

export function storeNodeId (store: ConfigStore): string | null {
  const id = view(store).nodeId
  return typeof id === 'string' ? id : null
}

/**
 * Subscribes to the store's typed `commit` event `{commit, changes}`. Returns an unsubscribe function, or null
 * when the store emits no such event (the node then counts commits from write results).
 */
export function onStoreCommit (store: ConfigStore, listener: (notice: CommitNotice) => void): (() => void) | null {
  const s = view(store)
  if (typeof s.on !== 'function' || typeof s.off !== 'function') return null
  const handler = (payload: unknown): void => {
    if (typeof payload !== 'object' || payload === null) return
    const p = payload as { commit?: unknown, changes?: unknown }
    if (typeof p.commit !== 'string') return
    const changes = Array.isArray(p.changes) ? p.changes.length : typeof p.changes === 'number' ? p.changes : 1
    listener({ commit: p.commit, changes })
  }
  s.on.call(store, 'commit', handler)
  return () => { s.off?.call(store, 'commit', handler) }
}
