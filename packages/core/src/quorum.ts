import type { NodeId } from './types.js';

/** VoteResult is the outcome of counting votes: decided either way, or not yet. */
export type VoteResult = 'won' | 'lost' | 'pending';

/**
 * AckedIndex returns the highest log index a voter is known to have durably stored, or
 * undefined when nothing is known about it.
 */
export type AckedIndex = (id: NodeId) => number | undefined;

/**
 * majorityCommittedIndex returns the largest index that a majority of `voters` has
 * acknowledged (§5.3: "replicated on a majority"). An empty configuration is taken as
 * committing everything, so that a joint configuration with an empty half reduces to the
 * other half.
 */
export function majorityCommittedIndex(voters: ReadonlySet<NodeId>, acked: AckedIndex): number {
  const size = voters.size;
  if (size === 0) return Number.MAX_SAFE_INTEGER;
  // Small groups (the common case) sort a tiny array; no per-call allocation beyond it.
  const indexes = new Array<number>(size);
  let i = 0;
  for (const id of voters) indexes[i++] = acked(id) ?? 0;
  indexes.sort((a, b) => b - a);
  // The (size/2+1)-th largest index is on a majority.
  return indexes[Math.floor(size / 2)]!;
}

/**
 * majorityVoteResult counts `votes` (true = granted) among `voters`: won once a majority
 * granted, lost once a majority can no longer be reached, pending otherwise.
 */
export function majorityVoteResult(
  voters: ReadonlySet<NodeId>,
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  if (voters.size === 0) return 'won';
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === undefined) missing++;
    else if (vote) granted++;
  }
  const quorum = Math.floor(voters.size / 2) + 1;
  if (granted >= quorum) return 'won';
  if (granted + missing >= quorum) return 'pending';
  return 'lost';
}

/**
 * JointConfig is a voter configuration of one or two majorities (Raft paper §6, "joint
 * consensus"): decisions need a majority of `incoming` AND of `outgoing`. Outside a
 * configuration change `outgoing` is empty and it is a plain majority.
 */
export interface JointConfig {
  readonly incoming: ReadonlySet<NodeId>;
  readonly outgoing: ReadonlySet<NodeId>;
}

/** jointCommittedIndex is the largest index acknowledged by a quorum of both halves. */
export function jointCommittedIndex(config: JointConfig, acked: AckedIndex): number {
  const incoming = majorityCommittedIndex(config.incoming, acked);
  const outgoing = majorityCommittedIndex(config.outgoing, acked);
  return Math.min(incoming, outgoing);
}

/** jointVoteResult wins only if both halves win, loses if either loses. */
export function jointVoteResult(
  config: JointConfig,
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  const incoming = majorityVoteResult(config.incoming, votes);
  const outgoing = majorityVoteResult(config.outgoing, votes);
  if (incoming === outgoing) return incoming;
  if (incoming === 'lost' || outgoing === 'lost') return 'lost';
  return 'pending';
}

/** jointVoterIds returns every voter of either half, each once. */
export function jointVoterIds(config: JointConfig): Set<NodeId> {
  const ids = new Set(config.incoming);
  for (const id of config.outgoing) ids.add(id);
  return ids;
}

/** isJoint reports whether a configuration is in the middle of a change. */
export function isJoint(config: JointConfig): boolean {
  return config.outgoing.size > 0;
}
