import { describe, expect, it } from 'vitest';
import {
  type Compare,
  CompareResult,
  CompareTarget,
  MvccStore,
  type RequestOp,
  type ResponseOp,
  type TxnRequest,
} from '../../src/mvcc/index.js';
import { b, catchErr, keys, plain } from './helpers.js';

const ZERO = new Uint8Array([0]);

const put = (k: string, v = 'x', extra: object = {}): RequestOp => ({
  requestPut: { key: b(k), value: b(v), ...extra },
});
const get = (k: string, extra: object = {}): RequestOp => ({
  requestRange: { key: b(k), ...extra },
});
const del = (k: string, end?: Uint8Array, extra: object = {}): RequestOp => ({
  requestDeleteRange: { key: b(k), ...(end ? { rangeEnd: end } : {}), ...extra },
});
const txnOp = (t: TxnRequest): RequestOp => ({ requestTxn: t });

function rangeOf(r: ResponseOp | undefined) {
  if (r === undefined || !('responseRange' in r)) throw new Error('not a range response');
  return r.responseRange;
}
function putOf(r: ResponseOp | undefined) {
  if (r === undefined || !('responsePut' in r)) throw new Error('not a put response');
  return r.responsePut;
}
function delOf(r: ResponseOp | undefined) {
  if (r === undefined || !('responseDeleteRange' in r)) throw new Error('not a delete response');
  return r.responseDeleteRange;
}
function txnOf(r: ResponseOp | undefined) {
  if (r === undefined || !('responseTxn' in r)) throw new Error('not a txn response');
  return r.responseTxn;
}

/** k: value "w", create 2, mod 3, version 2, lease 5 (store revision 3). */
function kStore(): MvccStore {
  const st = new MvccStore();
  st.put({ key: b('k'), value: b('v') });
  st.put({ key: b('k'), value: b('w'), lease: 5n });
  return st;
}

type Target = (typeof CompareTarget)[keyof typeof CompareTarget];
type Result = (typeof CompareResult)[keyof typeof CompareResult];

const TARGETS: [string, Target][] = Object.entries(CompareTarget);
const RESULTS: [string, Result][] = Object.entries(CompareResult);

/** operand builds a compare operand of `target` at offset -1, 0, +1 from k's actual value. */
function operand(target: Target, offset: -1 | 0 | 1): Partial<Compare> {
  switch (target) {
    case CompareTarget.VERSION:
      return { version: 2 + offset };
    case CompareTarget.CREATE:
      return { createRevision: 2 + offset };
    case CompareTarget.MOD:
      return { modRevision: 3 + offset };
    case CompareTarget.VALUE:
      return { value: b(['v', 'w', 'x'][offset + 1] as string) };
    default:
      return { lease: 5n + BigInt(offset) };
  }
}

function expected(result: Result, offset: -1 | 0 | 1): boolean {
  // actual compared with operand: actual - operand has the sign of -offset.
  const cmp = -offset;
  switch (result) {
    case CompareResult.EQUAL:
      return cmp === 0;
    case CompareResult.NOT_EQUAL:
      return cmp !== 0;
    case CompareResult.GREATER:
      return cmp > 0;
    default:
      return cmp < 0;
  }
}

