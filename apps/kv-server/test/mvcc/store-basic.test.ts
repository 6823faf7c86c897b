import { describe, expect, it } from 'vitest';
import { GrpcCode, isMvccError, MvccError, MvccStore } from '../../src/mvcc/index.js';
import { b, catchErr, plain } from './helpers.js';

describe('MvccStore revisions and versions', () => {
  it('starts at revision 1 and the first put answers revision 2', () => {
    const st = new MvccStore();
    expect(st.revision).toBe(1);
    expect(st.compactRevision).toBe(-1);
    expect(st.range({ key: b('a') })).toEqual({ revision: 1, kvs: [], more: false, count: 0 });
    expect(st.put({ key: b('a'), value: b('1') })).toEqual({ revision: 2 });
    expect(st.revision).toBe(2);
  });

  it('tracks create/mod/version across put, put, delete, put', () => {
    const st = new MvccStore();
    st.put({ key: b('foo'), value: b('v1') }); // rev 2
    expect(plain(st.range({ key: b('foo') }).kvs[0])).toEqual({
      key: 'foo',
      value: 'v1',
      createRevision: 2,
      modRevision: 2,
      version: 1,
      lease: 0n,
    });
    st.put({ key: b('foo'), value: b('v2') }); // rev 3
    expect(plain(st.range({ key: b('foo') }).kvs[0])).toMatchObject({
      value: 'v2',
      createRevision: 2,
      modRevision: 3,
      version: 2,
    });
    expect(st.deleteRange({ key: b('foo') })).toEqual({ revision: 4, deleted: 1, prevKvs: [] });
    expect(st.range({ key: b('foo') }).kvs).toEqual([]);
    st.put({ key: b('foo'), value: b('v3') }); // rev 5
    expect(plain(st.range({ key: b('foo') }).kvs[0])).toMatchObject({
      value: 'v3',
      createRevision: 5,
      modRevision: 5,
      version: 1,
    });
    expect(st.revision).toBe(5);
  });

  it('keeps revisions store-wide across keys', () => {
    const st = new MvccStore();
    st.put({ key: b('a'), value: b('1') });
    st.put({ key: b('b'), value: b('1') });
    st.put({ key: b('a'), value: b('2') });
    const kvs = st.range({ key: b('a'), rangeEnd: b('c') }).kvs.map(plain);
    expect(kvs).toEqual([
      { key: 'a', value: '2', createRevision: 2, modRevision: 4, version: 2, lease: 0n },
      { key: 'b', value: '1', createRevision: 3, modRevision: 3, version: 1, lease: 0n },
    ]);
  });

  it('copies the bytes it is given', () => {
    const st = new MvccStore();
    const key = b('k');
    const value = b('v');
    st.put({ key, value });
    key[0] = 0x7a;
    value[0] = 0x7a;
    expect(plain(st.range({ key: b('k') }).kvs[0])?.value).toBe('v');
  });

  it('stores an absent value as empty bytes', () => {
    const st = new MvccStore();
    st.put({ key: b('k') });
    expect(st.range({ key: b('k') }).kvs[0]?.value).toEqual(new Uint8Array(0));
  });
});

