import { crc32 } from 'node:zlib';
import type {
  ConfState,
  Entry,
  EntryType,
  HardState,
  NodeId,
  SnapshotMetadata,
} from '@raftkit/core';

// Binary value encoding. Every value is `[crc32 u32][tag u8][payload]`, big-endian, with
// the CRC over everything after it. LevelDB checksums its own blocks, but only when asked
// to and not against a value written under the wrong key; the CRC plus the tag byte let
// recovery tell a garbled or misplaced value from a good one and refuse it by name. JSON is
// avoided on the hot path: an entry is a 22-byte header followed by its data.

/** FORMAT_VERSION is the on-disk format this build reads and writes. */
export const FORMAT_VERSION = 1;

/** ValueTag says which record a value holds, so a value under the wrong key is detected. */
export const ValueTag = {
  entry: 1,
  hardState: 2,
  snapshot: 3,
  logStart: 4,
  identity: 5,
  format: 6,
} as const;

/** ENTRY_HEADER_BYTES is the fixed part of an encoded entry: crc, tag, type, index, term. */
export const ENTRY_HEADER_BYTES = 22;

const TWO_POW_32 = 0x1_0000_0000;
const PREFIX_BYTES = 5; // crc32 + tag

/** CorruptValueError: a value failed to decode; the store rethrows it as StorageCorruptError. */
export class CorruptValueError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'CorruptValueError';
  }
}

/** LogPosition names one log slot by index and term (the compaction point, for instance). */
export interface LogPosition {
  readonly index: number;
  readonly term: number;
}

/** StoreIdentity names the cluster and the node a data dir belongs to. */
export interface StoreIdentity {
  readonly clusterId: string;
  readonly nodeId: NodeId;
}

const ENTRY_TYPES: readonly EntryType[] = ['normal', 'confChange'];

function writeU64(buffer: Buffer, value: number, offset: number): void {
  buffer.writeUInt32BE(Math.floor(value / TWO_POW_32), offset);
  buffer.writeUInt32BE(value >>> 0, offset + 4);
}

function readU64(buffer: Buffer, offset: number): number {
  const high = buffer.readUInt32BE(offset);
  if (high >= 0x20_0000) throw new CorruptValueError('a 64-bit number exceeds 2^53');
  return high * TWO_POW_32 + buffer.readUInt32BE(offset + 4);
}

function seal(buffer: Buffer, tag: number): Buffer {
  buffer[4] = tag;
  buffer.writeUInt32BE(crc32(buffer.subarray(4)), 0);
  return buffer;
}

/** open checks the CRC and tag of `value` and returns it as a Buffer over the same bytes. */
function open(value: Uint8Array, tag: number, minBytes: number): Buffer {
  const buffer = Buffer.isBuffer(value)
    ? value
    : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (buffer.byteLength < PREFIX_BYTES + minBytes) {
    throw new CorruptValueError(`value is ${buffer.byteLength} bytes, too short for its record`);
  }
  if (buffer.readUInt32BE(0) !== crc32(buffer.subarray(4))) {
    throw new CorruptValueError('checksum mismatch');
  }
  if (buffer[4] !== tag) {
    throw new CorruptValueError(`record tag ${buffer[4]} where ${tag} was expected`);
  }
  return buffer;
}

/** encodeEntry encodes an entry: header (type, index, term) then its data, unframed. */
export function encodeEntry(entry: Entry): Buffer {
  const data = entry.data;
  const buffer = Buffer.allocUnsafe(ENTRY_HEADER_BYTES + data.byteLength);
  buffer[5] = entry.type === 'normal' ? 0 : 1;
  writeU64(buffer, entry.index, 6);
  writeU64(buffer, entry.term, 14);
  buffer.set(data, ENTRY_HEADER_BYTES);
  return seal(buffer, ValueTag.entry);
}

/**
 * decodeEntry decodes an entry. Its data is a view of `value` (no copy), as a plain
 * Uint8Array so callers never see Buffer-specific behaviour.
 */
export function decodeEntry(value: Uint8Array): Entry {
  const buffer = open(value, ValueTag.entry, ENTRY_HEADER_BYTES - PREFIX_BYTES);
  const type = ENTRY_TYPES[buffer[5]!];
  if (type === undefined) throw new CorruptValueError(`unknown entry type ${buffer[5]}`);
  return {
    type,
    index: readU64(buffer, 6),
    term: readU64(buffer, 14),
    data: new Uint8Array(
      buffer.buffer,
      buffer.byteOffset + ENTRY_HEADER_BYTES,
      buffer.byteLength - ENTRY_HEADER_BYTES,
    ),
  };
}

/** encodeHardState encodes term, vote and commit as three u64s. */
export function encodeHardState(hardState: HardState): Buffer {
  const buffer = Buffer.allocUnsafe(PREFIX_BYTES + 24);
  writeU64(buffer, hardState.term, 5);
  writeU64(buffer, hardState.vote, 13);
  writeU64(buffer, hardState.commit, 21);
  return seal(buffer, ValueTag.hardState);
}

