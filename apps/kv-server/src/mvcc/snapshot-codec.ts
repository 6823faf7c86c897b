import * as zlib from 'node:zlib';
import { MvccError } from './errors.js';
import { bytesToKeyString } from './key-bytes.js';
import { type Generation, KeyIndex, type RevisionEntry } from './key-index.js';
import { TreeIndex } from './tree-index.js';

/**
 * Snapshot format, version 2 (all integers unsigned LEB128 varints unless said):
 *
 *   magic "RKMV" (4 bytes) | format version (1 byte) | current revision |
 *   compacted revision + 1 | key count |
 *   per key, in key order: key length | key bytes | generation count |
 *     per generation: created | version | tombstone (0 = alive) | tombstone sub-revision |
 *       put count |
 *       per put: mod revision | sub-revision | value length | value bytes |
 *                lease (zigzag varint, int64)
 *   | CRC-32 (IEEE) of everything before it, 4 bytes little-endian
 *
 * Version 1 (still read) has no sub-revisions: they read as 0.
 *
 * A reader refuses an unknown magic or version, a bad checksum, and any structure a
 * store cannot produce (keys out of order, revisions going backwards, ...).
 */

/** SNAPSHOT_FORMAT_VERSION is the version byte {@link encodeSnapshot} writes. */
export const SNAPSHOT_FORMAT_VERSION = 2;

const MAGIC = [0x52, 0x4b, 0x4d, 0x56]; // "RKMV"
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** SnapshotState is what a snapshot holds: the index with its history and revisions. */
export interface SnapshotState {
  readonly currentRev: number;
  readonly compactRev: number;
  readonly index: TreeIndex;
}

/** encodeSnapshot writes `state` in the versioned binary format above. */
export function encodeSnapshot(state: SnapshotState): Uint8Array {
  const keys: KeyIndex[] = [];
  for (const [, ki] of state.index.entries()) keys.push(ki);
  const encoding = encodeSnapshotAt(keys, state.currentRev, state.compactRev, keys.length + 1);
  let step = encoding.next();
  while (step.done !== true) step = encoding.next();
  return step.value;
}

/**
 * encodeSnapshotAt encodes, in {@link encodeSnapshot}'s format, the state of `keys` as
 * of revision `atRev` while their histories may have grown past it (puts, deletes and
 * rolled-back txns only touch revisions above `atRev`; compaction must not run meanwhile,
 * see `MvccStore.capture`). It yields after every `sliceKeys` keys.
 */
export function* encodeSnapshotAt(
  keys: readonly KeyIndex[],
  atRev: number,
  compactRev: number,
  sliceKeys = 1000,
): Generator<void, Uint8Array, void> {
  const body = new Writer();
  let count = 0;
  for (let i = 0; i < keys.length; i++) {
    if (i > 0 && i % sliceKeys === 0) yield;
    const ki = keys[i] as KeyIndex;
    const generations = ki.generations;
    let live = 0;
    while (live < generations.length && (generations[live] as Generation).created <= atRev) live++;
    if (live === 0) continue;
    count++;
    body.bytes(ki.key);
    body.uint(live);
    for (let gi = 0; gi < live; gi++) {
      const g = generations[gi] as Generation;
      let puts = g.revs.length;
      while (puts > 0 && (g.revs[puts - 1] as RevisionEntry).mod > atRev) puts--;
      body.uint(g.created);
      body.uint(g.version - (g.revs.length - puts));
      const dead = g.tombstone !== 0 && g.tombstone <= atRev;
      body.uint(dead ? g.tombstone : 0);
      body.uint(dead ? g.tombstoneSub : 0);
      body.uint(puts);
      for (let ri = 0; ri < puts; ri++) {
        const e = g.revs[ri] as RevisionEntry;
        body.uint(e.mod);
        body.uint(e.sub);
        body.bytes(e.value);
        body.zigzag(e.lease);
      }
    }
  }
  const w = new Writer();
  for (const b of MAGIC) w.byte(b);
  w.byte(SNAPSHOT_FORMAT_VERSION);
  w.uint(atRev);
  w.uint(compactRev + 1);
  w.uint(count);
  w.append(body.view());
  const crc = crc32(w.view());
  w.byte(crc & 0xff);
  w.byte((crc >>> 8) & 0xff);
  w.byte((crc >>> 16) & 0xff);
  w.byte((crc >>> 24) & 0xff);
  return w.finish();
}

