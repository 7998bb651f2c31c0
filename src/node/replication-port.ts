// What replication needs from a store: the replication API of GitConfigStore (docs/store.md, "Replication"). It is
// part of the node's store port (store-port.ts), which the store implements without importing the node.
import type { Version } from '../types.js'

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
