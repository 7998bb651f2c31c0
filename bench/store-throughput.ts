// Durable set throughput of the store alone, with the commit batch sizes it produced (issue 2's goal is >= 15,000
// sets/s with 256 callers). Quicker to repeat than bench/store.ts when comparing two versions of the write path.
//   node --import tsx bench/store-throughput.ts [callers=256] [sets=20000]
//   MAINT_COMMITS=N ...   commits between maintenance rounds (0: no maintenance)
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GitConfigStore, type GitConfigStoreOptions } from '../src/index.js'
import { concurrentSetsPerSecond } from './store-load.js'

const callers = Number(process.argv[2] ?? 256)
const total = Number(process.argv[3] ?? 20000)
const maintenanceCommits = process.env.MAINT_COMMITS
const options: GitConfigStoreOptions | undefined = maintenanceCommits === undefined
  ? undefined
  : { maintenance: maintenanceCommits !== '0', maintenanceCommits: Math.max(1, Number(maintenanceCommits)) }
const root = await mkdtemp(join(tmpdir(), 'gitconfig-perf-'))
const store = await GitConfigStore.open(join(root, 'repo'), options)
const sizes: number[] = []
store.onCommit((e) => sizes.push(e.changes.length))
const setsPerSecond = await concurrentSetsPerSecond(store, callers, total)
await store.close()
await rm(root, { recursive: true, force: true })
sizes.sort((a, b) => a - b)
console.log(`callers ${callers}: ${Math.round(setsPerSecond)} sets/s, commits ${sizes.length}, ` +
  `batch p50 ${sizes[sizes.length >> 1]} min ${sizes[0]} max ${sizes[sizes.length - 1]}`)
