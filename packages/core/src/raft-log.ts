import { CompactedError, UnavailableError } from './errors.js';
import type { LogStore } from './log-store.js';
import { UnstableLog } from './log-unstable.js';
import { limitSize } from './memory-log-store.js';
import type { Logger } from './ports.js';
import type { Entry, Snapshot } from './types.js';

/**
 * RaftLog is the node's view of the replicated log: the stable part behind the
 * `LogStore` port, the unstable tail not yet persisted, and the commit and applied
 * indexes.
 */
export class RaftLog {
  readonly store: LogStore;
  readonly unstable: UnstableLog;
  /** Highest index known to be stored on a quorum. Invariant: applied ≤ committed ≤ lastIndex(). */
  committed: number;
  /** Highest index handed to the state machine (the driver reports it through `appliedTo`). */
  applied: number;
  private readonly logger: Logger;

  constructor(store: LogStore, logger: Logger) {
    this.store = store;
    this.logger = logger;
    const first = store.firstIndex();
    const last = store.lastIndex();
    this.unstable = new UnstableLog(last + 1);
    // A fresh or restored node has applied nothing beyond its snapshot.
    this.committed = first - 1;
    this.applied = first - 1;
  }

  /** firstIndex is the first index still available (unstable snapshot included). */
  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.store.firstIndex();
  }

  /** lastIndex is the index of the last entry, stable or not. */
  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.store.lastIndex();
  }

  /** lastTerm is the term of the last entry. */
  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  /**
   * term returns the term of the entry at `index`; 0 for indexes before the first
   * available one minus one, or after the last (an unknown term never matches anything).
   */
  term(index: number): number {
    const unstableTerm = this.unstable.maybeTerm(index);
    if (unstableTerm !== undefined) return unstableTerm;
    const dummyIndex = this.firstIndex() - 1;
    if (index < dummyIndex || index > this.lastIndex()) return 0;
    try {
      return this.store.term(index);
    } catch (error) {
      if (error instanceof CompactedError || error instanceof UnavailableError) return 0;
      throw error;
    }
  }

  /** matchTerm reports whether the entry at `index` has `term`. */
  matchTerm(index: number, term: number): boolean {
    if (index < this.firstIndex() - 1 || index > this.lastIndex()) return false;
    return this.term(index) === term;
  }

  /**
   * isUpToDate is the vote check of §5.4.1: a candidate's log (its last entry's term and
   * index) is at least as up-to-date as ours.
   */
  isUpToDate(lastIndex: number, term: number): boolean {
    const ourTerm = this.lastTerm();
    return term > ourTerm || (term === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * maybeAppend handles the log part of AppendEntries (§5.3): if our entry at `index`
   * has `logTerm`, append what is new in `entries` (truncating at the first conflict),
   * advance commit to min(committed, last new index), and return the last new index.
   * Returns undefined when the consistency check fails.
   */
  maybeAppend(
    index: number,
    logTerm: number,
    committed: number,
    entries: readonly Entry[],
  ): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNewIndex = index + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      if (conflict <= this.committed) {
        // Log Matching plus Leader Completeness make this impossible; if it happens, the
        // safety of the whole group is gone and continuing would corrupt the state machine.
        throw new Error(
          `raft invariant broken: entry ${conflict} conflicts with committed index ${this.committed}`,
        );
      }
      this.append(entries.slice(conflict - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNewIndex));
    return lastNewIndex;
  }

  /** append adds entries after the log (truncating a conflicting unstable tail) and returns the last index. */
  append(entries: readonly Entry[]): number {
    const first = entries[0];
    if (first === undefined) return this.lastIndex();
    if (first.index - 1 < this.committed) {
      throw new Error(
        `raft invariant broken: append after ${first.index - 1} is before committed ${this.committed}`,
      );
    }
    this.unstable.truncateAndAppend(entries);
    return this.lastIndex();
  }

  /**
   * findConflict returns the index of the first entry in `entries` whose term differs from
   * ours, or that we do not have; 0 when we already have all of them.
   */
  findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * findConflictByTerm returns the largest index ≤ `index` whose term is ≤ `term`, and
   * that term: the hint that lets a leader skip a whole term of mismatching entries per
   * round trip instead of one entry (§5.3, "the follower can include the term of the
   * conflicting entry").
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let probe = Math.min(index, this.lastIndex());
    const floor = this.firstIndex() - 1;
    while (probe > floor) {
      const probeTerm = this.term(probe);
      if (probeTerm <= term) return { index: probe, term: probeTerm };
      probe--;
    }
    return { index: probe, term: this.term(probe) };
  }

  /** commitTo raises the commit index; it never moves backwards. */
  commitTo(index: number): void {
    if (index <= this.committed) return;
    if (index > this.lastIndex()) {
      throw new Error(
        `raft invariant broken: commit ${index} is past the last index ${this.lastIndex()}`,
      );
    }
    this.committed = index;
  }

  /**
   * maybeCommit commits up to `index` only if that entry is from `term` (§5.4.2: a leader
   * commits entries of earlier terms only by committing one of its own term).
   */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.term(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  /** appliedTo records that entries through `index` were handed to the state machine. */
  appliedTo(index: number): void {
    if (index === 0) return;
    if (index > this.committed || index < this.applied) {
      throw new Error(
        `raft invariant broken: applied ${index} outside [${this.applied}, ${this.committed}]`,
      );
    }
    this.applied = index;
  }

  /** stableIndex is the last index that is durable (everything before the unstable tail). */
  stableIndex(): number {
    if (this.unstable.snapshot !== undefined) return this.unstable.snapshot.metadata.index - 1;
    return this.unstable.offset - 1;
  }

  /** hasNextCommittedEntries reports whether durable, committed, unapplied entries exist. */
  hasNextCommittedEntries(): boolean {
    if (this.unstable.snapshot !== undefined) return false;
    return Math.min(this.committed, this.stableIndex()) > this.applied;
  }

  /**
   * nextCommittedEntries returns committed entries not yet applied — only those already
   * durable locally, so a node never applies what a crash could take back — up to
   * `maxBytes`.
   */
  nextCommittedEntries(maxBytes = Number.POSITIVE_INFINITY): Entry[] {
    if (!this.hasNextCommittedEntries()) return [];
    const lo = Math.max(this.applied + 1, this.firstIndex());
    const hi = Math.min(this.committed, this.stableIndex()) + 1;
    return this.slice(lo, hi, maxBytes);
  }

  /** entryAt returns the entry at `index`, or undefined when it is not available. */
  entryAt(index: number): Entry | undefined {
    if (index >= this.unstable.offset) return this.unstable.entries[index - this.unstable.offset];
    if (index < this.firstIndex() || index > this.lastIndex()) return undefined;
    return this.store.entries(index, index + 1)[0];
  }

  /** unstableEntries returns the entries not yet persisted. */
  unstableEntries(): Entry[] {
    return this.unstable.entries;
  }

  /** entriesFrom returns entries from `index` to the end, limited to `maxBytes`. */
  entriesFrom(index: number, maxBytes = Number.POSITIVE_INFINITY): Entry[] {
    const last = this.lastIndex();
    if (index > last) return [];
    return this.slice(index, last + 1, maxBytes);
  }

  /**
   * slice returns entries in [lo, hi) from storage and the unstable tail, limited to
   * `maxBytes` (always at least one). Throws CompactedError if `lo` is compacted.
   */
  slice(lo: number, hi: number, maxBytes = Number.POSITIVE_INFINITY): Entry[] {
    if (lo >= hi) return [];
    const first = this.firstIndex();
    if (lo < first) throw new CompactedError(lo, first);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex());
    const offset = this.unstable.offset;
    let result: Entry[] = [];
    if (lo < offset) {
      result = this.store.entries(lo, Math.min(hi, offset), maxBytes);
      // Storage stopped early because of the size limit: do not add unstable entries.
      if (result.length < Math.min(hi, offset) - lo) return result;
    }
    if (hi > offset) {
      const unstable = this.unstable.slice(Math.max(lo, offset), hi);
      result = result.length > 0 ? result.concat(unstable) : unstable;
    }
    return limitSize(result, 0, result.length, maxBytes);
  }

  /** allEntries returns every available entry (tests and describe only). */
  allEntries(): Entry[] {
    return this.entriesFrom(this.firstIndex());
  }

  /** snapshot returns the pending unstable snapshot, else the store's. */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.store.snapshot();
  }

  /** restore replaces the log by a snapshot (a follower installing InstallSnapshot). */
  restore(snapshot: Snapshot): void {
    this.logger.info('log restored from snapshot', {
      index: snapshot.metadata.index,
      term: snapshot.metadata.term,
    });
    this.committed = snapshot.metadata.index;
    this.unstable.restore(snapshot);
  }

  /** stableTo marks entries through (index, term) durable. */
  stableTo(index: number, term: number): void {
    this.unstable.stableTo(index, term);
  }

  /** stableSnapshotTo marks the unstable snapshot at `index` durable. */
  stableSnapshotTo(index: number): void {
    this.unstable.stableSnapshotTo(index);
  }
}
