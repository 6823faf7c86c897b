import { describe, expect, it } from 'vitest';
import {
  MvccStore,
  prefixRangeEnd,
  type RangeRequest,
  SortOrder,
  SortTarget,
} from '../../src/mvcc/index.js';
import { b, catchErr, keys, plain } from './helpers.js';

const ZERO = new Uint8Array([0]);

function prefixStore(): MvccStore {
  const st = new MvccStore();
  for (const k of ['fo', 'foo', 'foo/a', 'foo/b', 'fop', 'g']) st.put({ key: b(k), value: b(k) });
  return st;
}

describe('range selection', () => {
  it('a single key, present or not', () => {
    const st = prefixStore();
    expect(keys(st.range({ key: b('foo') }).kvs)).toEqual(['foo']);
    expect(st.range({ key: b('foo') }).count).toBe(1);
    expect(st.range({ key: b('fooo') })).toEqual({ revision: 7, kvs: [], more: false, count: 0 });
  });

  it('an empty range_end means the single key', () => {
    const st = prefixStore();
    expect(keys(st.range({ key: b('foo'), rangeEnd: new Uint8Array(0) }).kvs)).toEqual(['foo']);
  });

  it('a prefix: range_end is the key with its last byte + 1', () => {
    const st = prefixStore();
    expect(prefixRangeEnd(b('foo'))).toEqual(b('fop'));
    const resp = st.range({ key: b('foo'), rangeEnd: prefixRangeEnd(b('foo')) });
    expect(keys(resp.kvs)).toEqual(['foo', 'foo/a', 'foo/b']);
    expect(resp.count).toBe(3);
  });

  it('a prefix ending in 0xff bytes increments the last byte below 0xff', () => {
    expect(prefixRangeEnd(new Uint8Array([0x61, 0xff, 0xff]))).toEqual(new Uint8Array([0x62]));
    expect(prefixRangeEnd(new Uint8Array([0xff, 0xff]))).toEqual(ZERO);
    const st = new MvccStore();
    st.put({ key: new Uint8Array([0x61, 0xff]), value: b('1') });
    st.put({ key: new Uint8Array([0x61, 0xff, 0x01]), value: b('2') });
    st.put({ key: new Uint8Array([0x62]), value: b('3') });
    const key = new Uint8Array([0x61, 0xff]);
    expect(st.range({ key, rangeEnd: prefixRangeEnd(key) }).count).toBe(2);
  });

  it('range_end "\\0" means every key >= key', () => {
    const st = prefixStore();
    expect(keys(st.range({ key: b('foo/'), rangeEnd: ZERO }).kvs)).toEqual([
      'foo/a',
      'foo/b',
      'fop',
      'g',
    ]);
  });

  it('key "\\0" with range_end "\\0" means all keys', () => {
    const st = prefixStore();
    const resp = st.range({ key: ZERO, rangeEnd: ZERO });
    expect(keys(resp.kvs)).toEqual(['fo', 'foo', 'foo/a', 'foo/b', 'fop', 'g']);
    expect(resp.count).toBe(6);
  });

  it('a half-open interval excludes range_end; an inverted one is empty', () => {
    const st = prefixStore();
    expect(keys(st.range({ key: b('foo'), rangeEnd: b('foo/b') }).kvs)).toEqual(['foo', 'foo/a']);
    expect(st.range({ key: b('g'), rangeEnd: b('a') }).count).toBe(0);
    expect(st.range({ key: b('g'), rangeEnd: b('g') }).count).toBe(0);
  });

  it('orders keys bytewise unsigned, not by UTF-16 or signed bytes', () => {
    const st = new MvccStore();
    const ks = [[0x80], [0x7f], [0xff], [0x01], [0x61, 0x00], [0x61], [0xc3, 0xa9]];
    for (const k of ks) st.put({ key: new Uint8Array(k), value: b('x') });
    const got = st.range({ key: ZERO, rangeEnd: ZERO }).kvs.map((kv) => Array.from(kv.key));
    expect(got).toEqual([[0x01], [0x61], [0x61, 0x00], [0x7f], [0x80], [0xc3, 0xa9], [0xff]]);
  });

  it('keys with a zero byte and very long keys work', () => {
    const st = new MvccStore();
    const long = new Uint8Array(100_000).fill(0x41);
    st.put({ key: long, value: b('long') });
    st.put({ key: new Uint8Array([0x41, 0x00, 0x42]), value: b('z') });
    expect(Buffer.from(st.range({ key: long }).kvs[0]?.key ?? []).equals(Buffer.from(long))).toBe(
      true,
    );
    expect(st.range({ key: new Uint8Array([0x41, 0x00, 0x42]) }).count).toBe(1);
  });
});

