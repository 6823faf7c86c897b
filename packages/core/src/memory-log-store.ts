import { CompactedError, SnapshotOutOfDateError, UnavailableError } from './errors.js';
import type { LogStore, LogUpdate, StoredState } from './log-store.js';
import type { ConfState, Entry, HardState, Snapshot } from './types.js';
import { EMPTY_DATA, EMPTY_HARD_STATE, emptyConfState, entrySize } from './types.js';

/**
 * MemoryLogStore is a LogStore that keeps everything in memory: for tests, the simulator,
 * and applications that replicate state they can afford to lose on a crash. Its `save`
 * resolves at once; the synchronous `apply` does the same work for drivers that step
 * without awaiting.
 */
export class MemoryLogStore implements LogStore {
  private hardState: HardState = EMPTY_HARD_STATE;
  private snapshotValue: Snapshot;
  // Invariant: entries[0] is a dummy standing for the snapshot point (its term and index);
  // entries[i].index === entries[0].index + i.
  private log: Entry[];

  /** Create a store, optionally seeded with a membership (a fresh group's initial voters). */
  constructor(confState: ConfState = emptyConfState()) {
    this.snapshotValue = { metadata: { index: 0, term: 0, confState }, data: EMPTY_DATA };
    this.log = [{ term: 0, index: 0, type: 'normal', data: EMPTY_DATA }];
  }

  initialState(): StoredState {
    return { hardState: this.hardState, confState: this.snapshotValue.metadata.confState };
  }

  entries(lo: number, hi: number, maxBytes = Number.POSITIVE_INFINITY): Entry[] {
    const offset = this.log[0]!.index;
    if (lo <= offset) throw new CompactedError(lo, offset + 1);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex());
    return limitSize(this.log, lo - offset, hi - offset, maxBytes);
  }

  term(index: number): number {
    const offset = this.log[0]!.index;
    if (index < offset) throw new CompactedError(index, offset + 1);
    const entry = this.log[index - offset];
    if (entry === undefined) throw new UnavailableError(index, this.lastIndex());
    return entry.term;
  }

  firstIndex(): number {
    return this.log[0]!.index + 1;
  }

  lastIndex(): number {
    return this.log[0]!.index + this.log.length - 1;
  }

  snapshot(): Snapshot {
    return this.snapshotValue;
  }

  save(update: LogUpdate): Promise<void> {
    this.apply(update);
    return Promise.resolve();
  }

  /** apply does what `save` does, synchronously. */
  apply(update: LogUpdate): void {
    if (update.snapshot !== undefined) this.applySnapshot(update.snapshot);
    if (update.entries.length > 0) this.append(update.entries);
    if (update.hardState !== undefined) this.hardState = update.hardState;
  }

  compact(index: number): Promise<void> {
    this.compactSync(index);
    return Promise.resolve();
  }

  /** compactSync drops entries up to and including `index`. */
  compactSync(index: number): void {
    const offset = this.log[0]!.index;
    if (index <= offset) return;
    if (index > this.lastIndex()) throw new UnavailableError(index, this.lastIndex());
    const dummy = this.log[index - offset]!;
    this.log = [
      { term: dummy.term, index: dummy.index, type: 'normal', data: EMPTY_DATA },
      ...this.log.slice(index - offset + 1),
    ];
  }

  /**
   * createSnapshot records a snapshot of state applied through `index` (which must be in
   * the log) with the given membership and data; entries are kept until `compact`.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    try {
      return Promise.resolve(this.createSnapshotSync(index, confState, data));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** createSnapshotSync does what `createSnapshot` does, synchronously. */
  createSnapshotSync(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snapshotValue.metadata.index) {
      throw new SnapshotOutOfDateError(index, this.snapshotValue.metadata.index);
    }
    const snapshot: Snapshot = { metadata: { index, term: this.term(index), confState }, data };
    this.snapshotValue = snapshot;
    return snapshot;
  }

  /** applySnapshot replaces the whole log by `snapshot` (a follower installing MsgSnap). */
  applySnapshot(snapshot: Snapshot): void {
    const { index, term } = snapshot.metadata;
    if (index <= this.snapshotValue.metadata.index) {
      throw new SnapshotOutOfDateError(index, this.snapshotValue.metadata.index);
    }
    this.snapshotValue = snapshot;
    this.log = [{ term, index, type: 'normal', data: EMPTY_DATA }];
  }

  /** setHardState records the hard state. */
  setHardState(hardState: HardState): void {
    this.hardState = hardState;
  }

  /** append adds entries, truncating any stored tail at or after `entries[0].index`. */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const offset = this.log[0]!.index;
    // Entries already covered by the snapshot are skipped.
    let start = 0;
    while (start < entries.length && entries[start]!.index <= offset) start++;
    if (start === entries.length) return;
    const from = entries[start]!.index;
    if (from > this.lastIndex() + 1) {
      throw new UnavailableError(from, this.lastIndex());
    }
    this.log.length = from - offset;
    for (let i = start; i < entries.length; i++) this.log.push(entries[i]!);
  }
}

/**
 * limitSize returns `source[from, to)` cut so its size stays within `maxBytes`, always
 * keeping the first entry.
 */
export function limitSize(
  source: readonly Entry[],
  from: number,
  to: number,
  maxBytes: number,
): Entry[] {
  if (maxBytes === Number.POSITIVE_INFINITY || to - from <= 1) return source.slice(from, to);
  let size = 0;
  let end = from;
  while (end < to) {
    size += entrySize(source[end]!);
    if (end > from && size > maxBytes) break;
    end++;
  }
  return source.slice(from, end);
}