/** decodeHardState decodes a value written by encodeHardState. */
export function decodeHardState(value: Uint8Array): HardState {
  const buffer = open(value, ValueTag.hardState, 24);
  return { term: readU64(buffer, 5), vote: readU64(buffer, 13), commit: readU64(buffer, 21) };
}

/** encodeLogPosition encodes an index and a term (used for the compaction point). */
export function encodeLogPosition(position: LogPosition): Buffer {
  const buffer = Buffer.allocUnsafe(PREFIX_BYTES + 16);
  writeU64(buffer, position.index, 5);
  writeU64(buffer, position.term, 13);
  return seal(buffer, ValueTag.logStart);
}

/** decodeLogPosition decodes a value written by encodeLogPosition. */
export function decodeLogPosition(value: Uint8Array): LogPosition {
  const buffer = open(value, ValueTag.logStart, 16);
  return { index: readU64(buffer, 5), term: readU64(buffer, 13) };
}

function confStateLists(confState: ConfState): readonly (readonly NodeId[])[] {
  return [confState.voters, confState.learners, confState.votersOutgoing, confState.learnersNext];
}

/**
 * encodeSnapshotMetadata encodes index, term and the ConfState (four id lists, each a u32
 * count then u64 ids, then the autoLeave flag).
 */
export function encodeSnapshotMetadata(metadata: SnapshotMetadata): Buffer {
  const lists = confStateLists(metadata.confState);
  let size = PREFIX_BYTES + 16 + 1;
  for (const list of lists) size += 4 + 8 * list.length;
  const buffer = Buffer.allocUnsafe(size);
  writeU64(buffer, metadata.index, 5);
  writeU64(buffer, metadata.term, 13);
  let offset = 21;
  for (const list of lists) {
    buffer.writeUInt32BE(list.length, offset);
    offset += 4;
    for (const id of list) {
      writeU64(buffer, id, offset);
      offset += 8;
    }
  }
  buffer[offset] = metadata.confState.autoLeave ? 1 : 0;
  return seal(buffer, ValueTag.snapshot);
}

/** decodeSnapshotMetadata decodes a value written by encodeSnapshotMetadata. */
export function decodeSnapshotMetadata(value: Uint8Array): SnapshotMetadata {
  const buffer = open(value, ValueTag.snapshot, 17);
  let offset = 21;
  const lists: NodeId[][] = [];
  for (let list = 0; list < 4; list++) {
    if (offset + 4 > buffer.byteLength) throw new CorruptValueError('conf state is truncated');
    const count = buffer.readUInt32BE(offset);
    offset += 4;
    if (offset + 8 * count > buffer.byteLength) {
      throw new CorruptValueError('conf state is truncated');
    }
    const ids: NodeId[] = [];
    for (let i = 0; i < count; i++) {
      ids.push(readU64(buffer, offset));
      offset += 8;
    }
    lists.push(ids);
  }
  if (offset + 1 !== buffer.byteLength)
    throw new CorruptValueError('conf state has trailing bytes');
  const [voters = [], learners = [], votersOutgoing = [], learnersNext = []] = lists;
  return {
    index: readU64(buffer, 5),
    term: readU64(buffer, 13),
    confState: { voters, learners, votersOutgoing, learnersNext, autoLeave: buffer[offset] === 1 },
  };
}

/** encodeIdentity encodes a node id (u64) and a UTF-8 cluster id. */
export function encodeIdentity(identity: StoreIdentity): Buffer {
  const cluster = Buffer.from(identity.clusterId, 'utf8');
  const buffer = Buffer.allocUnsafe(PREFIX_BYTES + 8 + cluster.byteLength);
  writeU64(buffer, identity.nodeId, 5);
  buffer.set(cluster, 13);
  return seal(buffer, ValueTag.identity);
}

/** decodeIdentity decodes a value written by encodeIdentity. */
export function decodeIdentity(value: Uint8Array): StoreIdentity {
  const buffer = open(value, ValueTag.identity, 8);
  return { nodeId: readU64(buffer, 5), clusterId: buffer.subarray(13).toString('utf8') };
}

/** encodeFormat encodes a format version as a u32. */
export function encodeFormat(version: number): Buffer {
  const buffer = Buffer.allocUnsafe(PREFIX_BYTES + 4);
  buffer.writeUInt32BE(version, 5);
  return seal(buffer, ValueTag.format);
}

/** decodeFormat decodes a value written by encodeFormat. */
export function decodeFormat(value: Uint8Array): number {
  return open(value, ValueTag.format, 4).readUInt32BE(5);
}

/** confStateEqual compares two ConfStates member list by member list. */
export function confStateEqual(a: ConfState, b: ConfState): boolean {
  const left = confStateLists(a);
  const right = confStateLists(b);
  for (let i = 0; i < left.length; i++) {
    const x = left[i]!;
    const y = right[i]!;
    if (x.length !== y.length || x.some((id, j) => id !== y[j])) return false;
  }
  return a.autoLeave === b.autoLeave;
}