describe('range limit, count_only, keys_only', () => {
  it('limit truncates, sets more, and count stays the total', () => {
    const st = prefixStore();
    const resp = st.range({ key: ZERO, rangeEnd: ZERO, limit: 2 });
    expect(keys(resp.kvs)).toEqual(['fo', 'foo']);
    expect(resp.more).toBe(true);
    expect(resp.count).toBe(6);
  });

  it('a limit equal to or above the count is not "more"', () => {
    const st = prefixStore();
    expect(st.range({ key: ZERO, rangeEnd: ZERO, limit: 6 })).toMatchObject({
      more: false,
      count: 6,
    });
    expect(st.range({ key: ZERO, rangeEnd: ZERO, limit: 60 }).kvs).toHaveLength(6);
  });

  it('a limit of 0 or less means no limit', () => {
    const st = prefixStore();
    expect(st.range({ key: ZERO, rangeEnd: ZERO, limit: 0 }).kvs).toHaveLength(6);
    expect(st.range({ key: ZERO, rangeEnd: ZERO, limit: -3 }).kvs).toHaveLength(6);
  });

  it('count_only returns the count and no kvs', () => {
    const st = prefixStore();
    expect(st.range({ key: b('foo'), rangeEnd: b('fop'), countOnly: true })).toEqual({
      revision: 7,
      kvs: [],
      more: false,
      count: 3,
    });
    expect(st.range({ key: b('foo'), countOnly: true, limit: 1 }).count).toBe(1);
  });

  it('keys_only empties values and keeps the metadata', () => {
    const st = prefixStore();
    const kv = st.range({ key: b('foo'), keysOnly: true }).kvs[0];
    expect(plain(kv)).toEqual({
      key: 'foo',
      value: '',
      createRevision: 3,
      modRevision: 3,
      version: 1,
      lease: 0n,
    });
    expect(st.range({ key: b('foo') }).kvs[0]?.value).toEqual(b('foo'));
  });
});

