// The one place that decides which store implementation a node (and the CLI's --repo mode) opens: the git-backed
// GitConfigStore. Later layers that wrap the store (replication, Raft) hook in here.
import { GitConfigStore } from '../gitstore/store.js'
import type { StoreOpenOptions } from './store-port.js'

export async function openStore (dir: string, opts: StoreOpenOptions): Promise<GitConfigStore> {
  return await GitConfigStore.open(dir, { keyBytesMax: opts.keyBytesMax, valueBytesMax: opts.valueBytesMax })
}