describe('MvccStore put options', () => {
  it('prevKv returns the previous pair, and nothing for a new key', () => {
    const st = new MvccStore();
    expect(st.put({ key: b('k'), value: b('1'), prevKv: true })).toEqual({ revision: 2 });
    const resp = st.put({ key: b('k'), value: b('2'), prevKv: true });
    expect(resp.revision).toBe(3);
    expect(plain(resp.prevKv)).toEqual({
      key: 'k',
      value: '1',
      createRevision: 2,
      modRevision: 2,
      version: 1,
      lease: 0n,
    });
  });

  it('prevKv after a delete returns nothing', () => {
    const st = new MvccStore();
    st.put({ key: b('k'), value: b('1') });
    st.deleteRange({ key: b('k') });
    expect(st.put({ key: b('k'), value: b('2'), prevKv: true }).prevKv).toBeUndefined();
  });

  it('ignoreValue keeps the value and bumps version', () => {
    const st = new MvccStore();
    st.put({ key: b('k'), value: b('keep'), lease: 7n });
    st.put({ key: b('k'), ignoreValue: true, lease: 9n });
    expect(plain(st.range({ key: b('k') }).kvs[0])).toMatchObject({
      value: 'keep',
      version: 2,
      modRevision: 3,
      lease: 9n,
    });
  });

  it('ignoreLease keeps the lease', () => {
    const st = new MvccStore();
    st.put({ key: b('k'), value: b('a'), lease: 0x694d7e1b5a3f2c04n });
    st.put({ key: b('k'), value: b('b'), ignoreLease: true });
    expect(plain(st.range({ key: b('k') }).kvs[0])).toMatchObject({
      value: 'b',
      lease: 0x694d7e1b5a3f2c04n,
    });
  });

  it('a lease id is stored as given and a plain put resets it to 0', () => {
    const st = new MvccStore();
    st.put({ key: b('k'), value: b('a'), lease: 5n });
    expect(st.range({ key: b('k') }).kvs[0]?.lease).toBe(5n);
    st.put({ key: b('k'), value: b('b') });
    expect(st.range({ key: b('k') }).kvs[0]?.lease).toBe(0n);
  });

  it('ignoreValue / ignoreLease on an absent key is ErrKeyNotFound and writes nothing', () => {
    const st = new MvccStore();
    for (const req of [
      { key: b('nope'), ignoreValue: true },
      { key: b('nope'), ignoreLease: true },
    ]) {
      const err = catchErr(() => st.put(req));
      expect(err).toBeInstanceOf(MvccError);
      expect(err.code).toBe('ErrKeyNotFound');
      expect(err.message).toBe('etcdserver: key not found');
      expect(err.grpcCode).toBe(GrpcCode.INVALID_ARGUMENT);
    }
    expect(st.revision).toBe(1);
    expect(st.keyCount).toBe(0);
  });

  it('ignoreValue with a value is ErrValueProvided, ignoreLease with a lease ErrLeaseProvided', () => {
    const st = new MvccStore();
    st.put({ key: b('k'), value: b('a') });
    const e1 = catchErr(() => st.put({ key: b('k'), value: b('x'), ignoreValue: true }));
    expect([e1.code, e1.message, e1.grpcCode]).toEqual([
      'ErrValueProvided',
      'etcdserver: value is provided',
      3,
    ]);
    const e2 = catchErr(() => st.put({ key: b('k'), lease: 1n, ignoreLease: true }));
    expect([e2.code, e2.message, e2.grpcCode]).toEqual([
      'ErrLeaseProvided',
      'etcdserver: lease is provided',
      3,
    ]);
    expect(st.revision).toBe(2);
  });

  it('empty keys are ErrEmptyKey for put, range and delete', () => {
    const st = new MvccStore();
    for (const fn of [
      () => st.put({ key: new Uint8Array(0), value: b('v') }),
      () => st.range({ key: new Uint8Array(0) }),
      () => st.deleteRange({ key: new Uint8Array(0) }),
    ]) {
      const err = catchErr(fn);
      expect(isMvccError(err, 'ErrEmptyKey')).toBe(true);
      expect(err.message).toBe('etcdserver: key is not provided');
      expect(err.grpcCode).toBe(3);
    }
    expect(st.revision).toBe(1);
  });
});

describe('MvccStore deleteRange', () => {
  function seeded(): MvccStore {
    const st = new MvccStore();
    for (const k of ['a', 'b', 'c', 'd']) st.put({ key: b(k), value: b(`v${k}`) });
    return st; // revision 5
  }

  it('deletes one key and returns its prev kv', () => {
    const st = seeded();
    const resp = st.deleteRange({ key: b('b'), prevKv: true });
    expect(resp.revision).toBe(6);
    expect(resp.deleted).toBe(1);
    expect(resp.prevKvs.map(plain)).toEqual([
      { key: 'b', value: 'vb', createRevision: 3, modRevision: 3, version: 1, lease: 0n },
    ]);
  });

  it('deletes a half-open range at one revision', () => {
    const st = seeded();
    const resp = st.deleteRange({ key: b('b'), rangeEnd: b('d'), prevKv: true });
    expect(resp).toMatchObject({ revision: 6, deleted: 2 });
    expect(resp.prevKvs.map((kv) => plain(kv)?.key)).toEqual(['b', 'c']);
    expect(st.range({ key: b('a'), rangeEnd: new Uint8Array([0]) }).count).toBe(2);
    expect(st.revision).toBe(6);
  });

  it('deletes from a key onwards with range_end "\\0"', () => {
    const st = seeded();
    expect(st.deleteRange({ key: b('c'), rangeEnd: new Uint8Array([0]) }).deleted).toBe(2);
    expect(st.range({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) }).count).toBe(2);
  });

  it('deleting nothing keeps the revision', () => {
    const st = seeded();
    expect(st.deleteRange({ key: b('zz') })).toEqual({ revision: 5, deleted: 0, prevKvs: [] });
    expect(st.deleteRange({ key: b('x'), rangeEnd: b('z'), prevKv: true })).toEqual({
      revision: 5,
      deleted: 0,
      prevKvs: [],
    });
    expect(st.revision).toBe(5);
    st.deleteRange({ key: b('a') });
    expect(st.deleteRange({ key: b('a') })).toEqual({ revision: 6, deleted: 0, prevKvs: [] });
    expect(st.revision).toBe(6);
  });

  it('without prevKv returns no prev kvs', () => {
    const st = seeded();
    expect(st.deleteRange({ key: b('a'), rangeEnd: b('c') }).prevKvs).toEqual([]);
  });
});