describe('txn compares', () => {
  const matrix: [string, Target, string, Result, -1 | 0 | 1][] = [];
  for (const [tn, t] of TARGETS) {
    for (const [rn, r] of RESULTS) {
      for (const off of [-1, 0, 1] as const) matrix.push([tn, t, rn, r, off]);
    }
  }

  it.each(matrix)(
    '%s %s (operand offset %i) on an existing key',
    (_tn, target, _rn, result, off) => {
      const st = kStore();
      const resp = st.txn({
        compare: [{ key: b('k'), target, result, ...operand(target, off) }],
        success: [get('k')],
        failure: [],
      });
      expect(resp.succeeded).toBe(expected(result, off));
      expect(resp.responses).toHaveLength(resp.succeeded ? 1 : 0);
      expect(resp.revision).toBe(3);
    },
  );

  const missing: [string, Compare, boolean][] = [
    ['version = 0', { key: b('nope'), target: 0, result: 0, version: 0 }, true],
    ['version > 0', { key: b('nope'), target: 0, result: 1, version: 0 }, false],
    ['version < 1', { key: b('nope'), target: 0, result: 2, version: 1 }, true],
    ['version != 0', { key: b('nope'), target: 0, result: 3, version: 0 }, false],
    ['create = 0', { key: b('nope'), target: 1, result: 0, createRevision: 0 }, true],
    ['create < 5', { key: b('nope'), target: 1, result: 2, createRevision: 5 }, true],
    ['mod = 0', { key: b('nope'), target: 2, result: 0, modRevision: 0 }, true],
    ['mod > 0', { key: b('nope'), target: 2, result: 1, modRevision: 0 }, false],
    ['lease = 0', { key: b('nope'), target: 4, result: 0, lease: 0n }, true],
    ['value = ""', { key: b('nope'), target: 3, result: 0, value: new Uint8Array(0) }, false],
    ['value != "x"', { key: b('nope'), target: 3, result: 3, value: b('x') }, false],
    ['value < "x"', { key: b('nope'), target: 3, result: 2, value: b('x') }, false],
    ['value > ""', { key: b('nope'), target: 3, result: 1, value: new Uint8Array(0) }, false],
  ];

  it.each(missing)('on a missing key: %s is %s', (_name, c, ok) => {
    expect(kStore().txn({ compare: [c] }).succeeded).toBe(ok);
  });

  it('a deleted key compares like a missing one', () => {
    const st = kStore();
    st.deleteRange({ key: b('k') });
    expect(
      st.txn({ compare: [{ key: b('k'), target: 1, result: 0, createRevision: 0 }] }).succeeded,
    ).toBe(true);
  });

  it('an operand not given counts as zero / empty', () => {
    const st = kStore();
    expect(st.txn({ compare: [{ key: b('k'), target: 0, result: 1 }] }).succeeded).toBe(true);
    expect(st.txn({ compare: [{ key: b('k'), target: 3, result: 1 }] }).succeeded).toBe(true);
    // An operand in another field than the target's is ignored.
    expect(
      st.txn({ compare: [{ key: b('k'), target: 0, result: 0, modRevision: 2 }] }).succeeded,
    ).toBe(false);
  });

  it('all compares must hold; none means success', () => {
    const st = kStore();
    const yes: Compare = { key: b('k'), target: 0, result: 0, version: 2 };
    const no: Compare = { key: b('k'), target: 0, result: 0, version: 3 };
    expect(st.txn({ compare: [yes, yes] }).succeeded).toBe(true);
    expect(st.txn({ compare: [yes, no] }).succeeded).toBe(false);
    expect(st.txn({}).succeeded).toBe(true);
  });

  it('a compare over a range needs every key in it to match', () => {
    const st = new MvccStore();
    st.put({ key: b('p/a'), value: b('1') });
    st.put({ key: b('p/b'), value: b('1') });
    st.put({ key: b('p/b'), value: b('2') });
    st.put({ key: b('q'), value: b('1') });
    const ver = (result: Result, version: number, rangeEnd: Uint8Array): boolean =>
      st.txn({ compare: [{ key: b('p/'), rangeEnd, target: 0, result, version }] }).succeeded;
    expect(ver(CompareResult.GREATER, 0, b('p0'))).toBe(true);
    expect(ver(CompareResult.EQUAL, 1, b('p0'))).toBe(false);
    expect(ver(CompareResult.LESS, 3, b('p0'))).toBe(true);
    expect(ver(CompareResult.LESS, 2, b('p0'))).toBe(false);
    // "\0" = from key onwards: includes q (version 1).
    expect(ver(CompareResult.EQUAL, 1, ZERO)).toBe(false);
    // An empty range compares against the zero KeyValue.
    expect(ver(CompareResult.EQUAL, 0, b('p/0'))).toBe(true);
    expect(
      st.txn({ compare: [{ key: b('x'), rangeEnd: b('y'), target: 0, result: 0, version: 0 }] })
        .succeeded,
    ).toBe(true);
    expect(
      st.txn({ compare: [{ key: b('x'), rangeEnd: b('y'), target: 3, result: 3, value: b('z') }] })
        .succeeded,
    ).toBe(false);
    // A value compare over a range.
    expect(
      st.txn({
        compare: [{ key: b('p/'), rangeEnd: b('p0'), target: 3, result: 2, value: b('3') }],
      }).succeeded,
    ).toBe(true);
  });
});

