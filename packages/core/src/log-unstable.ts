import type { Entry, Snapshot } from './types.js';

/**
 * UnstableLog holds what the node has accepted but not yet persisted: at most one
 * incoming snapshot and a tail of entries. It is handed out by `Ready` and dropped
 * piece by piece as the driver reports it durable (`stableTo`, `stableSnapshotTo`).
 */
export class UnstableLog {
  /** The incoming snapshot, if any, not yet persisted. */
  snapshot: Snapshot | undefined;
  /** Entries not yet persisted. Invariant: entries[i].index === offset + i. */
  entries: Entry[] = [];
  /** Index of entries[0] (or where the next entry would go when empty). */
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  /** maybeFirstIndex is the first index the unstable snapshot implies, if there is one. */
  maybeFirstIndex(): number | undefined {
    return this.snapshot === undefined ? undefined : this.snapshot.metadata.index + 1;
  }

  /** maybeLastIndex is the last index known here: of the last entry, else of the snapshot. */
  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    if (this.snapshot !== undefined) return this.snapshot.metadata.index;
    return undefined;
  }

  /** maybeTerm is the term of `index` if this unstable part knows it. */
  maybeTerm(index: number): number | undefined {
    if (index < this.offset) {
      if (this.snapshot !== undefined && this.snapshot.metadata.index === index) {
        return this.snapshot.metadata.term;
      }
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || index > last) return undefined;
    return this.entries[index - this.offset]!.term;
  }

  /**
   * stableTo drops entries up to `index` once they are durable — but only if the entry at
   * `index` still has `term`: a newer leader may have replaced it while it was being saved.
   */
  stableTo(index: number, term: number): void {
    const known = this.maybeTerm(index);
    if (known === undefined || known !== term || index < this.offset) return;
    const count = index + 1 - this.offset;
    this.entries = this.entries.slice(count);
    this.offset = index + 1;
  }

  /** stableSnapshotTo drops the snapshot once it is durable. */
  stableSnapshotTo(index: number): void {
    if (this.snapshot !== undefined && this.snapshot.metadata.index === index) {
      this.snapshot = undefined;
    }
  }

  /** restore replaces everything by an incoming snapshot. */
  restore(snapshot: Snapshot): void {
    this.offset = snapshot.metadata.index + 1;
    this.entries = [];
    this.snapshot = snapshot;
  }

  /**
   * truncateAndAppend appends `entries`, first cutting any unstable tail they conflict
   * with (§5.3: an existing entry that conflicts with a new one is deleted with all that
   * follow it). The caller guarantees `entries[0].index` ≤ last index + 1.
   */
  truncateAndAppend(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const from = first.index;
    if (from === this.offset + this.entries.length) {
      for (const entry of entries) this.entries.push(entry);
    } else if (from <= this.offset) {
      // Replace everything unstable; the stable log will be truncated when this is saved.
      this.offset = from;
      this.entries = entries.slice();
    } else {
      this.entries.length = from - this.offset;
      for (const entry of entries) this.entries.push(entry);
    }
  }

  /** slice returns unstable entries in [lo, hi); the caller checks the bounds. */
  slice(lo: number, hi: number): Entry[] {
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
