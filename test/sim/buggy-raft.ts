// Deliberately broken Raft variants, for the test that proves the simulator catches real safety bugs. They exist
// only in the test tree: production code constructs `Raft` itself and has no switch that reaches these.
import { Raft } from '../../src/raft/raft.js'
import type { RaftFactory } from '../../src/raft/raw-node.js'
import type { Message } from '../../src/raft/types.js'

/** Grants a vote to any up-to-date candidate, even after voting for another in the same term (breaks §5.2). */
class DoubleVoteRaft extends Raft {
  protected override canGrantVote (m: Message): boolean {
    return this.log.isUpToDate(m.index, m.logTerm) || super.canGrantVote(m)
  }
}

/** Commits any index a majority holds, whatever its term: the Figure 8 bug (breaks §5.4.2). */
class CommitPreviousTermRaft extends Raft {
  protected override maybeCommit (): boolean {
    const index = this.trk.committed()
    if (index > this.log.committed) {
      this.log.commitTo(index)
      return true
    }
    return false
  }
}

export const bugFactories: Record<string, RaftFactory> = {
  unsafeDoubleVote: (c, s) => new DoubleVoteRaft(c, s),
  unsafeCommitPreviousTermByCounting: (c, s) => new CommitPreviousTermRaft(c, s)
}
