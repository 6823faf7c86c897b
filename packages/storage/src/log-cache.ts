import { CompactedError, EMPTY_DATA, type Entry, limitSize, UnavailableError } from '@raftkit/core';
import type { LogPosition } from './codec.js';

/**
 * LogCache is the in-memory copy of the stable log since the compaction point, from which
 * every LogStore read is served. It mirrors core's MemoryLogStore read semantics exactly
 * (same dummy entry, same errors, same size limiting), but unlike MemoryLogStore it lets
 * the compaction point and the latest snapshot differ, and it is only mutated after the
 * matching LevelDB batch is durable, so reads never see state that could be lost.
 */
export class LogCache {
  // Invariant: log[0] is a dummy standing for the compaction point (its index and term);
  // log[i].index === log[0].index + i.
  private log: Entry[];

  /** Create a cache whose compaction point is `start` and that holds no entries yet. */
  constructor(start: LogPosition) {
    this.log = [dummy(start)];
  }

  /** entries returns `[lo, hi)` limited to `maxBytes` (at least one entry when any). */
  entries(lo: number, hi: number, maxBytes = Number.POSITIVE_INFINITY): Entry[] {
    const offset = this.log[0]!.index;
    if (lo <= offset) throw new CompactedError(lo, offset + 1);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex());
    return limitSize(this.log, lo - offset, hi - offset, maxBytes);
  }

  /** term returns the term at `index`, the compaction point included. */
  term(index: number): number {
    const offset = this.log[0]!.index;
    if (index < offset) throw new CompactedError(index, offset + 1);
    const entry = this.log[index - offset];
    if (entry === undefined) throw new UnavailableError(index, this.lastIndex());
    return entry.term;
  }

  /** firstIndex is the compaction point's index + 1. */
  firstIndex(): number {
    return this.log[0]!.index + 1;
  }

  /** lastIndex is the index of the last entry (the compaction point when there is none). */
  lastIndex(): number {
    return this.log[0]!.index + this.log.length - 1;
  }

  /** start returns the compaction point. */
  start(): LogPosition {
    const first = this.log[0]!;
    return { index: first.index, term: first.term };
  }

  /** reset drops every entry and moves the compaction point to `start` (snapshot install). */
  reset(start: LogPosition): void {
    this.log = [dummy(start)];
  }

  /**
   * replaceFrom keeps entries before `entries[0].index` and replaces the rest by
   * `entries`, which the caller has checked are consecutive and start within
   * `(compaction point, lastIndex + 1]`.
   */
  replaceFrom(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    this.log.length = first.index - this.log[0]!.index;
    for (const entry of entries) this.log.push(entry);
  }

  /** compact moves the compaction point to `index` (which the caller checked is stored). */
  compact(index: number): void {
    const offset = this.log[0]!.index;
    const point = this.log[index - offset]!;
    this.log = [dummy(point), ...this.log.slice(index - offset + 1)];
  }
}

function dummy(position: LogPosition): Entry {
  return { term: position.term, index: position.index, type: 'normal', data: EMPTY_DATA };
}
