import { Progress } from './progress.js';
import type { JointConfig, VoteResult } from './quorum.js';
import { isJoint, jointCommittedIndex, jointVoteResult, jointVoterIds } from './quorum.js';
import type { ConfState, NodeId } from './types.js';

/**
 * TrackerConfig is the membership the leader replicates to and counts quorums over:
 * voters (one majority, or two during joint consensus), learners (replicated to, never
 * counted), and learners-to-be (outgoing voters demoted when the joint config is left).
 */
export interface TrackerConfig {
  readonly voters: JointConfig;
  readonly learners: ReadonlySet<NodeId>;
  readonly learnersNext: ReadonlySet<NodeId>;
  readonly autoLeave: boolean;
}

/** configFromConfState builds a TrackerConfig from a ConfState. */
export function configFromConfState(confState: ConfState): TrackerConfig {
  return {
    voters: { incoming: new Set(confState.voters), outgoing: new Set(confState.votersOutgoing) },
    learners: new Set(confState.learners),
    learnersNext: new Set(confState.learnersNext),
    autoLeave: confState.autoLeave,
  };
}

/** confStateFromConfig is the inverse of configFromConfState, with sorted ids. */
export function confStateFromConfig(config: TrackerConfig): ConfState {
  const sorted = (ids: ReadonlySet<NodeId>) => [...ids].sort((a, b) => a - b);
  return {
    voters: sorted(config.voters.incoming),
    learners: sorted(config.learners),
    votersOutgoing: sorted(config.voters.outgoing),
    learnersNext: sorted(config.learnersNext),
    autoLeave: config.autoLeave,
  };
}

/**
 * ProgressTracker holds the configuration, a Progress per member, and the votes of the
 * current election. Quorums are always computed over `config`, never over a fixed list,
 * so that membership changes only swap the configuration.
 */
export class ProgressTracker {
  config: TrackerConfig;
  /** Invariant: exactly the members of `config` (voters of both halves and learners) have a Progress. */
  readonly progress = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();
  private readonly ackedIndex = (id: NodeId): number | undefined => this.progress.get(id)?.match;

  constructor(
    config: TrackerConfig,
    readonly maxInflight: number,
    readonly maxInflightBytes: number,
  ) {
    this.config = config;
  }

  /** memberIds returns every member with a Progress (voters of both halves and learners). */
  memberIds(): NodeId[] {
    const ids = jointVoterIds(this.config.voters);
    for (const id of this.config.learners) ids.add(id);
    for (const id of this.config.learnersNext) ids.add(id);
    return [...ids].sort((a, b) => a - b);
  }

  /** isVoter reports whether `id` votes in either half of the configuration. */
  isVoter(id: NodeId): boolean {
    return this.config.voters.incoming.has(id) || this.config.voters.outgoing.has(id);
  }

  /** isSingleton reports whether we are the only voter (no quorum round trips needed). */
  isSingleton(): boolean {
    return this.config.voters.incoming.size === 1 && this.config.voters.outgoing.size === 0;
  }

  /** isJoint reports whether a configuration change is in progress. */
  isJoint(): boolean {
    return isJoint(this.config.voters);
  }

  /**
   * resetProgress gives every member a fresh Progress (a new leader: next = last+1,
   * match = 0, except for ourselves).
   */
  resetProgress(selfId: NodeId, lastIndex: number): void {
    this.progress.clear();
    for (const id of this.memberIds()) {
      const isLearner = !this.isVoter(id);
      const progress = new Progress(
        0,
        lastIndex + 1,
        this.maxInflight,
        this.maxInflightBytes,
        isLearner,
      );
      if (id === selfId) progress.recentActive = true;
      this.progress.set(id, progress);
    }
  }

  /** resetProgressFor gives one (new) member a fresh Progress. */
  resetProgressFor(id: NodeId, lastIndex: number): void {
    const isLearner = !this.isVoter(id);
    this.progress.set(
      id,
      new Progress(0, lastIndex + 1, this.maxInflight, this.maxInflightBytes, isLearner),
    );
  }

  /** committed is the highest index acknowledged by a quorum (both halves when joint). */
  committed(): number {
    return jointCommittedIndex(this.config.voters, this.ackedIndex);
  }

  /** resetVotes clears the tally for a new election. */
  resetVotes(): void {
    this.votes.clear();
  }

  /** recordVote records `id`'s answer, keeping its first answer in this election. */
  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  /** tallyVotes counts the votes so far. */
  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of jointVoterIds(this.config.voters)) {
      const vote = this.votes.get(id);
      if (vote === true) granted++;
      else if (vote === false) rejected++;
    }
    return { granted, rejected, result: jointVoteResult(this.config.voters, this.votes) };
  }

  /**
   * quorumActive reports whether a quorum was recently active (thesis §6.2 check-quorum):
   * a leader that hears from no quorum for an election timeout steps down.
   */
  quorumActive(selfId: NodeId): boolean {
    const active = new Map<NodeId, boolean>();
    for (const [id, progress] of this.progress) {
      if (progress.isLearner) continue;
      active.set(id, id === selfId || progress.recentActive);
    }
    return jointVoteResult(this.config.voters, active) === 'won';
  }
}