describe('range sort', () => {
  // Final state:  key  create mod ver value
  //               a    3      6   2   n
  //               b    5      5   1   q
  //               c    2      9   2   y
  //               d    4      8   3   b
  function sortStore(): MvccStore {
    const st = new MvccStore();
    const puts: [string, string][] = [
      ['c', 'x'],
      ['a', 'm'],
      ['d', 'z'],
      ['b', 'q'],
      ['a', 'n'],
      ['d', 'a'],
      ['d', 'b'],
      ['c', 'y'],
    ];
    for (const [k, v] of puts) st.put({ key: b(k), value: b(v) });
    return st;
  }

  const cases: [SortOrder, SortTarget, string[]][] = [
    [SortOrder.NONE, SortTarget.KEY, ['a', 'b', 'c', 'd']],
    [SortOrder.ASCEND, SortTarget.KEY, ['a', 'b', 'c', 'd']],
    [SortOrder.DESCEND, SortTarget.KEY, ['d', 'c', 'b', 'a']],
    // NONE with a non-KEY target sorts ascending (etcd's rule).
    [SortOrder.NONE, SortTarget.VERSION, ['b', 'a', 'c', 'd']],
    [SortOrder.ASCEND, SortTarget.VERSION, ['b', 'a', 'c', 'd']],
    [SortOrder.DESCEND, SortTarget.VERSION, ['d', 'a', 'c', 'b']],
    [SortOrder.NONE, SortTarget.CREATE, ['c', 'a', 'd', 'b']],
    [SortOrder.ASCEND, SortTarget.CREATE, ['c', 'a', 'd', 'b']],
    [SortOrder.DESCEND, SortTarget.CREATE, ['b', 'd', 'a', 'c']],
    [SortOrder.NONE, SortTarget.MOD, ['b', 'a', 'd', 'c']],
    [SortOrder.ASCEND, SortTarget.MOD, ['b', 'a', 'd', 'c']],
    [SortOrder.DESCEND, SortTarget.MOD, ['c', 'd', 'a', 'b']],
    [SortOrder.NONE, SortTarget.VALUE, ['d', 'a', 'b', 'c']],
    [SortOrder.ASCEND, SortTarget.VALUE, ['d', 'a', 'b', 'c']],
    [SortOrder.DESCEND, SortTarget.VALUE, ['c', 'b', 'a', 'd']],
  ];

  it.each(cases)('order %i target %i', (sortOrder, sortTarget, expected) => {
    const st = sortStore();
    const resp = st.range({ key: ZERO, rangeEnd: ZERO, sortOrder, sortTarget });
    expect(keys(resp.kvs)).toEqual(expected);
    expect(resp.count).toBe(4);
  });

  // Found by test/e2e/client-api-fuzz.test.ts (seed SEED + 1): a sort target outside the
  // enum (any int32 decodes) threw a RangeError that reached the client as INTERNAL; etcd
  // 3.5 refuses such a request with ErrGRPCInvalidSortOption (3.4 crashed on it).
  it.each([
    [SortOrder.ASCEND, 5],
    [SortOrder.NONE, -1],
    [SortOrder.DESCEND, 2 ** 31 - 1],
    [3, SortTarget.KEY],
    [-(2 ** 31), SortTarget.MOD],
  ])('sort order %i with target %i is ErrInvalidSortOption', (sortOrder, sortTarget) => {
    const st = sortStore();
    const request = {
      key: ZERO,
      rangeEnd: ZERO,
      sortOrder: sortOrder as SortOrder,
      sortTarget: sortTarget as SortTarget,
    };
    const err = catchErr(() => st.range(request));
    expect(err.code).toBe('ErrInvalidSortOption');
    expect(err.grpcCode).toBe(3);
    expect(err.message).toBe('etcdserver: invalid sort option');
    // Inside a txn too, read-only or not, and nothing is written.
    const revision = st.revision;
    for (const ops of [
      [{ requestRange: request }],
      [{ requestRange: request }, { requestPut: { key: b('w'), value: b('v') } }],
      [{ requestTxn: { success: [{ requestRange: request }] } }],
    ]) {
      expect(catchErr(() => st.txn({ compare: [], success: [], failure: ops })).code).toBe(
        'ErrInvalidSortOption',
      );
    }
    expect(st.revision).toBe(revision);
  });

  it('sorts before applying the limit', () => {
    const st = sortStore();
    const resp = st.range({
      key: ZERO,
      rangeEnd: ZERO,
      sortOrder: SortOrder.DESCEND,
      sortTarget: SortTarget.MOD,
      limit: 2,
    });
    expect(keys(resp.kvs)).toEqual(['c', 'd']);
    expect(resp).toMatchObject({ more: true, count: 4 });
  });

  it('etcd quirk: order NONE with a non-KEY target and a limit sorts only the first limit+1 keys', () => {
    const st = sortStore();
    const none = st.range({ key: ZERO, rangeEnd: ZERO, sortTarget: SortTarget.MOD, limit: 1 });
    // First two keys by key order are a (mod 6) and b (mod 5): b wins, not the global min.
    expect(keys(none.kvs)).toEqual(['b']);
    const two = st.range({ key: ZERO, rangeEnd: ZERO, sortTarget: SortTarget.CREATE, limit: 1 });
    expect(keys(two.kvs)).toEqual(['a']); // c (create 2) is the global min but not fetched
    expect(two).toMatchObject({ more: true, count: 4 });
    const asc = st.range({
      key: ZERO,
      rangeEnd: ZERO,
      sortOrder: SortOrder.ASCEND,
      sortTarget: SortTarget.CREATE,
      limit: 1,
    });
    expect(keys(asc.kvs)).toEqual(['c']);
  });

  it('ties keep ascending key order in both directions', () => {
    const st = new MvccStore();
    for (const k of ['b', 'c', 'a']) st.put({ key: b(k), value: b('same') });
    const asc = { key: ZERO, rangeEnd: ZERO, sortTarget: SortTarget.VALUE } as const;
    expect(keys(st.range({ ...asc, sortOrder: SortOrder.ASCEND }).kvs)).toEqual(['a', 'b', 'c']);
    expect(keys(st.range({ ...asc, sortOrder: SortOrder.DESCEND }).kvs)).toEqual(['a', 'b', 'c']);
  });
});

