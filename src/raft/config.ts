// Settings of one Raft node. `validate()` is the only way in: it rejects bad values with INVALID_ARGUMENT, fills
// defaults and returns a frozen object that the rest of the core trusts.
import { GitConfigError } from '../errors.js'
import {
  raftCommittedBytesPerReadyMaxDefault, raftInflightMessagesMaxDefault, raftMessageBytesMaxDefault,
  raftNodeIdBytesMax, raftUncommittedEntriesMaxDefault
} from '../limits.js'
import type { NodeId } from './types.js'

/** Returns an integer in [0, maxExclusive). Injected so the core stays deterministic (seeded in the simulator). */
export type RandomSource = (maxExclusive: number) => number

export interface RaftConfigInput {
  readonly id: NodeId
  /** Ticks without hearing from a leader before a follower campaigns; randomised in [electionTicks, 2*electionTicks). */
  readonly electionTicks?: number
  /** Ticks between leader heartbeats; must be less than electionTicks. */
  readonly heartbeatTicks?: number
  /** Last index the application has applied (on restart); committed entries after it are delivered again. */
  readonly applied?: number
  /** Raft dissertation §9.6: a node first asks whether it could win before bumping its term. */
  readonly preVote?: boolean
  /** Raft dissertation §6.2: a leader steps down when it has not heard from a quorum for an election timeout. */
  readonly checkQuorum?: boolean
  readonly messageBytesMax?: number
  readonly inflightMessagesMax?: number
  readonly committedBytesPerReadyMax?: number
  readonly uncommittedEntriesMax?: number
  readonly random: RandomSource
}

export interface RaftConfig {
  readonly id: NodeId
  readonly electionTicks: number
  readonly heartbeatTicks: number
  readonly applied: number
  readonly preVote: boolean
  readonly checkQuorum: boolean
  readonly messageBytesMax: number
  readonly inflightMessagesMax: number
  readonly committedBytesPerReadyMax: number
  readonly uncommittedEntriesMax: number
  readonly random: RandomSource
}

const knownKeys = new Set([
  'id', 'electionTicks', 'heartbeatTicks', 'applied', 'preVote', 'checkQuorum', 'messageBytesMax',
  'inflightMessagesMax', 'committedBytesPerReadyMax', 'uncommittedEntriesMax', 'random'
])

function bad (message: string): never {
  throw new GitConfigError('INVALID_ARGUMENT', `raft config: ${message}`)
}

function positiveInt (value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) bad(`${name} must be a positive integer`)
  return value
}

export function isValidNodeId (id: unknown): id is NodeId {
  return typeof id === 'string' && id.length > 0 && id.length <= raftNodeIdBytesMax
}

export function validate (input: RaftConfigInput): RaftConfig {
  if (typeof input !== 'object' || input === null) bad('must be an object')
  for (const key of Object.keys(input)) if (!knownKeys.has(key)) bad(`unknown setting ${key}`)
  if (!isValidNodeId(input.id)) bad(`id must be a non-empty string of at most ${raftNodeIdBytesMax} characters`)
  if (typeof input.random !== 'function') bad('random must be a function')
  const heartbeatTicks = positiveInt(input.heartbeatTicks, 'heartbeatTicks', 1)
  const electionTicks = positiveInt(input.electionTicks, 'electionTicks', 10)
  if (electionTicks <= heartbeatTicks) bad('electionTicks must be greater than heartbeatTicks')
  const applied = input.applied ?? 0
  if (!Number.isSafeInteger(applied) || applied < 0) bad('applied must be a non-negative integer')
  for (const flag of ['preVote', 'checkQuorum'] as const) {
    if (input[flag] !== undefined && typeof input[flag] !== 'boolean') bad(`${flag} must be a boolean`)
  }
  return Object.freeze({
    id: input.id,
    electionTicks,
    heartbeatTicks,
    applied,
    preVote: input.preVote ?? true,
    checkQuorum: input.checkQuorum ?? true,
    messageBytesMax: positiveInt(input.messageBytesMax, 'messageBytesMax', raftMessageBytesMaxDefault),
    inflightMessagesMax: positiveInt(input.inflightMessagesMax, 'inflightMessagesMax', raftInflightMessagesMaxDefault),
    committedBytesPerReadyMax: positiveInt(input.committedBytesPerReadyMax, 'committedBytesPerReadyMax', raftCommittedBytesPerReadyMaxDefault),
    uncommittedEntriesMax: positiveInt(input.uncommittedEntriesMax, 'uncommittedEntriesMax', raftUncommittedEntriesMaxDefault),
    random: input.random
  })
}
