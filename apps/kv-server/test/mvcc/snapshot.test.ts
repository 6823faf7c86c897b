import { describe, expect, it } from 'vitest';
import { MvccStore, SNAPSHOT_FORMAT_VERSION } from '../../src/mvcc/index.js';
import { crc32, crc32Js } from '../../src/mvcc/snapshot-codec.js';
import { b, catchErr, plain } from './helpers.js';

const ZERO = new Uint8Array([0]);

/** sealed appends a hand-made snapshot body's CRC-32, little-endian, as the codec does. */
function sealed(body: readonly number[]): Uint8Array {
  const crc = crc32(new Uint8Array(body));
  return new Uint8Array([
    ...body,
    crc & 0xff,
    (crc >>> 8) & 0xff,
    (crc >>> 16) & 0xff,
    (crc >>> 24) & 0xff,
  ]);
}

function busyStore(): MvccStore {
  const st = new MvccStore();
  st.put({ key: b('a'), value: b('1'), lease: 0x7fffffffffffffffn });
  st.put({ key: b('a'), value: b('2'), lease: -0x8000000000000000n });
  st.put({ key: new Uint8Array([0xff, 0x00, 0x80]), value: new Uint8Array([0, 1, 2, 255]) });
  st.put({ key: b('b'), value: new Uint8Array(0), lease: 12345678901234n });
  st.deleteRange({ key: b('a') });
  st.put({ key: b('a'), value: b('3') });
  st.txn({
    success: [
      { requestPut: { key: b('t1'), value: b('x') } },
      { requestDeleteRange: { key: b('b') } },
    ],
  });
  st.put({ key: b('c'), value: new Uint8Array(5000).fill(7) });
  st.compact(4);
  st.put({ key: b('c'), value: b('small') });
  return st;
}

function allReads(st: MvccStore): unknown[] {
  const out: unknown[] = [];
  for (let rev = Math.max(1, st.compactRevision); rev <= st.revision; rev++) {
    out.push(st.range({ key: ZERO, rangeEnd: ZERO, revision: rev }).kvs.map(plain));
  }
  return out;
}

describe('snapshot', () => {
  it('round-trips an empty store', () => {
    const st = MvccStore.deserialize(new MvccStore().serialize());
    expect(st.revision).toBe(1);
    expect(st.compactRevision).toBe(-1);
    expect(st.keyCount).toBe(0);
    expect(st.put({ key: b('k'), value: b('v') }).revision).toBe(2);
  });

  it('round-trips state, history since compaction and revisions', () => {
    const st = busyStore();
    const copy = MvccStore.deserialize(st.serialize());
    expect(copy.revision).toBe(st.revision);
    expect(copy.compactRevision).toBe(4);
    expect(copy.keyCount).toBe(st.keyCount);
    expect(allReads(copy)).toEqual(allReads(st));
    expect(catchErr(() => copy.range({ key: b('a'), revision: 3 })).code).toBe('ErrCompacted');
    expect(copy.serialize()).toEqual(st.serialize());
  });

  it('a restored store goes on exactly like the original', () => {
    const st = busyStore();
    const copy = MvccStore.deserialize(st.serialize());
    for (const s of [st, copy]) {
      s.put({ key: b('a'), value: b('4'), prevKv: true });
      s.deleteRange({ key: b('a'), rangeEnd: b('c') });
      s.compact(s.revision - 1);
    }
    expect(copy.serialize()).toEqual(st.serialize());
    expect(allReads(copy)).toEqual(allReads(st));
  });

  it('is deterministic: the same history gives the same bytes', () => {
    expect(busyStore().serialize()).toEqual(busyStore().serialize());
  });

  it('starts with a magic and a format version', () => {
    const bytes = new MvccStore().serialize();
    expect(Array.from(bytes.subarray(0, 5))).toEqual([
      0x52,
      0x4b,
      0x4d,
      0x56,
      SNAPSHOT_FORMAT_VERSION,
    ]);
  });

  it('refuses a corrupted, truncated, foreign or future snapshot', () => {
    const good = busyStore().serialize();
    const flipped = good.slice();
    flipped[20] = (flipped[20] as number) ^ 0x01;
    const future = good.slice();
    future[4] = 3;
    const cases = [
      flipped,
      good.subarray(0, good.length - 1),
      good.subarray(0, 3),
      new Uint8Array(0),
      future,
      new TextEncoder().encode('{"json":true}'),
    ];
    for (const bytes of cases) {
      const err = catchErr(() => MvccStore.deserialize(bytes));
      expect(err.code).toBe('ErrCorruptSnapshot');
    }
  });

  it('refuses a well-checksummed snapshot with an impossible structure', () => {
    // version 1, current revision 1, compacted -1, one key of length 0 (empty key).
    const body = [0x52, 0x4b, 0x4d, 0x56, 1, 1, 0, 1, 0];
    const bytes = sealed(body);
    expect(catchErr(() => MvccStore.deserialize(bytes)).message).toContain('empty key');
  });

  it('reads a version-1 snapshot (no sub-revisions)', () => {
    // version 1, current revision 2, no compaction, key "a": one generation created at 2,
    // version 1, alive, one put at 2 of "x" without a lease.
    const body = [0x52, 0x4b, 0x4d, 0x56, 1, 2, 0, 1, 1, 0x61, 1, 2, 1, 0, 1, 2, 1, 0x78, 0];
    const bytes = sealed(body);
    const store = MvccStore.deserialize(bytes);
    expect(plain(store.range({ key: b('a') }).kvs[0])).toMatchObject({
      key: 'a',
      value: 'x',
      modRevision: 2,
    });
    expect(store.history(b('a'), undefined, 2, 2)).toHaveLength(1);
  });

  it('keeps the order of a txn’s changes (sub-revisions) for history replays', () => {
    const st = new MvccStore();
    st.put({ key: b('m'), value: b('0') });
    st.txn({
      compare: [],
      success: [
        { requestPut: { key: b('z'), value: b('1') } },
        { requestDeleteRange: { key: b('m') } },
        { requestPut: { key: b('a'), value: b('2') } },
      ],
      failure: [],
    });
    const order = (store: MvccStore) =>
      store
        .history(b('\0'), ZERO, 3, 3)
        .map((e) => `${e.type} ${new TextDecoder().decode(e.kv.key)}`);
    expect(order(st)).toEqual(['put z', 'delete m', 'put a']);
    expect(order(MvccStore.deserialize(st.serialize()))).toEqual(['put z', 'delete m', 'put a']);
  });

  it('computes the standard CRC-32, natively and in JavaScript alike', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32Js(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    const random = new Uint8Array(100_003).map((_, i) => (i * 2654435761) >>> 24);
    expect(crc32(random)).toBe(crc32Js(random));
    expect(crc32(new Uint8Array(0))).toBe(crc32Js(new Uint8Array(0)));
  });
});
