// Lock exclusivity, checked on the sequence of applied lock commands (the first application of each index):
// fencing tokens of grants strictly increase per lock, and a grant never happens while another grant is live
// (its deadline, by the lock's stamped clock, not yet passed, and not unlocked).
import type { KvCommand, KvResult } from '../../src/strong/kv-state-machine.js'
import type { ViolationKind } from './invariants.js'

interface Held { holder: string, token: number, deadlineMs: number }

export class LockChecker {
  private readonly held = new Map<string, Held | null>()
  private readonly maxToken = new Map<string, number>()
  private readonly clock = new Map<string, number>()
  /** Highest sequence applied per client: a retried command is answered from the session, not applied again. */
  private readonly lastSeq = new Map<string, number>()
  grants = 0

  constructor (private readonly report: (kind: ViolationKind, detail: string) => void) {}

  applied (index: number, cmd: KvCommand, result: KvResult): void {
    const op = cmd.op
    if (op.op !== 'lock' && op.op !== 'renew' && op.op !== 'unlock') return
    const last = this.lastSeq.get(cmd.clientId) ?? 0
    if (cmd.seq <= last) {
      if (result.op === 'lock' && result.granted && result.token === index) {
        this.report('lock-exclusivity', `lock ${op.name}: a retried command (${cmd.clientId}#${cmd.seq}) was granted again`)
      }
      return
    }
    this.lastSeq.set(cmd.clientId, cmd.seq)
    const name = op.name
    const clockMs = Math.max(this.clock.get(name) ?? 0, cmd.nowMs)
    this.clock.set(name, clockMs)
    const held = this.held.get(name) ?? null
    const live = held !== null && held.deadlineMs > clockMs
    if (result.op === 'lock' && result.granted) {
      this.grants++
      if (result.token !== index) this.report('lock-exclusivity', `lock ${name}: token ${result.token} is not the grant's index ${index}`)
      const max = this.maxToken.get(name) ?? 0
      if (result.token <= max) this.report('lock-exclusivity', `lock ${name}: token ${result.token} not above earlier token ${max}`)
      if (live && held !== null) this.report('lock-exclusivity', `lock ${name}: granted to ${op.op === 'lock' ? op.holder : '?'} at ${clockMs} while ${held.holder} holds it until ${held.deadlineMs}`)
      this.maxToken.set(name, result.token)
      this.held.set(name, { holder: op.op === 'lock' ? op.holder : '?', token: result.token, deadlineMs: result.deadlineMs })
    } else if (result.op === 'renew' && result.ok) {
      if (held === null || !live || op.op !== 'renew' || held.token !== op.token) {
        this.report('lock-exclusivity', `lock ${name}: renewed with token ${op.op === 'renew' ? op.token : '?'} that does not hold it`)
      } else {
        held.deadlineMs = result.deadlineMs
      }
    } else if (result.op === 'unlock' && result.ok) {
      if (held === null || !live || op.op !== 'unlock' || held.token !== op.token) {
        this.report('lock-exclusivity', `lock ${name}: unlocked with token ${op.op === 'unlock' ? op.token : '?'} that does not hold it`)
      }
      this.held.set(name, null)
      this.clock.delete(name)
    }
  }
}
