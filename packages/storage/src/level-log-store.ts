import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  type ConfState,
  EMPTY_DATA,
  type Entry,
  type HardState,
  type LogStore,
  type LogUpdate,
  type Snapshot,
  type SnapshotMetadata,
  SnapshotOutOfDateError,
  type StoredState,
  UnavailableError,
} from '@raftkit/core';
import { ClassicLevel } from 'classic-level';
import {
  encodeEntry,
  encodeHardState,
  encodeLogPosition,
  encodeSnapshotMetadata,
  type LogPosition,
  type StoreIdentity,
} from './codec.js';
import { InvalidLogUpdateError, StorageFailedError, StorageNotFoundError } from './errors.js';
import {
  ENTRY_RANGE_START,
  entryKey,
  HARD_STATE_KEY,
  LOG_START_KEY,
  SNAPSHOT_KEY,
} from './keys.js';
import { LogCache } from './log-cache.js';
import {
  guardLostCurrent,
  type LevelDatabase,
  mapOpenError,
  type RecoveredState,
  recover,
} from './recovery.js';
import { type SnapshotFileInfo, type SnapshotSource, SnapshotStore } from './snapshot-store.js';

/** LevelLogStoreOptions configures where a LevelLogStore lives and how it writes. */
export interface LevelLogStoreOptions {
  /** dir is the node's data dir; the store uses `dir/log` (LevelDB) and `dir/snap`. */
  readonly dir: string;
  /**
   * sync makes every write durable before it resolves (fsync; default true). Turn it off
   * only for tests and benchmarks: without it a power loss can forget acknowledged votes.
   */
  readonly sync?: boolean;
  /** createIfMissing creates a new store when `dir` holds none (default true). */
  readonly createIfMissing?: boolean;
  /**
   * identity is recorded when the store is created and checked on every later open; a
   * store created without one refuses to open with one.
   */
  readonly identity?: StoreIdentity;
  /** initialConfState is the membership of a brand-new store (ignored for an existing one). */
  readonly initialConfState?: ConfState;
  /** verifySnapshot checks the latest snapshot file's digest at open (default true). */
  readonly verifySnapshot?: boolean;
}

type BatchOperation =
  | { readonly type: 'put'; readonly key: Buffer; readonly value: Buffer }
  | { readonly type: 'del'; readonly key: Buffer };

/**
 * LevelLogStore is a durable LogStore on LevelDB (classic-level). Each `save` is one
 * atomic LevelDB batch — snapshot metadata, entries (with deletes for a truncated tail)
 * and hard state — written with `sync`, and its promise resolves only once that batch is
 * on disk. Reads are served from an in-memory copy of the log since the compaction point
 * that is updated only after the write succeeds, so they never show state a crash could
 * take back. Snapshot data lives in checksummed files (see SnapshotStore) under `dir/snap`.
 *
 * Writes (`save`, `compact`, `createSnapshot`) run one at a time in call order. After a
 * failed write the store refuses every later one: the node must stop.
 */
export class LevelLogStore implements LogStore {
  /** dir is the absolute data dir. */
  readonly dir: string;
  /** snapshots is the store of snapshot files, for streaming a snapshot out or in. */
  readonly snapshots: SnapshotStore;
  /** identity is the cluster and node id recorded at creation, if any. */
  readonly identity: StoreIdentity | undefined;
  /** created is true when this open created the store (the data dir held none). */
  readonly created: boolean;

