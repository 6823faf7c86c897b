import type { Entry } from '@raftkit/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CorruptValueError,
  decodeEntry,
  decodeFormat,
  decodeHardState,
  decodeIdentity,
  decodeLogPosition,
  decodeSnapshotMetadata,
  encodeEntry,
  encodeFormat,
  encodeHardState,
  encodeIdentity,
  encodeLogPosition,
  encodeSnapshotMetadata,
} from '../src/codec.js';
import { describeKey, entryKey, entryKeyIndex, HARD_STATE_KEY } from '../src/keys.js';
import { plain } from './temp-dirs.js';

const safeIndex = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const arbitraryEntry: fc.Arbitrary<Entry> = fc.record({
  index: safeIndex,
  term: safeIndex,
  type: fc.constantFrom('normal' as const, 'confChange' as const),
  data: fc.uint8Array({ maxLength: 300 }),
});
const ids = fc.array(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), { maxLength: 7 });

describe('entry keys', () => {
  it('sort bytewise in index order, across the whole safe-integer range', () => {
    fc.assert(
      fc.property(safeIndex, safeIndex, (a, b) => {
        const order = Math.sign(Buffer.compare(entryKey(a), entryKey(b)));
        expect(order).toBe(Math.sign(a - b));
      }),
    );
  });

  it('decode back to their index and name themselves in errors', () => {
    fc.assert(fc.property(safeIndex, (index) => entryKeyIndex(entryKey(index)) === index));
    expect(describeKey(entryKey(42))).toBe('entry 42');
    expect(describeKey(HARD_STATE_KEY)).toBe('meta hard-state');
    expect(entryKeyIndex(HARD_STATE_KEY)).toBeUndefined();
  });
});

describe('value codec', () => {
  it('round-trips entries with a fixed 22-byte header', () => {
    fc.assert(
      fc.property(arbitraryEntry, (value) => {
        const encoded = encodeEntry(value);
        expect(encoded.byteLength).toBe(22 + value.data.byteLength);
        expect(plain(decodeEntry(encoded))).toEqual(plain(value));
      }),
    );
  });

  it('round-trips hard state, log position, identity, format and snapshot metadata', () => {
    fc.assert(
      fc.property(
        safeIndex,
        safeIndex,
        safeIndex,
        ids,
        ids,
        ids,
        ids,
        fc.boolean(),
        fc.string(),
        (
          term,
          vote,
          commit,
          voters,
          learners,
          votersOutgoing,
          learnersNext,
          autoLeave,
          clusterId,
        ) => {
          expect(decodeHardState(encodeHardState({ term, vote, commit }))).toEqual({
            term,
            vote,
            commit,
          });
          expect(decodeLogPosition(encodeLogPosition({ index: commit, term }))).toEqual({
            index: commit,
            term,
          });
          expect(decodeIdentity(encodeIdentity({ clusterId, nodeId: vote }))).toEqual({
            clusterId,
            nodeId: vote,
          });
          const metadata = {
            index: commit,
            term,
            confState: { voters, learners, votersOutgoing, learnersNext, autoLeave },
          };
          expect(decodeSnapshotMetadata(encodeSnapshotMetadata(metadata))).toEqual(metadata);
        },
      ),
    );
    expect(decodeFormat(encodeFormat(1))).toBe(1);
  });

  it('detects every single-bit flip in an entry value', () => {
    const encoded = encodeEntry({
      index: 7,
      term: 3,
      type: 'normal',
      data: new Uint8Array([1, 2, 3, 4]),
    });
    for (let bit = 0; bit < encoded.byteLength * 8; bit++) {
      const damaged = Buffer.from(encoded);
      damaged[bit >> 3]! ^= 1 << (bit & 7);
      expect(() => decodeEntry(damaged), `bit ${bit}`).toThrow(CorruptValueError);
    }
  });

  it('refuses a truncated value and a value of another record kind', () => {
    const encoded = encodeHardState({ term: 1, vote: 2, commit: 3 });
    expect(() => decodeHardState(encoded.subarray(0, 20))).toThrow(/too short/);
    expect(() => decodeEntry(encoded)).toThrow(CorruptValueError);
    expect(() => decodeLogPosition(encodeHardState({ term: 1, vote: 0, commit: 0 }))).toThrow(
      /record tag/,
    );
  });
});
