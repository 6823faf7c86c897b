import { describe, expect, it } from 'vitest';
import { MvccStore } from '../../src/mvcc/index.js';
import { b, s } from './helpers.js';

// The store copies the bytes of a put unless the caller owns them for good (`owned`),
// and even then copies bytes that would pin a much larger buffer.

function stored(st: MvccStore, key: string): Uint8Array {
  const kv = st.range({ key: b(key) }).kvs[0];
  if (kv === undefined) throw new Error(`no ${key}`);
  return kv.value;
}

describe('MvccStore keeps or copies put bytes', () => {
  it('copies a Buffer (whose slice would be a view) when not owned', () => {
    const st = new MvccStore();
    const key = Buffer.from('k');
    const value = Buffer.from('value');
    st.put({ key, value });
    key[0] = 0x7a;
    value[0] = 0x7a;
    expect(s(stored(st, 'k'))).toBe('value');
    expect(stored(st, 'k').buffer).not.toBe(value.buffer);
  });

  it('keeps owned bytes that are (nearly) their whole buffer', () => {
    const st = new MvccStore();
    const entry = new Uint8Array(300);
    entry.fill(0x61, 40);
    const value = entry.subarray(40); // 260 bytes of a 300-byte entry
    st.put({ key: b('k'), value, owned: true });
    expect(stored(st, 'k')).toBe(value);
  });

  it('copies owned bytes that would pin a much larger buffer', () => {
    const st = new MvccStore();
    const batch = new Uint8Array(64 * 1024);
    batch.fill(0x62, 1000, 1256);
    const value = batch.subarray(1000, 1256);
    const key = batch.subarray(900, 908);
    st.put({ key, value, owned: true });
    const kept = stored(st, '\0\0\0\0\0\0\0\0');
    expect(kept).not.toBe(value);
    expect(kept.buffer.byteLength).toBe(256);
    expect(Buffer.from(kept).equals(Buffer.from(value))).toBe(true);
    // The key too: the index holds its own copy.
    const kv = st.range({ key: new Uint8Array(8) }).kvs[0]!;
    expect(kv.key.buffer.byteLength).toBe(8);
  });

  it('copies the key only when the key is new', () => {
    const st = new MvccStore();
    st.put({ key: b('k'), value: b('1') });
    const first = st.range({ key: b('k') }).kvs[0]!.key;
    st.put({ key: b('k'), value: b('2') });
    expect(st.range({ key: b('k') }).kvs[0]!.key).toBe(first);
  });

  it('finds keys after compaction removed some and a rolled-back txn added none', () => {
    const st = new MvccStore();
    st.put({ key: b('a'), value: b('1') });
    st.put({ key: b('b'), value: b('1') });
    st.deleteRange({ key: b('a') });
    st.compact(st.revision);
    expect(st.keyCount).toBe(1);
    expect(st.range({ key: b('a') }).kvs).toEqual([]);
    // A txn that fails after its first put leaves no trace of the new key.
    expect(() =>
      st.txn({
        success: [
          { requestPut: { key: b('new'), value: b('x') } },
          { requestPut: { key: b('c'), ignoreValue: true } },
        ],
      }),
    ).toThrow();
    expect(st.keyCount).toBe(1);
    expect(st.range({ key: b('new') }).kvs).toEqual([]);
    st.put({ key: b('new'), value: b('y') });
    expect(s(stored(st, 'new'))).toBe('y');
    expect(st.range({ key: b('a'), rangeEnd: b('z') }).count).toBe(2);
  });
});
