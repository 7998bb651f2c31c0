// Reads a V8 CPU profile (`node --cpu-prof`) and sums self time per function and per area (a package under
// node_modules, a folder of src/, node's internals), optionally over a time window only: V8 stamps samples with the
// monotonic clock in microseconds, the clock process.hrtime reads, so a benchmark can note when a phase started and
// ended and look at that phase alone. The main thread only: git processes and libuv's thread pool are not in it.
//
//   node --import tsx bench/cpu-profile.ts FILE.cpuprofile [--top 20] [--last SECONDS]   # --last: the end of the run only
import { readFile } from 'node:fs/promises'
import { pathToFileURL } from 'node:url'

interface CallFrame { functionName: string, url: string, lineNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame, children?: number[] }
interface Profile { nodes: ProfileNode[], startTime: number, endTime: number, samples: number[], timeDeltas: number[] }

export interface ProfileSummary {
  /** Sampled time in the window, ms (idle included). */
  totalMs: number
  idleMs: number
  gcMs: number
  /** Self time by area, ms, largest first (idle and GC not included). */
  areas: Array<[string, number]>
  /** Self time by function (`name file:line`), ms, largest first. */
  functions: Array<[string, number]>
}

/** `node_modules/@scope/pkg`, `src/<folder>`, `node:<module>`, or the pseudo-frame's own name. */
function areaOf (frame: CallFrame): string {
  const { url, functionName } = frame
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)'
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg !== null) return pkg[1]
  const own = /\/(?:dist\/)?src\/([^/]+)\//.exec(url)
  if (own !== null) return `src/${own[1]}`
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/').slice(0, url.startsWith('node:internal/') ? 2 : 1).join('/')}`
  return url
}

function functionOf (frame: CallFrame): string {
  const file = frame.url.replace(/^.*\/node_modules\//, '').replace(/^.*\/(dist\/)?src\//, 'src/').replace(/^file:\/\//, '')
  return `${frame.functionName === '' ? '(anonymous)' : frame.functionName} ${file}:${frame.lineNumber + 1}`
}

/**
 * Self time per function and area between `fromUs` and `toUs` (monotonic µs; the whole profile when omitted). A
 * sample is charged the interval until the next one, as Chrome's profiler view does.
 */
export function summarize (profile: Profile, window: { fromUs?: number, toUs?: number } = {}): ProfileSummary {
  const byId = new Map(profile.nodes.map(n => [n.id, n]))
  const areas = new Map<string, number>()
  const functions = new Map<string, number>()
  let totalUs = 0
  let idleUs = 0
  let gcUs = 0
  let t = profile.startTime
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i]
    const spanUs = i + 1 < profile.timeDeltas.length ? profile.timeDeltas[i + 1] : 0
    if ((window.fromUs !== undefined && t < window.fromUs) || (window.toUs !== undefined && t > window.toUs)) continue
    const frame = byId.get(profile.samples[i])?.callFrame
    if (frame === undefined) continue
    totalUs += spanUs
    if (frame.functionName === '(idle)') { idleUs += spanUs; continue }
    if (frame.functionName === '(garbage collector)') { gcUs += spanUs; continue }
    const area = areaOf(frame)
    areas.set(area, (areas.get(area) ?? 0) + spanUs)
    const fn = functionOf(frame)
    functions.set(fn, (functions.get(fn) ?? 0) + spanUs)
  }
  const ms = (m: Map<string, number>): Array<[string, number]> => [...m].map(([k, v]): [string, number] => [k, v / 1000]).sort((a, b) => b[1] - a[1])
  return { totalMs: totalUs / 1000, idleMs: idleUs / 1000, gcMs: gcUs / 1000, areas: ms(areas), functions: ms(functions) }
}

export async function readProfile (file: string): Promise<Profile> {
  return JSON.parse(await readFile(file, 'utf8')) as Profile
}

/** Lines for a report: busy share, then the top areas and functions by self time. */
export function formatSummary (s: ProfileSummary, top: number): string[] {
  const busyMs = s.totalMs - s.idleMs
  const pct = (ms: number): string => `${(100 * ms / Math.max(busyMs, 1e-9)).toFixed(1)}%`
  return [
    `main thread busy ${busyMs.toFixed(0)} ms of ${s.totalMs.toFixed(0)} ms sampled (${(100 * busyMs / Math.max(s.totalMs, 1e-9)).toFixed(0)}%), GC ${s.gcMs.toFixed(0)} ms (${pct(s.gcMs)} of busy)`,
    '  by area (self time, share of busy):',
    ...s.areas.slice(0, top).map(([a, ms]) => `    ${ms.toFixed(0).padStart(6)} ms ${pct(ms).padStart(6)}  ${a}`),
    '  by function:',
    ...s.functions.slice(0, top).map(([f, ms]) => `    ${ms.toFixed(0).padStart(6)} ms ${pct(ms).padStart(6)}  ${f}`)
  ]
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2]
  if (file === undefined) throw new Error('usage: bench/cpu-profile.ts FILE.cpuprofile [--top N]')
  const option = (name: string): number | undefined => {
    const i = process.argv.indexOf(`--${name}`)
    return i >= 0 ? Number(process.argv[i + 1]) : undefined
  }
  const profile = await readProfile(file)
  const last = option('last')
  const window = last === undefined ? {} : { fromUs: profile.endTime - last * 1e6 }
  for (const line of formatSummary(summarize(profile, window), option('top') ?? 20)) console.log(line)
}