  private readonly db: LevelDatabase;
  private readonly sync: boolean;
  // Invariant: cache, hardStateValue and snapshotMetadataValue are exactly what the last
  // successful batch made durable; they change only after `commit` resolves.
  private readonly cache: LogCache;
  private hardStateValue: HardState;
  // Invariant: when index > 0, the file snapshots.fileFor(index, term) exists and verified
  // at open (or was written and fsynced by this process).
  private snapshotMetadataValue: SnapshotMetadata;
  // The latest snapshot with its data, loaded on first use: a big snapshot is not read into
  // memory at open unless the core asks for it.
  private snapshotValue: Snapshot | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private failure: StorageFailedError | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    dir: string,
    db: LevelDatabase,
    snapshots: SnapshotStore,
    sync: boolean,
    state: RecoveredState,
  ) {
    this.dir = dir;
    this.db = db;
    this.snapshots = snapshots;
    this.sync = sync;
    this.identity = state.identity;
    this.created = state.created;
    this.hardStateValue = state.hardState;
    this.snapshotMetadataValue = state.snapshot;
    this.cache = new LogCache(state.start);
    this.cache.replaceFrom(state.entries);
  }

  /**
   * open opens (or creates) the store in `options.dir` and recovers its state. It rejects
   * with StorageCorruptError, StorageFormatError, StorageIdentityMismatchError,
   * SnapshotChecksumError, StorageLockedError or StorageNotFoundError rather than ever
   * starting empty over data it cannot read.
   */
  static async open(options: LevelLogStoreOptions): Promise<LevelLogStore> {
    const dir = resolve(options.dir);
    const logDir = join(dir, 'log');
    const sync = options.sync ?? true;
    const createIfMissing = options.createIfMissing ?? true;
    await guardLostCurrent(logDir);
    if (!createIfMissing && !(await exists(join(logDir, 'CURRENT')))) {
      throw new StorageNotFoundError(dir);
    }
    await fs.mkdir(dir, { recursive: true });
    const db: LevelDatabase = new ClassicLevel<Buffer, Buffer>(logDir, {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      createIfMissing,
    });
    try {
      await db.open();
    } catch (error) {
      throw mapOpenError(error, logDir);
    }
    try {
      const snapshots = await SnapshotStore.open(join(dir, 'snap'), { sync });
      const state = await recover(db, snapshots, {
        logDir,
        sync,
        identity: options.identity,
        initialConfState: options.initialConfState,
        verifySnapshot: options.verifySnapshot ?? true,
      });
      return new LevelLogStore(dir, db, snapshots, sync, state);
    } catch (error) {
      await db.close().catch(() => {});
      throw error;
    }
  }

  initialState(): StoredState {
    return { hardState: this.hardStateValue, confState: this.snapshotMetadataValue.confState };
  }

  entries(lo: number, hi: number, maxBytes?: number): Entry[] {
    return this.cache.entries(lo, hi, maxBytes);
  }

  term(index: number): number {
    return this.cache.term(index);
  }

  firstIndex(): number {
    return this.cache.firstIndex();
  }

  lastIndex(): number {
    return this.cache.lastIndex();
  }

  /**
   * snapshot returns the latest snapshot. Its data is read from its file (and verified) on
   * the first call after open, which blocks; later calls return the same object.
   */
  snapshot(): Snapshot {
    if (this.snapshotValue === undefined) {
      const metadata = this.snapshotMetadataValue;
      this.snapshotValue =
        metadata.index === 0
          ? { metadata, data: EMPTY_DATA }
          : {
              metadata,
              data: this.snapshots.readSync(this.snapshots.fileFor(metadata.index, metadata.term))
                .data,
            };
    }
    return this.snapshotValue;
  }

  /** snapshotMetadata returns the latest snapshot's metadata without loading its data. */
  snapshotMetadata(): SnapshotMetadata {
    return this.snapshotMetadataValue;
  }

  /**
   * snapshotFile returns the file of the latest snapshot, or undefined before the first
   * one. Stream it with `snapshots.chunks(file)` to restore a state machine at startup
   * without loading the whole image into memory.
   */
  snapshotFile(): SnapshotFileInfo | undefined {
    const { index, term } = this.snapshotMetadataValue;
    return index === 0 ? undefined : this.snapshots.fileFor(index, term);
  }

  save(update: LogUpdate): Promise<void> {
    return this.enqueue(() => this.write(update));
  }

  compact(index: number): Promise<void> {
    return this.enqueue(async () => {
      const start = this.cache.start();
      if (index <= start.index) return;
      if (index > this.cache.lastIndex()) throw new UnavailableError(index, this.cache.lastIndex());
      const point: LogPosition = { index, term: this.cache.term(index) };
      await this.guarded(async () => {
        await this.commit([{ type: 'put', key: LOG_START_KEY, value: encodeLogPosition(point) }]);
        this.cache.compact(index);
        await this.clearThrough(index);
      });
    });
  }

  /**
   * createSnapshot records a snapshot of state applied through `index` (which must still
   * be in the log) with the given membership and data, streamed to a file when `data` is
   * an iterable. Entries are kept until `compact`. Older snapshot files are then pruned.
   */
  createSnapshot(
    index: number,
    confState: ConfState,
    data: SnapshotSource,
  ): Promise<SnapshotMetadata> {
    return this.enqueue(async () => {
      const current = this.snapshotMetadataValue.index;
      if (index <= current) throw new SnapshotOutOfDateError(index, current);
      const metadata: SnapshotMetadata = { index, term: this.cache.term(index), confState };
      // A failed file write commits nothing (the temporary file is removed), so it does
      // not poison the store; only failures after it may leave disk and memory apart.
      const file = await this.snapshots.write(metadata, data);
      await this.guarded(async () => {
        await this.commit([
          { type: 'put', key: SNAPSHOT_KEY, value: encodeSnapshotMetadata(metadata) },
        ]);
        this.snapshotMetadataValue = metadata;
        this.snapshotValue = data instanceof Uint8Array ? { metadata, data } : undefined;
        await this.snapshots.prune(file);
      });
      return metadata;
    });
  }

  /**
   * compactDisk asks LevelDB to compact its whole key range now, so the space of the
   * entries removed by log compaction is given back (etcd's Defragment, for this
   * store). It runs beside the write queue, not in it (a compaction of a big log takes a
   * while and changes no data), and a failure does not poison the store.
   */
  async compactDisk(): Promise<void> {
    if (this.closing !== undefined) {
      throw new StorageFailedError(this.dir, 'the store is closed');
    }
    // Every key of this store sorts between the empty key and 64 bytes of 0xff.
    await this.db.compactRange(Buffer.alloc(0), Buffer.alloc(64, 0xff));
  }

  /** close waits for pending writes, then releases the database; later writes are refused. */
  close(): Promise<void> {
    if (this.closing === undefined) {
      const pending = this.queue;
      this.closing = pending.then(() => this.db.close());
    }
    return this.closing;
  }

  private async write(update: LogUpdate): Promise<void> {
    const oldStart = this.cache.start();
    const oldLast = this.cache.lastIndex();
    const snapshot = update.snapshot;
    let start = oldStart;
    let last = oldLast;
    if (snapshot !== undefined) {
      const current = this.snapshotMetadataValue.index;
      if (snapshot.metadata.index <= current) {
        throw new SnapshotOutOfDateError(snapshot.metadata.index, current);
      }
      start = { index: snapshot.metadata.index, term: snapshot.metadata.term };
      last = start.index;
    }

    // Entries the (new) compaction point already covers are skipped, as MemoryLogStore does.
    const given = update.entries;
    let skip = 0;
    while (skip < given.length && given[skip]!.index <= start.index) skip++;
    const appended = skip === 0 ? given : given.slice(skip);
    const first = appended[0];
    if (first !== undefined) {
      if (first.index > last + 1) throw new UnavailableError(first.index, last);
      for (let i = 1; i < appended.length; i++) {
        if (appended[i]!.index !== first.index + i) {
          throw new InvalidLogUpdateError(
            `entry ${appended[i]!.index} follows ${appended[i - 1]!.index}; indexes must be consecutive`,
          );
        }
      }
      last = first.index + appended.length - 1;
    }

    const operations: BatchOperation[] = [];
    if (snapshot !== undefined) {
      operations.push({
        type: 'put',
        key: SNAPSHOT_KEY,
        value: encodeSnapshotMetadata(snapshot.metadata),
      });
      operations.push({ type: 'put', key: LOG_START_KEY, value: encodeLogPosition(start) });
    }
    for (const entry of appended) {
      operations.push({ type: 'put', key: entryKey(entry.index), value: encodeEntry(entry) });
    }
    // The stored tail past the new last index is a conflicting suffix (§5.3): it must go in
    // this same batch, or a crash could bring it back after the new entries.
    for (let index = Math.max(last, oldStart.index) + 1; index <= oldLast; index++) {
      operations.push({ type: 'del', key: entryKey(index) });
    }
    if (update.hardState !== undefined) {
      operations.push({
        type: 'put',
        key: HARD_STATE_KEY,
        value: encodeHardState(update.hardState),
      });
    }
    if (operations.length === 0) return;

    if (snapshot !== undefined) {
      // The data file first: the batch below makes it the latest snapshot, so it must
      // already be durable. If we crash between the two, it is an unreferenced file that
      // the next open removes.
      await this.snapshots.write(snapshot.metadata, snapshot.data);
    }
    await this.guarded(async () => {
      // A commit-only update may skip the fsync (LogUpdate.sync false): LevelDB's log is
      // sequential, so the next synced write makes it durable too — in particular every
      // snapshot and compaction, which therefore never point past a durable commit.
      await this.commit(operations, this.sync && update.sync !== false);
      if (snapshot !== undefined) {
        this.cache.reset(start);
        this.snapshotMetadataValue = snapshot.metadata;
        this.snapshotValue = snapshot;
      }
      if (appended.length > 0) this.cache.replaceFrom(appended);
      if (update.hardState !== undefined) this.hardStateValue = update.hardState;
      if (snapshot !== undefined) {
        await this.snapshots.prune(
          this.snapshots.fileFor(snapshot.metadata.index, snapshot.metadata.term),
        );
        if (start.index > oldStart.index) await this.clearThrough(start.index);
      }
    });
  }

  /**
   * commit writes `operations` as one atomic LevelDB batch, synced when the store syncs.
   * It uses the chained-batch API: the array form of `db.batch` costs several times more
   * CPU per operation in abstract-level, which dominated large appends.
   */
  private async commit(operations: readonly BatchOperation[], sync = this.sync): Promise<void> {
    const batch = this.db.batch();
    for (const operation of operations) {
      if (operation.type === 'put') batch.put(operation.key, operation.value);
      else batch.del(operation.key);
    }
    await batch.write({ sync });
  }

  /** clearThrough deletes entry keys up to `index`, which the compaction point made stale. */
  private async clearThrough(index: number): Promise<void> {
    await this.db.clear({ gte: ENTRY_RANGE_START, lte: entryKey(index) });
  }

  private enqueue<T>(operation: () => Promise<T>): Promise<T> {
    if (this.closing !== undefined) {
      return Promise.reject(new StorageFailedError(this.dir, 'the store is closed'));
    }
    const run = this.queue.then(() => {
      if (this.failure !== undefined) throw this.failure;
      return operation();
    });
    this.queue = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  /** guarded runs I/O whose failure leaves disk and memory possibly apart: it poisons the store. */
  private async guarded(io: () => Promise<void>): Promise<void> {
    try {
      await io();
    } catch (error) {
      this.failure = new StorageFailedError(this.dir, 'a write to the log database failed', {
        cause: error,
      });
      throw this.failure;
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await fs.access(path);
    return true;
  } catch {
    return false;
  }
}
