import type { ConfState, Entry, HardState, Snapshot } from './types.js';

/**
 * StoredState is what a LogStore recovered at open: the hard state and the membership
 * (from the latest snapshot and any configuration entries the application applied).
 */
export interface StoredState {
  readonly hardState: HardState;
  readonly confState: ConfState;
}

/**
 * LogUpdate is one Ready's worth of durable state, written as ONE atomic, synced unit:
 * first `snapshot` (replacing everything it covers), then `entries` (which overwrite any
 * stored entries at or after `entries[0].index` — a conflicting tail is truncated), then
 * `hardState`. Any part may be absent.
 */
export interface LogUpdate {
  readonly hardState?: HardState | undefined;
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot | undefined;
  /**
   * Whether the update must be durable before `save` resolves (default true). A Ready
   * whose only change is the commit index sets it false: the commit index is recomputed
   * after a crash, so a store may skip the fsync (etcd's `MustSync`).
   */
  readonly sync?: boolean;
}

/**
 * LogStore is the port through which the core reads the stable log, and the driver
 * persists what a Ready asks for. It mirrors etcd-io/raft's `Storage`.
 *
 * Reads are synchronous and see only what was persisted (a durable implementation keeps
 * the log since the last snapshot in memory). Index ranges are half-open `[lo, hi)`.
 * Reads throw `CompactedError` for indexes before `firstIndex()` (except `term` of
 * `firstIndex() - 1`, the snapshot's index, which is always answerable) and
 * `UnavailableError` past `lastIndex()`.
 *
 * Ownership: entries returned by reads and passed to `save` are shared, never mutated
 * by either side.
 */
export interface LogStore {
  /** initialState returns the persisted hard state and membership. */
  initialState(): StoredState;
  /**
   * entries returns entries in `[lo, hi)`, stopping early — but always returning at least
   * one entry when any is in range — once their total size would exceed `maxBytes`.
   */
  entries(lo: number, hi: number, maxBytes?: number): Entry[];
  /** term returns the term of the entry at `index` (`firstIndex() - 1` included). */
  term(index: number): number;
  /** firstIndex is the index of the first entry still stored (snapshot index + 1). */
  firstIndex(): number;
  /** lastIndex is the index of the last stored entry (the snapshot index when none). */
  lastIndex(): number;
  /** snapshot returns the most recent snapshot; may throw SnapshotTemporarilyUnavailableError. */
  snapshot(): Snapshot;
  /**
   * save persists `update` atomically and durably; it resolves only once the data would
   * survive a crash (or power loss, when the store syncs). A rejection means nothing of
   * `update` may be relied upon and the node must stop.
   */
  save(update: LogUpdate): Promise<void>;
  /**
   * compact discards entries up to and including `index`, which must be ≤ the applied
   * index and covered by a snapshot or at least by state the application keeps.
   */
  compact(index: number): Promise<void>;
  /**
   * createSnapshot records `data`, an image of the state machine with every entry through
   * `index` applied (`index` ≤ the applied index and still in the log), with the
   * membership at that point. Entries stay until `compact`. Resolves once durable. A
   * snapshot at or below the stored one is refused with SnapshotOutOfDateError.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<unknown>;
}
