// The one place that decides which store implementation a node (and the CLI's --repo mode) opens: the git-backed
// GitConfigStore. Later layers that wrap the store (replication, Raft) hook in here. The return type is the node's
// store port: this is where the compiler checks that GitConfigStore implements it.
import { GitConfigStore } from '../gitstore/store.js'
import type { NodeStore, StoreOpenOptions } from './store-port.js'

export async function openStore (dir: string, opts: StoreOpenOptions): Promise<GitConfigStore & NodeStore> {
  return await GitConfigStore.open(dir, { keyBytesMax: opts.keyBytesMax, valueBytesMax: opts.valueBytesMax })
}
