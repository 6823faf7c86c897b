import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bytesToKeyString,
  compareBytes,
  keyStringToBytes,
  prefixRangeEnd,
} from '../../src/mvcc/index.js';
import { resolveRange } from '../../src/mvcc/key-bytes.js';

const bytes = fc.uint8Array({ maxLength: 12 });

describe('key bytes', () => {
  it('string form sorts exactly like unsigned bytes', () => {
    fc.assert(
      fc.property(bytes, bytes, (a, c) => {
        const sa = bytesToKeyString(a);
        const sc = bytesToKeyString(c);
        const byString = sa < sc ? -1 : sa > sc ? 1 : 0;
        expect(byString).toBe(compareBytes(a, c));
      }),
    );
  });

  it('string form round-trips, also for keys longer than one conversion chunk', () => {
    fc.assert(
      fc.property(bytes, (a) => {
        expect(keyStringToBytes(bytesToKeyString(a))).toEqual(a);
      }),
    );
    const long = new Uint8Array(50_000).map((_, i) => i % 256);
    expect(keyStringToBytes(bytesToKeyString(long))).toEqual(long);
  });

  it('compareBytes is Go bytes.Compare', () => {
    expect(compareBytes(new Uint8Array([1]), new Uint8Array([1, 0]))).toBe(-1);
    expect(compareBytes(new Uint8Array([0x80]), new Uint8Array([0x7f]))).toBe(1);
    expect(compareBytes(new Uint8Array([]), new Uint8Array([]))).toBe(0);
  });

  it('prefixRangeEnd bounds exactly the keys with the prefix', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 4 }), bytes, (prefix, other) => {
        const end = prefixRangeEnd(prefix);
        const hasPrefix =
          other.length >= prefix.length &&
          compareBytes(other.subarray(0, prefix.length), prefix) === 0;
        const fromKey = end.length === 1 && end[0] === 0;
        const inRange =
          compareBytes(other, prefix) >= 0 && (fromKey || compareBytes(other, end) < 0);
        expect(inRange).toBe(hasPrefix);
      }),
    );
  });

  it('resolveRange follows etcd: empty end = one key, "\\0" = open end', () => {
    const k = new Uint8Array([0x61]);
    expect(resolveRange(k, undefined)).toEqual({ single: true, key: 'a' });
    expect(resolveRange(k, new Uint8Array(0))).toEqual({ single: true, key: 'a' });
    expect(resolveRange(k, new Uint8Array([0]))).toEqual({
      single: false,
      start: 'a',
      end: undefined,
    });
    expect(resolveRange(k, new Uint8Array([0, 0]))).toEqual({
      single: false,
      start: 'a',
      end: '\u0000\u0000',
    });
  });
});
