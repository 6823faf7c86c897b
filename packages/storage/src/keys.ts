// The LevelDB key layout. One byte of prefix separates metadata from entries so that a
// range scan over entries never meets a metadata key, and entry keys carry the index as
// fixed-width big-endian so LevelDB's bytewise order is index order.

/** META_PREFIX starts every metadata key (format, identity, hard state, snapshot, log start). */
export const META_PREFIX = 0x01;

/** ENTRY_PREFIX starts every log entry key: the prefix byte, then the index as a u64. */
export const ENTRY_PREFIX = 0x02;

/** ENTRY_KEY_BYTES is the length of an entry key. */
export const ENTRY_KEY_BYTES = 9;

function metaKey(name: string): Buffer {
  return Buffer.concat([Buffer.from([META_PREFIX]), Buffer.from(name, 'latin1')]);
}

/** FORMAT_KEY holds the storage format version; its absence means "no store here yet". */
export const FORMAT_KEY: Buffer = metaKey('format');

/** IDENTITY_KEY holds the cluster id and node id the store was created for. */
export const IDENTITY_KEY: Buffer = metaKey('identity');

/** HARD_STATE_KEY holds the last saved HardState (term, vote, commit). */
export const HARD_STATE_KEY: Buffer = metaKey('hard-state');

/** SNAPSHOT_KEY holds the metadata of the latest snapshot (its file lives in `snap/`). */
export const SNAPSHOT_KEY: Buffer = metaKey('snapshot');

/**
 * LOG_START_KEY holds the index and term of the compaction point: the entry just before
 * the first stored one. Entry keys at or below it are stale and ignored.
 */
export const LOG_START_KEY: Buffer = metaKey('log-start');

/** ENTRY_RANGE_START is the smallest possible entry key (inclusive bound for scans). */
export const ENTRY_RANGE_START: Buffer = Buffer.from([ENTRY_PREFIX]);

/** ENTRY_RANGE_END is the first key after every entry key (exclusive bound for scans). */
export const ENTRY_RANGE_END: Buffer = Buffer.from([ENTRY_PREFIX + 1]);

const TWO_POW_32 = 0x1_0000_0000;

/** entryKey returns the key of the entry at `index` (a non-negative safe integer). */
export function entryKey(index: number): Buffer {
  const key = Buffer.allocUnsafe(ENTRY_KEY_BYTES);
  key[0] = ENTRY_PREFIX;
  // Two 32-bit halves: cheaper than BigInt and exact for every safe integer.
  key.writeUInt32BE(Math.floor(index / TWO_POW_32), 1);
  key.writeUInt32BE(index >>> 0, 5);
  return key;
}

/** entryKeyIndex decodes an entry key, or returns undefined when `key` is not one. */
export function entryKeyIndex(key: Uint8Array): number | undefined {
  if (key.byteLength !== ENTRY_KEY_BYTES || key[0] !== ENTRY_PREFIX) return undefined;
  const view = new DataView(key.buffer, key.byteOffset, key.byteLength);
  const high = view.getUint32(1);
  if (high >= 0x20_0000) return undefined; // beyond Number.MAX_SAFE_INTEGER
  return high * TWO_POW_32 + view.getUint32(5);
}

/** describeKey renders a key for error messages: `entry 42`, `meta hard-state`, or hex. */
export function describeKey(key: Uint8Array): string {
  const index = entryKeyIndex(key);
  if (index !== undefined) return `entry ${index}`;
  if (key[0] === META_PREFIX) return `meta ${Buffer.from(key.subarray(1)).toString('latin1')}`;
  return `0x${Buffer.from(key).toString('hex')}`;
}