/** decodeSnapshot reads bytes written by {@link encodeSnapshot}; ErrCorruptSnapshot if bad. */
export function decodeSnapshot(bytes: Uint8Array): SnapshotState {
  if (bytes.length < MAGIC.length + 1 + 4) corrupt('too short');
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) corrupt('bad magic');
  const version = bytes[MAGIC.length];
  if (version !== SNAPSHOT_FORMAT_VERSION && version !== 1) {
    corrupt(`unknown format version ${String(version)}`);
  }
  const withSubs = version >= 2;
  const bodyEnd = bytes.length - 4;
  const stored =
    ((bytes[bodyEnd] as number) |
      ((bytes[bodyEnd + 1] as number) << 8) |
      ((bytes[bodyEnd + 2] as number) << 16) |
      ((bytes[bodyEnd + 3] as number) << 24)) >>>
    0;
  if (crc32(bytes.subarray(0, bodyEnd)) !== stored) corrupt('checksum mismatch');

  const r = new Reader(bytes.subarray(0, bodyEnd), MAGIC.length + 1);
  const currentRev = r.uint();
  const compactRev = r.uint() - 1;
  if (currentRev < 1 || compactRev > currentRev) corrupt('bad revisions');
  const keyCount = r.uint();
  const index = new TreeIndex();
  let prevKey: string | undefined;
  for (let n = 0; n < keyCount; n++) {
    const key = r.bytes();
    if (key.length === 0) corrupt('empty key');
    const k = bytesToKeyString(key);
    if (prevKey !== undefined && k <= prevKey) corrupt('keys out of order');
    prevKey = k;
    const genCount = r.uint();
    if (genCount === 0) corrupt('key without history');
    const generations: Generation[] = [];
    let lastRev = 0;
    for (let gi = 0; gi < genCount; gi++) {
      const created = r.uint();
      const version = r.uint();
      const tombstone = r.uint();
      const tombstoneSub = withSubs ? r.uint() : 0;
      const revCount = r.uint();
      if (revCount === 0 || version < revCount) corrupt('bad generation');
      if (tombstone === 0 && gi !== genCount - 1) corrupt('alive generation before the last');
      const revs: RevisionEntry[] = [];
      for (let ri = 0; ri < revCount; ri++) {
        const mod = r.uint();
        if (mod < lastRev || mod > currentRev || (ri === 0 && mod < created)) {
          corrupt('revisions out of order');
        }
        lastRev = mod;
        const sub = withSubs ? r.uint() : 0;
        revs.push({ mod, sub, value: r.bytes(), lease: r.zigzag() });
      }
      if (tombstone !== 0 && (tombstone < lastRev || tombstone > currentRev)) {
        corrupt('bad tombstone');
      }
      if (tombstone !== 0) lastRev = tombstone;
      generations.push({ created, version, revs, tombstone, tombstoneSub });
    }
    index.insert(k, new KeyIndex(key, generations));
  }
  if (!r.done()) corrupt('trailing bytes');
  return { currentRev, compactRev, index };
}

function corrupt(why: string): never {
  throw new MvccError('ErrCorruptSnapshot', why);
}

class Writer {
  private buf = new Uint8Array(1024);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  uint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`not a varint: ${v}`);
    this.reserve(8);
    let x = v;
    while (x >= 0x80) {
      this.buf[this.len++] = (x % 0x80) | 0x80;
      x = Math.floor(x / 0x80);
    }
    this.buf[this.len++] = x;
  }

  zigzag(v: bigint): void {
    if (v === 0n) {
      this.byte(0);
      return;
    }
    if (v < INT64_MIN || v > INT64_MAX) throw new RangeError(`lease out of int64 range: ${v}`);
    let x = v >= 0n ? v << 1n : (-v << 1n) - 1n;
    this.reserve(10);
    while (x >= 0x80n) {
      this.buf[this.len++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.buf[this.len++] = Number(x);
  }

  bytes(b: Uint8Array): void {
    this.uint(b.length);
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  append(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  view(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

class Reader {
  constructor(
    private readonly buf: Uint8Array,
    private pos: number,
  ) {}

  done(): boolean {
    return this.pos === this.buf.length;
  }

  private next(): number {
    const b = this.buf[this.pos++];
    if (b === undefined) corrupt('truncated');
    return b;
  }

  uint(): number {
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.next();
      v += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (!Number.isSafeInteger(v)) corrupt('varint too large');
        return v;
      }
      scale *= 0x80;
    }
    return corrupt('varint too long');
  }

  zigzag(): bigint {
    let x = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      const b = this.next();
      x |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) {
        const v = x & 1n ? -((x + 1n) >> 1n) : x >> 1n;
        if (v < INT64_MIN || v > INT64_MAX) corrupt('lease out of range');
        return v;
      }
      shift += 7n;
    }
    return corrupt('varint too long');
  }

  bytes(): Uint8Array {
    const n = this.uint();
    if (this.pos + n > this.buf.length) corrupt('truncated');
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

let CRC_TABLE: Uint32Array | undefined;

/**
 * crc32 computes the IEEE CRC-32 (zlib's) of `data`: with Node's native `zlib.crc32`
 * where it exists (Node ≥ 20.15; about 15× faster on a snapshot of a few MB), else in
 * JavaScript (`crc32Js`, the same value).
 */
export const crc32: (data: Uint8Array) => number =
  typeof zlib.crc32 === 'function' ? (data) => zlib.crc32(data) >>> 0 : crc32Js;

/** crc32Js is crc32 in JavaScript, table-driven. */
export function crc32Js(data: Uint8Array): number {
  let table = CRC_TABLE;
  if (table === undefined) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
    CRC_TABLE = table;
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) {
    crc = (table[(crc ^ (data[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}
