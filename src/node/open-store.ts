// The one place that decides which store implementation a node (and the CLI's --repo mode) opens.
// TEMPORARY: GitConfigStore is being written in parallel; until it lands this opens the in-memory double used by
// the tests. Switching is this one import plus the call below.
import { MemoryStore } from '../../test/support/memory-store.js'
import type { ConfigStore } from '../types.js'
import type { StoreOpenOptions } from './store-port.js'

export async function openStore (dir: string, opts: StoreOpenOptions): Promise<ConfigStore> {
  return await MemoryStore.open(dir, { keyBytesMax: opts.keyBytesMax, valueBytesMax: opts.valueBytesMax })
}
