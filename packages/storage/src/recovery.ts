import { promises as fs } from 'node:fs';
import {
  type ConfState,
  EMPTY_HARD_STATE,
  type Entry,
  emptyConfState,
  type HardState,
  type SnapshotMetadata,
} from '@raftkit/core';
import type { ClassicLevel } from 'classic-level';
import {
  CorruptValueError,
  confStateEqual,
  decodeEntry,
  decodeFormat,
  decodeHardState,
  decodeIdentity,
  decodeLogPosition,
  decodeSnapshotMetadata,
  encodeFormat,
  encodeIdentity,
  encodeLogPosition,
  encodeSnapshotMetadata,
  FORMAT_VERSION,
  type LogPosition,
  type StoreIdentity,
} from './codec.js';
import {
  StorageCorruptError,
  StorageFailedError,
  StorageFormatError,
  StorageIdentityMismatchError,
  StorageLockedError,
} from './errors.js';
import {
  describeKey,
  ENTRY_RANGE_END,
  ENTRY_RANGE_START,
  entryKey,
  entryKeyIndex,
  FORMAT_KEY,
  HARD_STATE_KEY,
  IDENTITY_KEY,
  LOG_START_KEY,
  SNAPSHOT_KEY,
} from './keys.js';
import type { SnapshotFileInfo, SnapshotStore } from './snapshot-store.js';

/** LevelDatabase is the classic-level database type the store uses (binary keys and values). */
export type LevelDatabase = ClassicLevel<Buffer, Buffer>;

/** RecoveryOptions is what recovery needs to know besides the database itself. */
export interface RecoveryOptions {
  readonly logDir: string;
  readonly sync: boolean;
  readonly identity: StoreIdentity | undefined;
  readonly initialConfState: ConfState | undefined;
  readonly verifySnapshot: boolean;
}

/** RecoveredState is everything the store rebuilt from disk at open. */
export interface RecoveredState {
  readonly identity: StoreIdentity | undefined;
  readonly hardState: HardState;
  readonly snapshot: SnapshotMetadata;
  readonly start: LogPosition;
  readonly entries: Entry[];
  readonly created: boolean;
}

const LEVELDB_DATA_FILE = /^(\d+\.(log|ldb|sst)|MANIFEST-\d+)$/;

/**
 * guardLostCurrent refuses a LevelDB directory that holds data files but no CURRENT file:
 * LevelDB would treat it as empty, create a new database and later delete the old files,
 * which is exactly the silent empty start over existing data that must never happen.
 */
