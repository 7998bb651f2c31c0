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
  readonly head?: unknown
  readonly nodeId?: unknown
  onCommit?: (listener: (event: unknown) => void) => () => void
}

function view (store: ConfigStore): Introspectable {
  return store as unknown as Introspectable
}

/** The store's current head commit (GitConfigStore exposes it as a `head` getter), or null. */
export function storeHead (store: ConfigStore): string | null {
  const head = view(store).head
  return typeof head === 'string' ? head : null
}

export function storeNodeId (store: ConfigStore): string | null {
  const id = view(store).nodeId
  return typeof id === 'string' ? id : null
}

/**
 * Subscribes to the store's typed commit event `{commit, changes}` (GitConfigStore.onCommit). Returns the
 * unsubscribe function, or null when the store has no such event (the node then counts commits from write results).
 */
export function onStoreCommit (store: ConfigStore, listener: (notice: CommitNotice) => void): (() => void) | null {
  const s = view(store)
  if (typeof s.onCommit !== 'function') return null
  return s.onCommit.call(store, (payload: unknown) => {
    if (typeof payload !== 'object' || payload === null) return
    const p = payload as { commit?: unknown, changes?: unknown }
    if (typeof p.commit !== 'string') return
    listener({ commit: p.commit, changes: Array.isArray(p.changes) ? p.changes.length : 1 })
  })
}

/**
 * The watch's cursor check (GitConfigStore's watcher has `cursorChecked()`): resolves once its `since` is known to
 * be valid, rejects with the error its first next() would throw. Null when the iterator offers no such check.
 */
export function watchCursorCheck (events: AsyncIterator<unknown>): Promise<void> | null {
  const check = (events as { cursorChecked?: unknown }).cursorChecked
  return typeof check === 'function' ? (check as () => Promise<void>).call(events) : null
}
