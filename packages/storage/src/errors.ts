import { RaftError } from '@raftkit/core';

// Every storage error extends core's RaftError so a driver can treat "the store failed"
// uniformly (stop the node) while operators still get a specific `code` and a message
// that names the file or key and says what to do.

/**
 * StorageCorruptError: data on disk is damaged or inconsistent (a garbled value, a gap in
 * the log, a missing snapshot file). The store refuses to open rather than start from
 * partial state, because a node that forgets a vote or an acknowledged entry breaks Raft's
 * safety (§5.2, §5.4).
 */
export class StorageCorruptError extends RaftError {
  /** path is the file or directory that holds the damaged data. */
  readonly path: string;
  /** key describes the LevelDB key involved, when there is one. */
  readonly key: string | undefined;
  constructor(path: string, detail: string, key?: string) {
    super(
      'STORAGE_CORRUPT',
      `raft storage at ${path} is corrupt${key === undefined ? '' : ` (key ${key})`}: ${detail}. ` +
        'Do not delete the directory to "fix" it while this node is a voter: restore it from a ' +
        'backup, or remove this member from the cluster and add it back with an empty data dir.',
    );
    this.path = path;
    this.key = key;
  }
}

/**
 * StorageFormatError: the data dir was written by a storage format this version does not
 * read. Nothing is changed on disk.
 */
export class StorageFormatError extends RaftError {
  /** found is the format version recorded on disk. */
  readonly found: number;
  /** supported is the format version this build reads and writes. */
  readonly supported: number;
  constructor(path: string, found: number, supported: number) {
    const advice =
      found > supported
        ? 'it was written by a newer @raftkit/storage; upgrade this node'
        : 'it was written by an older @raftkit/storage; migrate it with that version first';
    super(
      'STORAGE_FORMAT',
      `raft storage at ${path} has format version ${found}, this build supports ${supported}: ${advice}`,
    );
    this.found = found;
    this.supported = supported;
  }
}

/**
 * StorageIdentityMismatchError: the data dir belongs to another cluster or another node
 * id. Starting on it would let one node impersonate another, so the store refuses.
 */
export class StorageIdentityMismatchError extends RaftError {
  constructor(path: string, stored: string, expected: string) {
    super(
      'STORAGE_IDENTITY_MISMATCH',
      `raft storage at ${path} belongs to ${stored}, but this node is ${expected}: ` +
        'point --data-dir at this node’s own directory (or an empty one for a new member)',
    );
  }
}

/**
 * SnapshotChecksumError: a snapshot file is truncated or its bytes do not match the
 * checksum written with it. Such a snapshot is never loaded.
 */
export class SnapshotChecksumError extends RaftError {
  /** path is the snapshot file that failed verification. */
  readonly path: string;
  constructor(path: string, detail: string) {
    super(
      'SNAPSHOT_CHECKSUM',
      `snapshot file ${path} failed verification (${detail}); it was not loaded. ` +
        'Restore the data dir from a backup, or re-add this member so the leader sends a fresh snapshot.',
    );
    this.path = path;
  }
}

/** StorageLockedError: another process (or another store in this one) has the data dir open. */
export class StorageLockedError extends RaftError {
  constructor(path: string) {
    super(
      'STORAGE_LOCKED',
      `raft storage at ${path} is already open in another process or store; ` +
        'stop the other node or use a different data dir',
    );
  }
}

/** StorageNotFoundError: the data dir holds no store and the caller asked not to create one. */
export class StorageNotFoundError extends RaftError {
  constructor(path: string) {
    super(
      'STORAGE_NOT_FOUND',
      `no raft storage at ${path}; check the data dir or allow creating a new store`,
    );
  }
}

/**
 * StorageFailedError: a write failed earlier (or the store was closed), so the durable
 * state is uncertain; every later write is refused and the node must stop (after an
 * fsync error the kernel may already have dropped the dirty pages, so retrying is unsafe).
 */
export class StorageFailedError extends RaftError {
  constructor(path: string, detail: string, options?: { cause?: unknown }) {
    super(
      'STORAGE_FAILED',
      `raft storage at ${path} cannot accept writes: ${detail}; restart the node`,
    );
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** InvalidLogUpdateError: a LogUpdate whose entries are not consecutive indexes. */
export class InvalidLogUpdateError extends RaftError {
  constructor(detail: string) {
    super('INVALID_LOG_UPDATE', `invalid log update: ${detail}`);
  }
}