export async function guardLostCurrent(logDir: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(logDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (names.includes('CURRENT')) return;
  const data = names.find((name) => LEVELDB_DATA_FILE.test(name));
  if (data !== undefined) {
    throw new StorageCorruptError(
      logDir,
      `LevelDB files (e.g. ${data}) exist but CURRENT is missing, so the database cannot be found`,
    );
  }
}

/** mapOpenError turns classic-level's open failure into the matching typed error. */
export function mapOpenError(error: unknown, logDir: string): Error {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const message = cause?.message ?? (error as Error).message;
  if (cause?.code === 'LEVEL_LOCKED') return new StorageLockedError(logDir);
  if (
    cause?.code === 'LEVEL_CORRUPTION' ||
    (cause?.code === 'LEVEL_IO_ERROR' && /No such file/.test(message))
  ) {
    return new StorageCorruptError(logDir, `LevelDB cannot open it (${message})`);
  }
  return new StorageFailedError(logDir, `LevelDB cannot open it (${message})`, { cause: error });
}

function decodeOrCorrupt<T>(
  logDir: string,
  key: Uint8Array,
  value: Uint8Array,
  decode: (value: Uint8Array) => T,
): T {
  try {
    return decode(value);
  } catch (error) {
    if (!(error instanceof CorruptValueError)) throw error;
    throw new StorageCorruptError(
      logDir,
      `the value is damaged: ${error.message}`,
      describeKey(key),
    );
  }
}

async function readRequired<T>(
  db: LevelDatabase,
  logDir: string,
  key: Buffer,
  decode: (value: Uint8Array) => T,
): Promise<T> {
  const value = await db.get(key);
  if (value === undefined) {
    throw new StorageCorruptError(logDir, 'a record every store has is missing', describeKey(key));
  }
  return decodeOrCorrupt(logDir, key, value, decode);
}

function describeIdentity(identity: StoreIdentity | undefined): string {
  return identity === undefined
    ? 'no recorded cluster or node id'
    : `cluster "${identity.clusterId}" node ${identity.nodeId}`;
}

/**
 * recover rebuilds the store's state from disk, creating a new store when the database is
 * empty. It checks the format version, identity, every record's checksum, that entries
 * are consecutive from the compaction point, and that the latest snapshot file exists and
 * verifies; any failure is a typed error and nothing is written.
 */
export async function recover(
  db: LevelDatabase,
  snapshots: SnapshotStore,
  options: RecoveryOptions,
): Promise<RecoveredState> {
  const { logDir } = options;
  const formatValue = await db.get(FORMAT_KEY);
  if (formatValue === undefined) return initialize(db, snapshots, options);

  const format = decodeOrCorrupt(logDir, FORMAT_KEY, formatValue, decodeFormat);
  if (format !== FORMAT_VERSION) throw new StorageFormatError(logDir, format, FORMAT_VERSION);

  const identityValue = await db.get(IDENTITY_KEY);
  const identity =
    identityValue === undefined
      ? undefined
      : decodeOrCorrupt(logDir, IDENTITY_KEY, identityValue, decodeIdentity);
  const expected = options.identity;
  if (
    expected !== undefined &&
    (identity === undefined ||
      identity.clusterId !== expected.clusterId ||
      identity.nodeId !== expected.nodeId)
  ) {
    throw new StorageIdentityMismatchError(
      logDir,
      describeIdentity(identity),
      describeIdentity(expected),
    );
  }

  const hardStateValue = await db.get(HARD_STATE_KEY);
  const hardState =
    hardStateValue === undefined
      ? EMPTY_HARD_STATE
      : decodeOrCorrupt(logDir, HARD_STATE_KEY, hardStateValue, decodeHardState);
  const snapshot = await readRequired(db, logDir, SNAPSHOT_KEY, decodeSnapshotMetadata);
  const start = await readRequired(db, logDir, LOG_START_KEY, decodeLogPosition);

  // Entry keys at or below the compaction point are stale: a crash can interrupt the
  // unsynced clean-up that follows a compaction. They are never read; drop them now.
  await db.clear({ gte: ENTRY_RANGE_START, lte: entryKey(start.index) });
  const entries = await readEntries(db, logDir, start);

  if (snapshot.index > 0) {
    const info = snapshots.fileFor(snapshot.index, snapshot.term);
    const onDisk = options.verifySnapshot
      ? await snapshots.verify(info)
      : await snapshots.readMetadata(info);
    if (!confStateEqual(onDisk.confState, snapshot.confState)) {
      throw new StorageCorruptError(
        info.path,
        'the snapshot file’s membership differs from the one recorded in the log database',
        describeKey(SNAPSHOT_KEY),
      );
    }
    await snapshots.prune(info);
  } else {
    await snapshots.prune(undefined);
  }

  return { identity, hardState, snapshot, start, entries, created: false };
}

async function readEntries(
  db: LevelDatabase,
  logDir: string,
  start: LogPosition,
): Promise<Entry[]> {
  const entries: Entry[] = [];
  let expected = start.index + 1;
  const iterator = db.iterator({ gt: entryKey(start.index), lt: ENTRY_RANGE_END });
  try {
    for (;;) {
      const page = await iterator.nextv(1024);
      if (page.length === 0) break;
      for (const [key, value] of page) {
        const index = entryKeyIndex(key);
        if (index === undefined) {
          throw new StorageCorruptError(logDir, 'a malformed entry key', describeKey(key));
        }
        if (index !== expected) {
          throw new StorageCorruptError(
            logDir,
            `entries ${expected}..${index - 1} are missing (the log has a gap)`,
            describeKey(key),
          );
        }
        const entry = decodeOrCorrupt(logDir, key, value, decodeEntry);
        if (entry.index !== index) {
          throw new StorageCorruptError(
            logDir,
            `the value holds entry ${entry.index}`,
            describeKey(key),
          );
        }
        entries.push(entry);
        expected++;
      }
    }
  } finally {
    await iterator.close();
  }
  return entries;
}

async function initialize(
  db: LevelDatabase,
  snapshots: SnapshotStore,
  options: RecoveryOptions,
): Promise<RecoveredState> {
  const { logDir } = options;
  // No format record: this must be a brand-new database. Anything else means the record
  // was lost, and starting empty over the rest would forget votes and entries.
  const first = await db.keys({ limit: 1 }).all();
  if (first.length > 0) {
    throw new StorageCorruptError(
      logDir,
      'the format record is missing but the database holds data',
      describeKey(first[0]!),
    );
  }
  const files: SnapshotFileInfo[] = await snapshots.list();
  if (files.length > 0) {
    throw new StorageCorruptError(
      snapshots.dir,
      `snapshot files exist (${files.map((file) => file.path).join(', ')}) but the log database ` +
        'is empty; was the log directory deleted or replaced?',
    );
  }
  const snapshot: SnapshotMetadata = {
    index: 0,
    term: 0,
    confState: options.initialConfState ?? emptyConfState(),
  };
  const start: LogPosition = { index: 0, term: 0 };
  const operations = [
    { type: 'put' as const, key: SNAPSHOT_KEY, value: encodeSnapshotMetadata(snapshot) },
    { type: 'put' as const, key: LOG_START_KEY, value: encodeLogPosition(start) },
  ];
  if (options.identity !== undefined) {
    operations.push({ type: 'put', key: IDENTITY_KEY, value: encodeIdentity(options.identity) });
  }
  // The format record goes in the same batch, so a crash during creation leaves either a
  // complete store or an empty database that the next open creates again.
  operations.push({ type: 'put', key: FORMAT_KEY, value: encodeFormat(FORMAT_VERSION) });
  await db.batch(operations, { sync: options.sync });
  return {
    identity: options.identity,
    hardState: EMPTY_HARD_STATE,
    snapshot,
    start,
    entries: [],
    created: true,
  };
}
