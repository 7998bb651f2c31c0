// What the node needs from its store, as one typed port (decision 0107): the public ConfigStore contract, the
// replication API (replication-port.ts), and the head and node id that /status shows. GitConfigStore implements it
// structurally (the store does not import the node); open-store.ts is where the compiler checks that it does, so
// the node needs no run-time probes of what the store offers.
import type { ConfigStore } from '../types.js'
import type { ReplicableStore } from './replication-port.js'

export interface StoreOpenOptions {
  readonly keyBytesMax: number
  readonly valueBytesMax: number
}

export interface NodeStore extends ConfigStore, ReplicableStore {}

export type StoreOpener = (dir: string, opts: StoreOpenOptions) => Promise<NodeStore>

/**
 * The watch's cursor check (GitConfigStore's watcher has `cursorChecked()`): resolves once its `since` is known to
 * be valid, rejects with the error its first next() would throw. Null when the iterator offers no such check. This
 * one stays a probe: ConfigStore.watch returns a plain async iterator, and the check is a property of the iterator.
 */
export function watchCursorCheck (events: AsyncIterator<unknown>): Promise<void> | null {
  const check = (events as { cursorChecked?: unknown }).cursorChecked
  return typeof check === 'function' ? (check as () => Promise<void>).call(events) : null
}