describe('txn execution', () => {
  it('runs success or failure ops and answers each', () => {
    const st = kStore();
    const cmp: Compare = { key: b('k'), target: CompareTarget.VALUE, result: 0, value: b('w') };
    const ok = st.txn({ compare: [cmp], success: [put('a', '1'), get('k')], failure: [put('b')] });
    expect(ok.succeeded).toBe(true);
    expect(ok.revision).toBe(4);
    expect(putOf(ok.responses[0])).toEqual({ revision: 4 });
    expect(plain(rangeOf(ok.responses[1]).kvs[0])).toMatchObject({ value: 'w' });
    const ko = st.txn({
      compare: [{ ...cmp, value: b('nope') }],
      success: [put('c')],
      failure: [put('b', '2', { prevKv: true }), get('b')],
    });
    expect(ko.succeeded).toBe(false);
    expect(ko.revision).toBe(5);
    expect(putOf(ko.responses[0]).prevKv).toBeUndefined();
    expect(plain(rangeOf(ko.responses[1]).kvs[0])).toMatchObject({ value: '2', modRevision: 5 });
    expect(st.range({ key: b('c') }).count).toBe(0);
  });

  it('all writes of one txn share one revision', () => {
    const st = kStore();
    const resp = st.txn({ success: [put('a'), put('b'), del('k')] });
    expect(resp.revision).toBe(4);
    expect(st.revision).toBe(4);
    const kvs = st.range({ key: ZERO, rangeEnd: ZERO }).kvs;
    expect(kvs.map((kv) => [plain(kv)?.key, kv.modRevision, kv.createRevision])).toEqual([
      ['a', 4, 4],
      ['b', 4, 4],
    ]);
    expect(st.range({ key: b('k'), revision: 3 }).count).toBe(1);
  });

  it('reads inside see earlier writes of the same txn', () => {
    const st = kStore();
    const resp = st.txn({
      success: [
        get('a'),
        put('a', 'new'),
        get('a'),
        get('k'),
        del('k', undefined, { prevKv: true }),
        get('k'),
        { requestRange: { key: ZERO, rangeEnd: ZERO, countOnly: true } },
      ],
    });
    const r = resp.responses;
    expect(rangeOf(r[0]).kvs).toEqual([]);
    expect(rangeOf(r[0]).revision).toBe(3);
    expect(plain(rangeOf(r[2]).kvs[0])).toMatchObject({ value: 'new', modRevision: 4, version: 1 });
    expect(rangeOf(r[2]).revision).toBe(4);
    expect(rangeOf(r[3]).count).toBe(1);
    expect(delOf(r[4])).toMatchObject({ deleted: 1, revision: 4 });
    expect(plain(delOf(r[4]).prevKvs[0])).toMatchObject({ value: 'w', version: 2 });
    expect(rangeOf(r[5]).count).toBe(0);
    expect(rangeOf(r[6]).count).toBe(1);
  });

  it('per-op revisions follow etcd: before the first write the old one, then the new', () => {
    const st = kStore();
    const resp = st.txn({ success: [get('k'), del('zz'), put('b'), get('k'), del('zz')] });
    expect(resp.responses.map((r) => Object.values(r)[0].revision)).toEqual([3, 3, 4, 4, 4]);
    expect(resp.revision).toBe(4);
  });

  it('a txn that writes nothing keeps the revision', () => {
    const st = kStore();
    expect(st.txn({ success: [get('k'), del('nope')] }).revision).toBe(3);
    expect(
      st.txn({ compare: [{ key: b('k'), target: 0, result: 0, version: 9 }], success: [put('a')] }),
    ).toEqual({ revision: 3, succeeded: false, responses: [] });
    expect(st.revision).toBe(3);
  });

  it('a range inside can read a past revision', () => {
    const st = kStore();
    const resp = st.txn({ success: [put('k', 'z'), get('k', { revision: 2 })] });
    expect(plain(rangeOf(resp.responses[1]).kvs[0])).toMatchObject({ value: 'v', modRevision: 2 });
    expect(rangeOf(resp.responses[1]).revision).toBe(4);
  });

  it('nested txns run on their own branch and answer in a nested response', () => {
    const st = kStore();
    const resp = st.txn({
      success: [
        put('a', '1'),
        txnOp({
          compare: [{ key: b('k'), target: CompareTarget.VERSION, result: 0, version: 2 }],
          success: [put('b', '2'), get('a')],
          failure: [put('c', '3')],
        }),
        txnOp({
          compare: [{ key: b('k'), target: CompareTarget.VERSION, result: 0, version: 99 }],
          success: [put('d')],
          failure: [get('b')],
        }),
      ],
    });
    expect(resp.revision).toBe(4);
    const n1 = txnOf(resp.responses[1]);
    expect(n1.succeeded).toBe(true);
    // etcd leaves a nested txn's header empty: revision 0.
    expect(n1.revision).toBe(0);
    expect(putOf(n1.responses[0]).revision).toBe(4);
    expect(plain(rangeOf(n1.responses[1]).kvs[0])).toMatchObject({ value: '1' });
    const n2 = txnOf(resp.responses[2]);
    expect(n2.succeeded).toBe(false);
    expect(plain(rangeOf(n2.responses[0]).kvs[0])).toMatchObject({ value: '2' });
    expect(keys(st.range({ key: ZERO, rangeEnd: ZERO }).kvs)).toEqual(['a', 'b', 'k']);
  });

  it('nested compares see the state before the txn, not its earlier writes (etcd)', () => {
    const st = kStore();
    const resp = st.txn({
      success: [
        put('fresh'),
        txnOp({
          compare: [{ key: b('fresh'), target: CompareTarget.VERSION, result: 0, version: 0 }],
          success: [get('fresh')],
        }),
      ],
    });
    const nested = txnOf(resp.responses[1]);
    expect(nested.succeeded).toBe(true);
    expect(rangeOf(nested.responses[0]).count).toBe(1);
  });

  it('the same key may be written by the success and failure branches', () => {
    const st = kStore();
    const resp = st.txn({ success: [put('a', 's')], failure: [put('a', 'f')] });
    expect(resp.succeeded).toBe(true);
    expect(plain(st.range({ key: b('a') }).kvs[0])?.value).toBe('s');
    const nested = st.txn({ success: [txnOp({ success: [put('b')], failure: [put('b')] })] });
    expect(nested.revision).toBe(5);
  });

  it('two deletes of one key are fine; the second deletes nothing', () => {
    const st = kStore();
    const resp = st.txn({ success: [del('k'), del('a', b('z'))] });
    expect(delOf(resp.responses[0]).deleted).toBe(1);
    expect(delOf(resp.responses[1]).deleted).toBe(0);
    expect(st.revision).toBe(4);
  });
});

