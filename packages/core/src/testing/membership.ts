import type { JointConfig } from '../quorum.js';
import { jointVoteResult, jointVoterIds } from '../quorum.js';
import type { NodeId } from '../types.js';

/**
 * disjointQuorums returns two disjoint sets of nodes, the first a quorum of `a` and the
 * second a quorum of `b` (each a majority of both halves when joint, Raft paper §6), or
 * undefined when every quorum of `a` intersects every quorum of `b` — the property that
 * keeps two leaders from deciding independently while a configuration changes. Exhaustive
 * over subsets of the voters of `a` (fine for the small groups of tests: quorum
 * membership is monotone, so checking the complement of each subset suffices), using the
 * quorum functions themselves to decide what a quorum is.
 */
export function disjointQuorums(a: JointConfig, b: JointConfig): [NodeId[], NodeId[]] | undefined {
  const universe = [...new Set([...jointVoterIds(a), ...jointVoterIds(b)])].sort((x, y) => x - y);
  if (universe.length > 20) throw new RangeError('disjointQuorums: too many voters to enumerate');
  const count = 2 ** universe.length;
  for (let mask = 0; mask < count; mask++) {
    const left = new Map<NodeId, boolean>();
    const right = new Map<NodeId, boolean>();
    for (let bit = 0; bit < universe.length; bit++) {
      const id = universe[bit]!;
      const inLeft = (mask & (1 << bit)) !== 0;
      left.set(id, inLeft);
      right.set(id, !inLeft);
    }
    if (jointVoteResult(a, left) === 'won' && jointVoteResult(b, right) === 'won') {
      return [universe.filter((id) => left.get(id)), universe.filter((id) => right.get(id))];
    }
  }
  return undefined;
}
