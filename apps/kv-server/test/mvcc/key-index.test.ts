import { describe, expect, it } from 'vitest';
import { KeyIndex } from '../../src/mvcc/key-index.js';
import { b } from './helpers.js';

const v = (n: number) => b(`v${n}`);

/** etcd's key_index.go example: put(1) put(2) tombstone(3) put(4) tombstone(5). */
function example(): KeyIndex {
  const ki = new KeyIndex(b('foo'));
  ki.put(1, v(1), 0n);
  ki.put(2, v(2), 0n);
  expect(ki.tombstone(3)).toBe(true);
  ki.put(4, v(4), 0n);
  expect(ki.tombstone(5)).toBe(true);
  return ki;
}

const brief = (ki: KeyIndex, rev: number) => {
  const kv = ki.get(rev);
  return kv && [kv.createRevision, kv.modRevision, kv.version];
};

describe('KeyIndex', () => {
  it('answers get at every revision', () => {
    const ki = example();
    expect([0, 1, 2, 3, 4, 5, 6].map((r) => brief(ki, r))).toEqual([
      undefined,
      [1, 1, 1],
      [1, 2, 2],
      undefined,
      [4, 4, 1],
      undefined,
      undefined,
    ]);
  });

  it('tombstone on a dead or empty key is refused', () => {
    const ki = example();
    expect(ki.tombstone(6)).toBe(false);
    expect(new KeyIndex(b('x')).tombstone(1)).toBe(false);
  });

  it('compacts as etcd: compact(2), (4), (5), (6)', () => {
    const ki = example();
    ki.compact(2);
    expect(ki.generations.map((g) => g.revs.map((e) => e.mod))).toEqual([[2], [4]]);
    expect(brief(ki, 2)).toEqual([1, 2, 2]);
    ki.compact(4);
    expect(ki.generations.map((g) => g.revs.map((e) => e.mod))).toEqual([[4]]);
    expect(brief(ki, 4)).toEqual([4, 4, 1]);
    ki.compact(5);
    expect(ki.isEmpty()).toBe(true);
    ki.compact(6);
    expect(ki.isEmpty()).toBe(true);
  });

  it('compaction keeps the created revision and the version count', () => {
    const ki = new KeyIndex(b('k'));
    for (let r = 1; r <= 5; r++) ki.put(r, v(r), 0n);
    ki.compact(4);
    expect(ki.generations[0]?.revs.map((e) => e.mod)).toEqual([4, 5]);
    expect(brief(ki, 4)).toEqual([1, 4, 4]);
    expect(brief(ki, 5)).toEqual([1, 5, 5]);
  });

  it('handles a delete and a re-create at the same revision (one txn)', () => {
    const ki = new KeyIndex(b('k'));
    ki.put(1, v(1), 0n);
    ki.tombstone(2);
    ki.put(2, v(2), 0n);
    expect(brief(ki, 1)).toEqual([1, 1, 1]);
    expect(brief(ki, 2)).toEqual([2, 2, 1]);
    ki.compact(2);
    expect(ki.generations).toHaveLength(1);
    expect(brief(ki, 2)).toEqual([2, 2, 1]);
  });

  it('handles a put and a delete at the same revision (one txn)', () => {
    const ki = new KeyIndex(b('k'));
    ki.put(1, v(1), 0n);
    ki.put(2, v(2), 0n);
    ki.tombstone(2);
    expect(brief(ki, 1)).toEqual([1, 1, 1]);
    expect(brief(ki, 2)).toBeUndefined();
  });

  it('rollback undoes every change at one revision', () => {
    const ki = new KeyIndex(b('k'));
    ki.put(1, v(1), 0n);
    ki.put(2, v(2), 0n);
    ki.tombstone(3);
    ki.put(3, v(3), 0n);
    ki.tombstone(3);
    ki.rollback(3);
    expect(ki.generations).toHaveLength(1);
    expect(ki.generations[0]?.tombstone).toBe(0);
    expect(brief(ki, 9)).toEqual([1, 2, 2]);
    ki.rollback(2);
    expect(brief(ki, 9)).toEqual([1, 1, 1]);
    ki.rollback(1);
    expect(ki.isEmpty()).toBe(true);
  });
});
