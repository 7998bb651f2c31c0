// A process's resident memory and CPU time, read from /proc (Linux), for benchmarks that watch the servers they
// started. CPU counts the process and the children it has waited for (git processes a node ran), in seconds;
// treeCpuSeconds adds the children still running (a node's long-lived git fast-import and cat-file).
import { readdirSync, readFileSync } from 'node:fs'

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ, 100 on Linux). */
const ticksPerSecond = 100

/** Resident set size in MB, 0 when the process is gone. */
export function rssMb (pid: number | undefined): number {
  if (pid === undefined) return 0
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? 0 : Number(m[1]) / 1024
  } catch {
    return 0
  }
}

interface Stat { ppid: number, selfSeconds: number, childrenSeconds: number }

/** The fields of /proc/<pid>/stat this module needs; null when the process is gone. */
function stat (pid: number): Stat | null {
  try {
    // The command name (field 2) is in parentheses and may hold spaces; the fields after it start at state (3).
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = text.slice(text.lastIndexOf(') ') + 2).split(' ')
    return { ppid: Number(f[1]), selfSeconds: (Number(f[11]) + Number(f[12])) / ticksPerSecond, childrenSeconds: (Number(f[13]) + Number(f[14])) / ticksPerSecond }
  } catch {
    return null
  }
}

/** CPU seconds of the process alone (utime, stime); 0 when it is gone. */
export function selfCpuSeconds (pid: number | undefined): number {
  return pid === undefined ? 0 : stat(pid)?.selfSeconds ?? 0
}

/** CPU seconds of the process and of its waited-for children (utime, stime, cutime, cstime); 0 when it is gone. */
export function cpuSeconds (pid: number | undefined): number {
  const s = pid === undefined ? null : stat(pid)
  return s === null ? 0 : s.selfSeconds + s.childrenSeconds
}

/**
 * cpuSeconds plus the CPU of the direct children still running (and what they waited for): a difference of two
 * readings is then the CPU a node and its git processes used in between, whether those ended or not.
 */
export function treeCpuSeconds (pid: number | undefined): number {
  if (pid === undefined) return 0
  let total = cpuSeconds(pid)
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const s = stat(Number(entry))
    if (s !== null && s.ppid === pid) total += s.selfSeconds + s.childrenSeconds
  }
  return total
}