describe('txn validation', () => {
  const dup: [string, TxnRequest][] = [
    ['put, put', { success: [put('a'), put('a')] }],
    ['put, delete', { success: [put('a'), del('a')] }],
    ['delete, put', { success: [del('a'), put('a')] }],
    ['delete range, put inside', { success: [del('a', b('c')), put('b')] }],
    ['failure branch', { failure: [put('a'), put('a')] }],
    ['outer put, nested put', { success: [put('a'), txnOp({ success: [put('a')] })] }],
    ['nested put, outer put', { success: [txnOp({ failure: [put('a')] }), put('a')] }],
    [
      'two nested puts',
      { success: [txnOp({ success: [put('a')] }), txnOp({ success: [put('a')] })] },
    ],
    ['outer delete, nested put', { success: [del('a'), txnOp({ success: [put('a')] })] }],
    [
      'nested delete, later nested put',
      {
        success: [txnOp({ success: [del('a')] }), txnOp({ failure: [put('a')] })],
      },
    ],
    ['nested delete, outer put', { success: [txnOp({ success: [del('a', b('b'))] }), put('a')] }],
  ];

  it.each(dup)('duplicate key: %s', (_name, req) => {
    const st = kStore();
    const err = catchErr(() => st.txn(req));
    expect(err.code).toBe('ErrDuplicateKey');
    expect(err.message).toBe('etcdserver: duplicate key given in txn request');
    expect(err.grpcCode).toBe(3);
    expect(st.revision).toBe(3);
  });

  it('etcd quirk: a from-key delete ("\\0" end) is not checked against puts', () => {
    const st = kStore();
    const resp = st.txn({ success: [put('m'), del('a', ZERO)] });
    expect(delOf(resp.responses[1]).deleted).toBe(2);
    expect(st.range({ key: ZERO, rangeEnd: ZERO }).count).toBe(0);
    expect(st.revision).toBe(4);
    const again = st.txn({ success: [del('a', ZERO), put('m', 'back')] });
    expect(again.revision).toBe(5);
    expect(st.revision).toBe(5);
    expect(plain(st.range({ key: b('m') }).kvs[0])).toMatchObject({
      value: 'back',
      version: 1,
      createRevision: 5,
    });
  });

  it('etcd quirk: a nested put before a later nested delete of the key passes', () => {
    const st = kStore();
    const resp = st.txn({
      success: [txnOp({ success: [put('k', 'n')] }), txnOp({ success: [del('k')] })],
    });
    expect(resp.revision).toBe(4);
    expect(st.range({ key: b('k') }).count).toBe(0);
    expect(plain(st.range({ key: b('k'), revision: 3 }).kvs[0])).toMatchObject({ value: 'w' });
  });

  it('too many ops: compares, success or failure above the limit', () => {
    const st = kStore();
    const ops = (n: number) => Array.from({ length: n }, (_, i) => put(`k${i}`));
    const cmps = (n: number): Compare[] =>
      Array.from({ length: n }, () => ({ key: b('k'), target: 0, result: 0, version: 2 }));
    for (const req of [{ success: ops(129) }, { failure: ops(129) }, { compare: cmps(129) }]) {
      const err = catchErr(() => st.txn(req));
      expect(err.code).toBe('ErrTooManyOps');
      expect(err.message).toBe('etcdserver: too many operations in txn request');
      expect(err.grpcCode).toBe(3);
    }
    expect(st.txn({ success: ops(128), compare: cmps(128), failure: ops(128) }).revision).toBe(4);
    expect(catchErr(() => st.txn({ success: ops(4) }, { maxTxnOps: 3 })).code).toBe(
      'ErrTooManyOps',
    );
    expect(st.txn({ success: ops(3) }, { maxTxnOps: 3 }).revision).toBe(5);
  });

  it('a nested txn gets the op budget its parent left', () => {
    const st = kStore();
    const nested = txnOp({ success: [put('x'), put('y')] });
    expect(catchErr(() => st.txn({ success: [put('a'), nested] }, { maxTxnOps: 3 })).code).toBe(
      'ErrTooManyOps',
    );
    expect(st.txn({ success: [put('a'), nested] }, { maxTxnOps: 4 }).revision).toBe(4);
  });

  it('an empty key in a compare or any op is ErrEmptyKey', () => {
    const st = kStore();
    const empty = new Uint8Array(0);
    for (const req of [
      { compare: [{ key: empty, target: 0, result: 0 } as Compare] },
      { success: [{ requestRange: { key: empty } }] },
      { failure: [{ requestPut: { key: empty } }] },
      { success: [{ requestDeleteRange: { key: empty } }] },
      { success: [txnOp({ failure: [{ requestPut: { key: empty } }] })] },
    ]) {
      expect(catchErr(() => st.txn(req)).code).toBe('ErrEmptyKey');
    }
  });

  it('ignore_value on a key absent before the txn fails it whole', () => {
    const st = kStore();
    const err = catchErr(() =>
      st.txn({ success: [put('a', '1'), put('nope', '', { ignoreValue: true })] }),
    );
    expect(err.code).toBe('ErrKeyNotFound');
    expect(st.revision).toBe(3);
    expect(st.range({ key: b('a') }).count).toBe(0);
    // Only the chosen branch is checked.
    const ok = st.txn({
      compare: [{ key: b('k'), target: 0, result: 0, version: 2 }],
      success: [put('k', '', { ignoreValue: true })],
      failure: [put('nope', '', { ignoreValue: true })],
    });
    expect(ok.revision).toBe(4);
    expect(plain(st.range({ key: b('k') }).kvs[0])).toMatchObject({ value: 'w', version: 3 });
  });

  it('a failure discovered mid-txn rolls every write back', () => {
    const st = kStore();
    st.put({ key: b('z'), value: b('1') }); // 4
    // Passes the up-front checks (etcd compares "\0" literally), fails when it runs.
    const err = catchErr(() =>
      st.txn({
        success: [
          put('a', 'new'),
          put('k', 'kk'),
          del('j', ZERO),
          put('k2'),
          put('z', '', { ignoreValue: true }),
        ],
      }),
    );
    expect(err.code).toBe('ErrKeyNotFound');
    expect(st.revision).toBe(4);
    expect(st.range({ key: ZERO, rangeEnd: ZERO }).kvs.map(plain)).toEqual([
      { key: 'k', value: 'w', createRevision: 2, modRevision: 3, version: 2, lease: 5n },
      { key: 'z', value: '1', createRevision: 4, modRevision: 4, version: 1, lease: 0n },
    ]);
    expect(st.keyCount).toBe(2);
    expect(st.put({ key: b('k'), value: b('after') }).revision).toBe(5);
    expect(plain(st.range({ key: b('k') }).kvs[0])).toMatchObject({
      version: 3,
      createRevision: 2,
    });
  });

  it('a range at a future or compacted revision fails the txn before it writes', () => {
    const st = kStore();
    expect(catchErr(() => st.txn({ success: [put('a'), get('k', { revision: 4 })] })).code).toBe(
      'ErrFutureRev',
    );
    st.compact(3);
    expect(catchErr(() => st.txn({ success: [put('a'), get('k', { revision: 2 })] })).code).toBe(
      'ErrCompacted',
    );
    expect(st.revision).toBe(3);
    expect(st.range({ key: b('a') }).count).toBe(0);
  });
});
