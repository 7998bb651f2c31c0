// What replication needs from a store: the replication API of GitConfigStore (docs/store.md, "Replication"). The
// node probes for it instead of importing the class, like store-port.ts does for introspection, so the node still
// runs on any ConfigStore (replication is then refused at start with a clear message).
import type { ConfigStore, Version } from '../types.js'

export interface MergeResult {
  readonly head: string
  readonly outcome: 'contained' | 'fast-forward' | 'merged'
  readonly changedKeys: number
}

/** A durable commit as the store reports it: the id and the version of each change it carries. */
export interface ReplicatedCommitEvent {
  readonly commit: string
  readonly changes: ReadonlyArray<{ readonly meta: { readonly version: Version } }>
}

export interface ReplicableStore {
  readonly nodeId: string
  readonly head: string | null
  hasCommit (commit: string): Promise<boolean>
  createPack (req: { want: readonly string[], have: readonly string[] }, signal?: AbortSignal): AsyncIterable<Uint8Array>
  ingestPack (chunks: AsyncIterable<Uint8Array>, opts: { expect: readonly string[], bytesMax?: number, signal?: AbortSignal }): Promise<void>
  mergeFrom (commit: string, opts?: { signal?: AbortSignal }): Promise<MergeResult>
  pushToRemote (remote: string): Promise<void>
  fetchFromRemote (remote: string): Promise<string[]>
  onCommit (listener: (e: ReplicatedCommitEvent) => void): () => void
}

const replicationMethods = ['hasCommit', 'createPack', 'ingestPack', 'mergeFrom', 'pushToRemote', 'fetchFromRemote', 'onCommit'] as const

/** The store as a ReplicableStore, or null when it lacks any part of the replication API. */
export function asReplicableStore (store: ConfigStore): ReplicableStore | null {
  const s = store as unknown as Record<string, unknown>
  if (typeof s.nodeId !== 'string') return null
  for (const name of replicationMethods) if (typeof s[name] !== 'function') return null
  return store as unknown as ReplicableStore
}
