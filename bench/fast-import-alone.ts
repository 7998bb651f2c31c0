// Times `git fast-import` alone on the stream the store sends for N commits of K keys (bench/git-alone.ts: the
// store's key pattern, one checkpoint + get-mark per commit, waiting for each answer like the group committer does,
// maintenance every 100 commits outside the timing).
//   node --import tsx bench/fast-import-alone.ts [commits=79] [keysPerCommit=256]
import { gitAloneCommits } from './git-alone.js'

const commits = Number(process.argv[2] ?? 79)
const perCommit = Number(process.argv[3] ?? 256)
const r = await gitAloneCommits(perCommit, Infinity, '/tp', commits)
console.log(`fast-import alone: ${r.commits} commits x ${perCommit} keys: ${Math.round(r.keysPerSecond)} keys/s of git time, ` +
  `per commit p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms`)
