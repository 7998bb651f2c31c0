// Helpers for tests that drive one Raft state machine directly with hand-made messages (etcd's paper-test style).
import { Raft } from '../../src/raft/raft.js'
import { validate } from '../../src/raft/config.js'
import type { RaftConfigInput } from '../../src/raft/config.js'
import { MemoryStorage } from '../../src/raft/storage-memory.js'
import { message } from '../../src/raft/types.js'
import type { Entry, Message, NodeId } from '../../src/raft/types.js'

export function entry (index: number, term: number, text = ''): Entry {
  return { index, term, type: 'normal', data: new TextEncoder().encode(text) }
}

/**
 * A storage holding membership `voters` (as a snapshot at index 1, term 1), then `entries`, with hard state `term`.
 */
export function storageWith (voters: readonly NodeId[], entries: readonly Entry[] = [], term = 1, learners: readonly NodeId[] = []): MemoryStorage {
  const s = new MemoryStorage()
  s.applySnapshot({ metadata: { index: 1, term: 1, confState: { voters: [...voters], learners: [...learners] } }, data: new Uint8Array(0) })
  s.append(entries)
  s.setHardState({ term, vote: '', commit: 1 })
  return s
}

export function newRaft (id: NodeId, storage: MemoryStorage, config: Partial<RaftConfigInput> = {}, ctor: typeof Raft = Raft): Raft {
  return new ctor(validate({ id, electionTicks: 10, heartbeatTicks: 1, random: () => 0, ...config }), storage)
}

/** Takes the raft's outgoing messages. */
export function drain (r: Raft): Message[] {
  const m = r.msgs
  r.msgs = []
  return m
}

/** Makes `r` leader of the next term with the votes of `voters` (which must be a majority with r). */
export function makeLeader (r: Raft, voters: readonly NodeId[]): void {
  r.becomeCandidate()
  r.trk.recordVote(r.id, true)
  for (const v of voters) r.step(message({ type: 'voteResp', from: v, to: r.id, term: r.term }))
  if (r.role !== 'leader') throw new Error('did not become leader')
  drain(r)
}

export { message }
