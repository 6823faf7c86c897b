import { describe, expect, it } from 'vitest';
import { MvccStore } from '../../src/mvcc/index.js';
import { b, catchErr, keys, plain } from './helpers.js';

const ZERO = new Uint8Array([0]);

/**
 * a: put 2, put 3, delete 4, put 5      b: put 6, delete 7      c: put 8, put 9
 */
function history(): MvccStore {
  const st = new MvccStore();
  st.put({ key: b('a'), value: b('a1') }); // 2
  st.put({ key: b('a'), value: b('a2') }); // 3
  st.deleteRange({ key: b('a') }); // 4
  st.put({ key: b('a'), value: b('a3') }); // 5
  st.put({ key: b('b'), value: b('b1') }); // 6
  st.deleteRange({ key: b('b') }); // 7
  st.put({ key: b('c'), value: b('c1') }); // 8
  st.put({ key: b('c'), value: b('c2') }); // 9
  return st;
}

function snapshotOfReads(st: MvccStore, from: number): unknown[] {
  const out: unknown[] = [];
  for (let rev = from; rev <= st.revision; rev++) {
    out.push(st.range({ key: ZERO, rangeEnd: ZERO, revision: rev }).kvs.map(plain));
  }
  return out;
}

describe('compact', () => {
  it('errors: not above the last compaction, or in the future', () => {
    const st = history();
    const fut = catchErr(() => st.compact(10));
    expect([fut.code, fut.grpcCode]).toEqual(['ErrFutureRev', 11]);
    expect(st.compact(5)).toEqual({ revision: 9 });
    expect(st.compactRevision).toBe(5);
    for (const rev of [5, 4, 1]) {
      const err = catchErr(() => st.compact(rev));
      expect(err.code).toBe('ErrCompacted');
      expect(err.message).toBe('etcdserver: mvcc: required revision has been compacted');
    }
    expect(st.compact(9).revision).toBe(9);
  });

  it('a fresh store compacts at revision 1 (its compacted revision starts at -1, as etcd)', () => {
    const st = new MvccStore();
    expect(st.compact(1)).toEqual({ revision: 1 });
    expect(catchErr(() => st.compact(1)).code).toBe('ErrCompacted');
  });

  it('does not change the revision', () => {
    const st = history();
    st.compact(9);
    expect(st.revision).toBe(9);
    expect(st.put({ key: b('z'), value: b('1') }).revision).toBe(10);
  });

  it('leaves every read at or after the compacted revision unchanged', () => {
    for (let at = 1; at <= 9; at++) {
      const st = history();
      const before = snapshotOfReads(st, at);
      st.compact(at);
      expect(snapshotOfReads(st, at)).toEqual(before);
    }
  });

  it('makes reads below the compacted revision fail', () => {
    const st = history();
    st.compact(6);
    for (const revision of [1, 2, 5]) {
      expect(catchErr(() => st.range({ key: b('a'), revision })).code).toBe('ErrCompacted');
    }
    expect(st.range({ key: b('a'), revision: 6 }).count).toBe(1);
    // Revision 0 still means "current".
    expect(st.range({ key: b('a'), revision: 0 }).count).toBe(1);
  });

  it('drops keys whose last change is a delete at or before the revision', () => {
    const st = history();
    expect(st.keyCount).toBe(3);
    st.compact(6);
    expect(st.keyCount).toBe(3); // b is still alive at 6
    st.compact(7);
    expect(st.keyCount).toBe(2); // b deleted at 7: gone
    expect(keys(st.range({ key: ZERO, rangeEnd: ZERO }).kvs)).toEqual(['a', 'c']);
  });

  it('keeps create revision and version of a key whose creating put is compacted away', () => {
    const st = history();
    st.compact(9);
    expect(plain(st.range({ key: b('c') }).kvs[0])).toMatchObject({
      createRevision: 8,
      modRevision: 9,
      version: 2,
    });
    st.put({ key: b('c'), value: b('c3') });
    expect(plain(st.range({ key: b('c') }).kvs[0])).toMatchObject({
      createRevision: 8,
      modRevision: 10,
      version: 3,
    });
  });

  it('shrinks what is kept, so snapshots get smaller', () => {
    const st = new MvccStore();
    for (let i = 0; i < 200; i++) st.put({ key: b('k'), value: new Uint8Array(100).fill(i) });
    const before = st.serialize().length;
    st.compact(st.revision);
    const after = st.serialize().length;
    expect(after).toBeLessThan(before / 50);
    expect(st.range({ key: b('k') }).kvs[0]?.version).toBe(200);
  });

  it('a re-created key keeps only its new life', () => {
    const st = history();
    st.compact(5);
    expect(plain(st.range({ key: b('a'), revision: 5 }).kvs[0])).toMatchObject({
      value: 'a3',
      createRevision: 5,
      version: 1,
    });
    expect(st.deleteRange({ key: b('a'), prevKv: true }).prevKvs.map(plain)).toEqual([
      { key: 'a', value: 'a3', createRevision: 5, modRevision: 5, version: 1, lease: 0n },
    ]);
  });
});