describe('range filters', () => {
  // a: create 2 mod 5; b: create 3 mod 3; c: create 4 mod 6
  function filterStore(): MvccStore {
    const st = new MvccStore();
    for (const k of ['a', 'b', 'c', 'a', 'c']) st.put({ key: b(k), value: b('v') });
    return st;
  }
  const all = { key: ZERO, rangeEnd: ZERO };

  it.each<[Partial<RangeRequest>, string[]]>([
    [{ minModRevision: 5 }, ['a', 'c']],
    [{ maxModRevision: 5 }, ['a', 'b']],
    [{ minCreateRevision: 3 }, ['b', 'c']],
    [{ maxCreateRevision: 3 }, ['a', 'b']],
    [{ minModRevision: 4, maxModRevision: 5 }, ['a']],
    [{ minCreateRevision: 3, maxCreateRevision: 3 }, ['b']],
    [{ minModRevision: 100 }, []],
  ])('%o keeps %o and count stays the unfiltered total', (filter, expected) => {
    const resp = filterStore().range({ ...all, ...filter });
    expect(keys(resp.kvs)).toEqual(expected);
    expect(resp.count).toBe(3);
  });

  it('filters apply before the limit', () => {
    const resp = filterStore().range({ ...all, minCreateRevision: 3, limit: 1 });
    expect(keys(resp.kvs)).toEqual(['b']);
    expect(resp).toMatchObject({ more: true, count: 3 });
  });
});

describe('range at a past revision', () => {
  function history(): MvccStore {
    const st = new MvccStore();
    st.put({ key: b('k'), value: b('v1') }); // 2
    st.put({ key: b('other'), value: b('o') }); // 3
    st.put({ key: b('k'), value: b('v2') }); // 4
    st.deleteRange({ key: b('k') }); // 5
    st.put({ key: b('k'), value: b('v3') }); // 6
    return st;
  }

  it('reads the state as of each revision, deleted keys included', () => {
    const st = history();
    const at = (revision: number) => plain(st.range({ key: b('k'), revision }).kvs[0]);
    expect(at(1)).toBeUndefined();
    expect(at(2)).toMatchObject({ value: 'v1', createRevision: 2, modRevision: 2, version: 1 });
    expect(at(3)).toMatchObject({ value: 'v1', modRevision: 2 });
    expect(at(4)).toMatchObject({ value: 'v2', createRevision: 2, modRevision: 4, version: 2 });
    expect(at(5)).toBeUndefined();
    expect(at(6)).toMatchObject({ value: 'v3', createRevision: 6, modRevision: 6, version: 1 });
    expect(at(0)).toMatchObject({ value: 'v3' });
    expect(at(-1)).toMatchObject({ value: 'v3' });
  });

  it('the response revision is the current one', () => {
    const st = history();
    expect(st.range({ key: b('k'), revision: 2 }).revision).toBe(6);
  });

  it('counts and ranges at a past revision', () => {
    const st = history();
    expect(st.range({ key: ZERO, rangeEnd: ZERO, revision: 4 }).count).toBe(2);
    expect(st.range({ key: ZERO, rangeEnd: ZERO, revision: 5, countOnly: true }).count).toBe(1);
    expect(keys(st.range({ key: ZERO, rangeEnd: ZERO, revision: 2 }).kvs)).toEqual(['k']);
  });

  it('a future revision is ErrFutureRev', () => {
    const st = history();
    const err = catchErr(() => st.range({ key: b('k'), revision: 7 }));
    expect(err.code).toBe('ErrFutureRev');
    expect(err.message).toBe('etcdserver: mvcc: required revision is a future revision');
    expect(err.grpcCode).toBe(11);
    expect(st.range({ key: b('k'), revision: 6 }).count).toBe(1);
  });

  it('below the compacted revision is ErrCompacted; at it is readable', () => {
    const st = history();
    st.compact(4);
    const err = catchErr(() => st.range({ key: b('k'), revision: 3 }));
    expect(err.code).toBe('ErrCompacted');
    expect(err.message).toBe('etcdserver: mvcc: required revision has been compacted');
    expect(err.grpcCode).toBe(11);
    expect(plain(st.range({ key: b('k'), revision: 4 }).kvs[0])).toMatchObject({ value: 'v2' });
  });
});
