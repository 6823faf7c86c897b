import type { Raft } from '../raft.js';
import type { Entry, NodeId } from '../types.js';

/** SafetyViolation describes a broken Raft safety property. */
export interface SafetyViolation {
  readonly property:
    | 'ElectionSafety'
    | 'LogMatching'
    | 'LeaderCompleteness'
    | 'StateMachineSafety'
    | 'LinearizableRead'
    | 'DurableAck'
    | 'ConfigSafety'
    | 'DisjointQuorums'
    | 'Liveness';
  readonly detail: string;
}

/** chainHash extends a chained hash of a log prefix by one entry digest. */
export function chainHash(previous: number, digest: number): number {
  return (Math.imul(previous, 31) + digest) >>> 0;
}

/** entryDigest is a content hash of an entry (term, index, type, data), FNV-1a 32-bit. */
export function entryDigest(entry: Entry): number {
  let hash = 0x811c9dc5;
  const mix = (value: number) => {
    hash ^= value & 0xff;
    hash = Math.imul(hash, 0x01000193);
    hash ^= (value >>> 8) & 0xff;
    hash = Math.imul(hash, 0x01000193);
    hash ^= (value >>> 16) & 0xff;
    hash = Math.imul(hash, 0x01000193);
    hash ^= (value >>> 24) & 0xff;
    hash = Math.imul(hash, 0x01000193);
  };
  mix(entry.term);
  mix(entry.index);
  mix(entry.type === 'normal' ? 1 : 2);
  const data = entry.data;
  for (let i = 0; i < data.length; i++) {
    hash ^= data[i]!;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * SafetyChecker checks Raft's safety properties (Raft paper Figure 3) over a simulated
 * cluster after every step:
 * - Election Safety: at most one leader per term, ever.
 * - Log Matching: two logs with an entry of the same index and term are identical up to
 *   it (checked with per-node prefix hashes, so each step costs little).
 * - Leader Completeness: a new leader holds every entry committed before it was elected.
 * - State Machine Safety: no two nodes apply different entries at the same index.
 * - Linearizable reads: a read never misses a write acknowledged before it began.
 */
export class SafetyChecker {
  readonly violations: SafetyViolation[] = [];
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** Committed (applied somewhere) entries by index: digest and term. */
  private readonly committed: { digest: number; term: number }[] = [];
  /** committedChain[i] is the chained hash of committed entries 1..i (0 at index 0). */
  private readonly committedChain: number[] = [0];
  private readonly knownLeaderTerm = new Map<NodeId, number>();

  /** fail records a violation (at most 20 are kept). */
  fail(property: SafetyViolation['property'], detail: string): void {
    if (this.violations.length < 20) this.violations.push({ property, detail });
  }

  /** committedLength is the number of entries known committed (applied by some node). */
  committedLength(): number {
    return this.committed.length;
  }

  /** committedTermAt returns the term of the committed entry at `index`, if known. */
  committedTermAt(index: number): number | undefined {
    return this.committed[index - 1]?.term;
  }

  /** observeLeaders records leaders; checks Election Safety and Leader Completeness. */
  observeLeaders(nodes: readonly Raft[]): void {
    for (const raft of nodes) {
      if (raft.role !== 'leader') continue;
      const existing = this.leaderOfTerm.get(raft.term);
      if (existing === undefined) {
        this.leaderOfTerm.set(raft.term, raft.id);
      } else if (existing !== raft.id) {
        this.fail(
          'ElectionSafety',
          `term ${raft.term} has two leaders: ${existing} and ${raft.id}`,
        );
      }
      if (this.knownLeaderTerm.get(raft.id) !== raft.term) {
        this.knownLeaderTerm.set(raft.id, raft.term);
        this.checkLeaderCompleteness(raft);
      }
    }
  }

  private checkLeaderCompleteness(raft: Raft): void {
    const log = raft.raftLog;
    const first = log.firstIndex();
    for (let index = 1; index <= this.committed.length; index++) {
      const known = this.committed[index - 1]!;
      // Only committed entries of earlier terms bind a new leader.
      if (known.term > raft.term) continue;
      if (index < first - 1) continue; // covered by the leader's snapshot
      const term = log.term(index);
      if (index > log.lastIndex() || term !== known.term) {
        this.fail(
          'LeaderCompleteness',
          `leader ${raft.id} of term ${raft.term} lacks committed entry ${index} (term ${known.term}); has term ${term} lastIndex ${log.lastIndex()}`,
        );
        return;
      }
    }
  }

  /** observeApplied checks State Machine Safety for entries a node applied. */
  observeApplied(id: NodeId, entries: readonly Entry[]): void {
    for (const entry of entries) {
      const digest = entryDigest(entry);
      const known = this.committed[entry.index - 1];
      if (known === undefined) {
        if (entry.index !== this.committed.length + 1) {
          this.fail(
            'StateMachineSafety',
            `node ${id} applied index ${entry.index} with a gap after ${this.committed.length}`,
          );
          return;
        }
        this.committed.push({ digest, term: entry.term });
        this.committedChain.push(
          chainHash(this.committedChain[this.committedChain.length - 1]!, digest),
        );
      } else if (known.digest !== digest) {
        this.fail(
          'StateMachineSafety',
          `node ${id} applied a different entry at index ${entry.index} (term ${entry.term} vs ${known.term})`,
        );
      }
    }
  }

  /**
   * checkLogMatching compares every pair of logs at the highest index where their terms
   * agree: the prefixes up to there must be identical.
   */
  checkLogMatching(
    nodes: readonly Raft[],
    prefixHash: (raft: Raft, index: number) => number | undefined,
  ): void {
    for (let a = 0; a < nodes.length; a++) {
      for (let b = a + 1; b < nodes.length; b++) {
        const x = nodes[a]!;
        const y = nodes[b]!;
        const lo = Math.max(x.raftLog.firstIndex(), y.raftLog.firstIndex());
        let index = Math.min(x.raftLog.lastIndex(), y.raftLog.lastIndex());
        while (index >= lo && x.raftLog.term(index) !== y.raftLog.term(index)) index--;
        if (index < lo) continue;
        const hashX = prefixHash(x, index);
        const hashY = prefixHash(y, index);
        if (hashX !== undefined && hashY !== undefined && hashX !== hashY) {
          this.fail(
            'LogMatching',
            `nodes ${x.id} and ${y.id} agree on the term at ${index} but differ before it`,
          );
        }
      }
    }
  }

  /** committedChainAt returns the chained hash of committed entries 1..index, if known. */
  committedChainAt(index: number): number | undefined {
    return this.committedChain[index];
  }

  /**
   * checkSnapshot checks that a snapshot a node installed or took at `index` holds the
   * state of exactly the committed entries 1..index (State Machine Safety across
   * snapshots).
   */
  checkSnapshot(id: NodeId, index: number, chain: number): void {
    const expected = this.committedChain[index];
    if (expected === undefined) {
      this.fail(
        'StateMachineSafety',
        `node ${id} holds a snapshot at ${index}, beyond anything known committed`,
      );
    } else if (expected !== chain) {
      this.fail(
        'StateMachineSafety',
        `node ${id} holds a snapshot at ${index} whose state differs from the committed log`,
      );
    }
  }

  /** observeRead checks that a read served at `readIndex` did not miss an acknowledged write. */
  observeRead(
    id: NodeId,
    readIndex: number,
    ackedBeforeInvoke: number,
    appliedAtServe: number,
  ): void {
    if (readIndex < ackedBeforeInvoke || appliedAtServe < ackedBeforeInvoke) {
      this.fail(
        'LinearizableRead',
        `node ${id} served a read at index ${readIndex} (applied ${appliedAtServe}) but a write at ${ackedBeforeInvoke} was acknowledged before the read began`,
      );
    }
  }

  /** observeDurableAck checks that an acknowledged write is still committed after crashes. */
  checkAcknowledged(index: number, digest: number): void {
    const known = this.committed[index - 1];
    if (known === undefined || known.digest !== digest) {
      this.fail('DurableAck', `acknowledged write at index ${index} is not in the committed log`);
    }
  }
}
