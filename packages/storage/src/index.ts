/**
 * @raftkit/storage: a durable LogStore for @raftkit/core on LevelDB (classic-level), and a
 * store of checksummed snapshot files. See the package README for the on-disk format and
 * the durability guarantees.
 */
export type { LogPosition, StoreIdentity } from './codec.js';
export { FORMAT_VERSION } from './codec.js';
export {
  InvalidLogUpdateError,
  SnapshotChecksumError,
  StorageCorruptError,
  StorageFailedError,
  StorageFormatError,
  StorageIdentityMismatchError,
  StorageLockedError,
  StorageNotFoundError,
} from './errors.js';
export { LevelLogStore, type LevelLogStoreOptions } from './level-log-store.js';
export {
  type SnapshotFileInfo,
  type SnapshotSource,
  SnapshotStore,
  type SnapshotStoreOptions,
} from './snapshot-store.js';
