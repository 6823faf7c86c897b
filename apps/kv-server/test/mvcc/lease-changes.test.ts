import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CompareResult,
  CompareTarget,
  type DeleteRangeRequest,
  isMvccError,
  type LeaseChange,
  type MvccEvent,
  MvccStore,
  type PutRequest,
  type RequestOp,
} from '../../src/mvcc/index.js';
import { b, catchErr, plain, s } from './helpers.js';

const ZERO = new Uint8Array([0]);

/**
 * watched is a store whose live leases are `leases` (1, 2 and 3 unless said) and which
 * records every batch of lease changes and every commit.
 */
function watched(leases: Iterable<bigint> = [1n, 2n, 3n]) {
  const live = new Set(leases);
  const store = new MvccStore();
  store.leaseExists = (id) => live.has(id);
  const batches: LeaseChange[][] = [];
  const commits: { revision: number; events: readonly MvccEvent[] }[] = [];
  store.onLeaseChange = (changes) => batches.push([...changes]);
  store.onCommit = (revision, events) => commits.push({ revision, events });
  return { store, live, batches, commits };
}

const change = (key: string, from: bigint, to: bigint): LeaseChange => ({ key, from, to });

const put = (key: string, extra: object = {}): RequestOp => ({
  requestPut: { key: b(key), value: b('v'), ...extra },
});
const del = (key: string, rangeEnd?: Uint8Array): RequestOp => ({
  requestDeleteRange: { key: b(key), ...(rangeEnd ? { rangeEnd } : {}) },
});
const get = (key: string): RequestOp => ({ requestRange: { key: b(key) } });

/** leasedKeys is what forEachLeasedKey reports, as [key, lease] pairs in call order. */
function leasedKeys(store: MvccStore): [string, bigint][] {
  const out: [string, bigint][] = [];
  store.forEachLeasedKey((key, lease) => out.push([key, lease]));
  return out;
}

describe('MvccStore lease changes: put', () => {
  it('reports a key attached by a put with a lease', () => {
    const { store, batches } = watched();
    store.put({ key: b('a'), value: b('1'), lease: 1n });
    expect(batches).toEqual([[change('a', 0n, 1n)]]);
    expect(store.range({ key: b('a') }).kvs[0]?.lease).toBe(1n);
  });

  it('reports an existing key without lease that a put attaches', () => {
    const { store, batches } = watched();
    store.put({ key: b('a'), value: b('1') });
    expect(batches).toEqual([]);
    store.put({ key: b('a'), value: b('2'), lease: 2n });
    expect(batches).toEqual([[change('a', 0n, 2n)]]);
  });

  it('reports nothing when a put keeps the same lease', () => {
    const { store, batches, commits } = watched();
    store.put({ key: b('a'), value: b('1'), lease: 1n });
    store.put({ key: b('a'), value: b('2'), lease: 1n });
    expect(batches).toEqual([[change('a', 0n, 1n)]]);
    // The put itself was committed (a new revision) all the same.
    expect(commits.map((commit) => commit.revision)).toEqual([2, 3]);
  });

  it('reports a move when a put re-attaches the key to another lease', () => {
    const { store, batches } = watched();
    store.put({ key: b('a'), value: b('1'), lease: 1n });
    store.put({ key: b('a'), value: b('2'), lease: 2n });
    expect(batches).toEqual([[change('a', 0n, 1n)], [change('a', 1n, 2n)]]);
  });

  it('reports a detach when a put gives no lease (lease 0 or absent)', () => {
    const { store, batches } = watched();
    store.put({ key: b('a'), value: b('1'), lease: 1n });
    store.put({ key: b('a'), value: b('2') });
    store.put({ key: b('b'), value: b('1'), lease: 2n });
    store.put({ key: b('b'), value: b('2'), lease: 0n });
    expect(batches).toEqual([
      [change('a', 0n, 1n)],
      [change('a', 1n, 0n)],
      [change('b', 0n, 2n)],
      [change('b', 2n, 0n)],
    ]);
    expect(leasedKeys(store)).toEqual([]);
  });

  it('reports nothing for ignoreLease, which keeps the lease', () => {
    const { store, batches } = watched();
    store.put({ key: b('a'), value: b('1'), lease: 1n });
    batches.length = 0;
    store.put({ key: b('a'), value: b('2'), ignoreLease: true });
    store.put({ key: b('a'), ignoreValue: true, ignoreLease: true });
    expect(batches).toEqual([]);
    expect(plain(store.range({ key: b('a') }).kvs[0])).toMatchObject({ value: '2', lease: 1n });
  });

  it('reports nothing for ignoreLease on a key without lease, nor for one that does not exist', () => {
    const { store, batches } = watched();
    store.put({ key: b('a'), value: b('1') });
    store.put({ key: b('a'), value: b('2'), ignoreLease: true });
    expect(catchErr(() => store.put({ key: b('nope'), ignoreLease: true })).code).toBe(
      'ErrKeyNotFound',
    );
    expect(batches).toEqual([]);
  });

  it('treats a key deleted earlier as new: a put with a lease attaches it from 0', () => {
    const { store, batches } = watched();
    store.put({ key: b('a'), value: b('1'), lease: 1n });
    store.deleteRange({ key: b('a') });
    store.put({ key: b('a'), value: b('2'), lease: 1n });
    expect(batches).toEqual([[change('a', 0n, 1n)], [change('a', 1n, 0n)], [change('a', 0n, 1n)]]);
  });

  it('names the key by its latin1 key string, also for bytes that are not UTF-8', () => {
    const { store, batches } = watched();
    store.put({ key: new Uint8Array([0xff, 0x00, 0x41]), value: b('1'), lease: 3n });
    expect(batches).toEqual([[change('\u00ff\u0000A', 0n, 3n)]]);
  });

  it('fails a put to a lease that does not exist with ErrLeaseNotFound and changes nothing', () => {
    const { store, batches, commits } = watched();
    store.put({ key: b('a'), value: b('1'), lease: 1n });
    batches.length = 0;
    commits.length = 0;
    const before = store.revision;
    expect(catchErr(() => store.put({ key: b('a'), value: b('2'), lease: 9n })).code).toBe(
      'ErrLeaseNotFound',
    );
    expect(catchErr(() => store.put({ key: b('new'), value: b('2'), lease: 9n })).code).toBe(
      'ErrLeaseNotFound',
    );
    expect(store.revision).toBe(before);
    expect(batches).toEqual([]);
    expect(commits).toEqual([]);
    expect(plain(store.range({ key: b('a') }).kvs[0])).toMatchObject({ value: '1', lease: 1n });
    expect(store.range({ key: b('new') }).count).toBe(0);
    expect(leasedKeys(store)).toEqual([['a', 1n]]);
  });

  it('checks the lease when the put is made: a revoked lease is not found any more', () => {
    const { store, live } = watched();
    store.put({ key: b('a'), value: b('1'), lease: 1n });
    live.delete(1n);
    expect(catchErr(() => store.put({ key: b('b'), value: b('1'), lease: 1n })).code).toBe(
      'ErrLeaseNotFound',
    );
  });

  it('hears each committed write once, with the revision already bumped', () => {
    const store = new MvccStore();
    const seen: { revision: number; lease: bigint | undefined }[] = [];
    store.onLeaseChange = () =>
      seen.push({ revision: store.revision, lease: store.range({ key: b('a') }).kvs[0]?.lease });
    store.put({ key: b('a'), value: b('1'), lease: 4n });
    expect(seen).toEqual([{ revision: 2, lease: 4n }]);
  });
});

describe('MvccStore lease changes: deleteRange', () => {
  it('reports a detach for a deleted key with a lease, nothing for one without', () => {
    const { store, batches } = watched();
    store.put({ key: b('a'), value: b('1'), lease: 1n });
    store.put({ key: b('b'), value: b('1') });
    batches.length = 0;
    store.deleteRange({ key: b('b') });
    expect(batches).toEqual([]);
    store.deleteRange({ key: b('a') });
    expect(batches).toEqual([[change('a', 1n, 0n)]]);
  });

  it('reports every leased key of a range, in key order, in one batch', () => {
    const { store, batches, commits } = watched();
    store.put({ key: b('d'), value: b('1'), lease: 2n });
    store.put({ key: b('a'), value: b('1'), lease: 1n });
    store.put({ key: b('c'), value: b('1') });
    store.put({ key: b('b'), value: b('1'), lease: 1n });
    store.put({ key: b('z'), value: b('1'), lease: 3n });
    batches.length = 0;
    commits.length = 0;
    const response = store.deleteRange({ key: b('a'), rangeEnd: b('e') });
    expect(response.deleted).toBe(4);
    expect(batches).toEqual([[change('a', 1n, 0n), change('b', 1n, 0n), change('d', 2n, 0n)]]);
    expect(commits).toHaveLength(1);
    expect(leasedKeys(store)).toEqual([['z', 3n]]);
  });

  it('reports nothing when the delete matches no key', () => {
    const { store, batches } = watched();
    store.put({ key: b('a'), value: b('1'), lease: 1n });
    batches.length = 0;
    const revision = store.revision;
    store.deleteRange({ key: b('x'), rangeEnd: ZERO });
    store.deleteRange({ key: b('b') });
    expect(batches).toEqual([]);
    expect(store.revision).toBe(revision);
  });
});

describe('MvccStore lease changes: txn', () => {
  /** a: lease 1, c: lease 2, d: no lease (revision 4). */
  function seeded() {
    const w = watched();
    w.store.put({ key: b('a'), value: b('1'), lease: 1n });
    w.store.put({ key: b('c'), value: b('1'), lease: 2n });
    w.store.put({ key: b('d'), value: b('1') });
    w.batches.length = 0;
    w.commits.length = 0;
    return w;
  }

  it('reports the changes of all its ops in op order, in one batch', () => {
    const { store, batches, commits } = seeded();
    const response = store.txn({
      success: [
        put('b', { lease: 3n }),
        del('a'),
        put('c'),
        get('b'),
        put('d', { lease: 1n }),
        put('e'),
      ],
    });
    expect(response.succeeded).toBe(true);
    expect(batches).toEqual([
      [change('b', 0n, 3n), change('a', 1n, 0n), change('c', 2n, 0n), change('d', 0n, 1n)],
    ]);
    expect(commits.map((commit) => commit.revision)).toEqual([5]);
    expect(leasedKeys(store)).toEqual([
      ['b', 3n],
      ['d', 1n],
    ]);
  });

  it('reports the changes of nested txns where they run', () => {
    const { store, batches } = seeded();
    store.txn({
      success: [
        put('x', { lease: 1n }),
        {
          requestTxn: {
            compare: [
              { key: b('d'), target: CompareTarget.LEASE, result: CompareResult.EQUAL, lease: 0n },
            ],
            success: [del('c')],
            failure: [put('y', { lease: 2n })],
          },
        },
        put('a', { lease: 3n }),
      ],
    });
    expect(batches).toEqual([[change('x', 0n, 1n), change('c', 2n, 0n), change('a', 1n, 3n)]]);
  });

  it('reports only the ops of the branch that ran', () => {
    const { store, batches } = seeded();
    const response = store.txn({
      compare: [
        { key: b('a'), target: CompareTarget.LEASE, result: CompareResult.EQUAL, lease: 2n },
      ],
      success: [put('s', { lease: 1n })],
      failure: [put('f', { lease: 2n }), del('a')],
    });
    expect(response.succeeded).toBe(false);
    expect(batches).toEqual([[change('f', 0n, 2n), change('a', 1n, 0n)]]);
  });

  it('reports nothing for a txn that writes nothing', () => {
    const { store, batches } = seeded();
    store.txn({ success: [get('a'), del('nothing-here')] });
    store.txn({});
    expect(batches).toEqual([]);
  });

  it('reports a key deleted twice by overlapping deletes once', () => {
    const { store, batches } = seeded();
    store.txn({ success: [del('a', b('c')), del('a'), del('a', ZERO)] });
    expect(batches).toEqual([[change('a', 1n, 0n), change('c', 2n, 0n)]]);
  });

  it('reports nothing for a txn refused before it runs (unknown lease in a later op)', () => {
    const { store, batches, commits } = seeded();
    const image = store.serialize();
    const error = catchErr(() =>
      store.txn({ success: [put('b', { lease: 1n }), del('a'), put('e', { lease: 9n })] }),
    );
    expect(error.code).toBe('ErrLeaseNotFound');
    expect(batches).toEqual([]);
    expect(commits).toEqual([]);
    expect(store.serialize()).toEqual(image);
  });

  it('reports nothing for a txn rolled back after some of its ops ran', () => {
    const { store, batches, commits, live } = seeded();
    const image = store.serialize();
    // Lease 3 is there when the txn is checked and gone when its put runs (the second
    // question about it), so the txn fails half-way and is rolled back.
    const exists = store.leaseExists;
    let asked3 = 0;
    store.leaseExists = (id) => {
      if (id === 3n && ++asked3 === 2) return false;
      return exists(id);
    };
    const error = catchErr(() =>
      store.txn({
        success: [put('b', { lease: 1n }), del('a'), del('c'), put('e', { lease: 3n })],
      }),
    );
    expect(error.code).toBe('ErrLeaseNotFound');
    expect(asked3).toBe(2);
    expect(batches).toEqual([]);
    expect(commits).toEqual([]);
    expect(store.serialize()).toEqual(image);
    expect(leasedKeys(store)).toEqual([
      ['a', 1n],
      ['c', 2n],
    ]);
    // The next write reports its own changes only.
    store.leaseExists = (id) => live.has(id);
    store.put({ key: b('e'), value: b('1'), lease: 3n });
    expect(batches).toEqual([[change('e', 0n, 3n)]]);
  });

  it('reports nothing for a txn refused by its shape (duplicate key)', () => {
    const { store, batches } = seeded();
    expect(
      catchErr(() => store.txn({ success: [put('a', { lease: 2n }), put('a', { lease: 3n })] }))
        .code,
    ).toBe('ErrDuplicateKey');
    expect(batches).toEqual([]);
  });
});

describe('MvccStore.deleteKeys', () => {
  it('deletes the live keys among those given in one revision and reports their detaches', () => {
    const { store, batches, commits } = watched();
    store.put({ key: b('a'), value: b('1'), lease: 1n });
    store.put({ key: b('b'), value: b('1'), lease: 1n });
    store.deleteRange({ key: b('b') });
    store.put({ key: b('c'), value: b('1') });
    store.put({ key: b('d'), value: b('1'), lease: 2n });
    batches.length = 0;
    commits.length = 0;
    const before = store.revision;
    const revision = store.deleteKeys([b('d'), b('b'), b('never'), b('a'), b('c'), b('a')]);
    expect(revision).toBe(before + 1);
    expect(store.revision).toBe(before + 1);
    expect(batches).toEqual([[change('d', 2n, 0n), change('a', 1n, 0n)]]);
    expect(commits).toHaveLength(1);
    expect(commits[0]?.revision).toBe(before + 1);
    expect(commits[0]?.events.map((event) => [event.type, s(event.kv.key)])).toEqual([
      ['delete', 'd'],
      ['delete', 'a'],
      ['delete', 'c'],
    ]);
    for (const event of commits[0]?.events ?? []) expect(event.kv.modRevision).toBe(before + 1);
    expect(store.range({ key: b('a'), rangeEnd: ZERO }).count).toBe(0);
    // Every key deleted at the same revision: the history shows them all there, in the
    // order they were deleted (sub-revision), as the live events.
    expect(
      store.history(b('a'), ZERO, before + 1, before + 1).map((event) => s(event.kv.key)),
    ).toEqual(['d', 'a', 'c']);
  });

  it('deletes a key only, never a range: a key that is a prefix of others takes only itself', () => {
    const { store } = watched();
    store.put({ key: b('a'), value: b('1'), lease: 1n });
    store.put({ key: b('ab'), value: b('1'), lease: 1n });
    store.deleteKeys([b('a')]);
    expect(store.range({ key: b('ab') }).count).toBe(1);
  });

  it('writes nothing when none of the keys is alive, and returns the current revision', () => {
    const { store, batches, commits } = watched();
    store.put({ key: b('a'), value: b('1'), lease: 1n });
    store.deleteRange({ key: b('a') });
    batches.length = 0;
    commits.length = 0;
    const before = store.revision;
    expect(store.deleteKeys([b('a'), b('never')])).toBe(before);
    expect(store.deleteKeys([])).toBe(before);
    expect(store.revision).toBe(before);
    expect(batches).toEqual([]);
    expect(commits).toEqual([]);
  });

  it('works without listeners', () => {
    const store = new MvccStore();
    store.put({ key: b('a'), value: b('1'), lease: 1n });
    expect(store.deleteKeys([b('a')])).toBe(3);
    expect(store.range({ key: b('a') }).count).toBe(0);
  });
});

describe('MvccStore.forEachLeasedKey', () => {
  it('calls back with every live key with a lease, in key order', () => {
    const { store } = watched();
    expect(leasedKeys(store)).toEqual([]);
    store.put({ key: b('m'), value: b('1'), lease: 2n });
    store.put({ key: b('c'), value: b('1'), lease: 1n });
    store.put({ key: b('x'), value: b('1') }); // no lease
    store.put({ key: b('d'), value: b('1'), lease: 1n });
    store.deleteRange({ key: b('d') }); // dead
    store.put({ key: b('e'), value: b('1'), lease: 3n });
    store.put({ key: b('e'), value: b('2') }); // detached by its last put
    store.put({ key: b('f'), value: b('1') });
    store.put({ key: b('f'), value: b('2'), lease: 3n }); // attached by its last put
    store.put({ key: b('g'), value: b('1'), lease: 1n });
    store.deleteRange({ key: b('g') });
    store.put({ key: b('g'), value: b('2'), lease: 2n }); // a new life with another lease
    expect(leasedKeys(store)).toEqual([
      ['c', 1n],
      ['f', 3n],
      ['g', 2n],
      ['m', 2n],
    ]);
  });

  it('is unchanged by compaction and by a serialize/deserialize round trip', () => {
    const { store } = watched();
    store.put({ key: b('a'), value: b('1'), lease: 1n });
    store.put({ key: b('a'), value: b('2'), lease: 2n });
    store.put({ key: b('b'), value: b('1'), lease: 3n });
    store.put({ key: b('c'), value: b('1'), lease: 3n });
    store.deleteRange({ key: b('c') });
    const expected = leasedKeys(store);
    expect(expected).toEqual([
      ['a', 2n],
      ['b', 3n],
    ]);
    store.compact(store.revision);
    expect(leasedKeys(store)).toEqual(expected);
    expect(leasedKeys(MvccStore.deserialize(store.serialize()))).toEqual(expected);
  });

  it('reports lease ids at the edges of int64', () => {
    const store = new MvccStore();
    const big = (1n << 63n) - 1n;
    store.put({ key: b('big'), value: b('1'), lease: big });
    store.put({ key: b('neg'), value: b('1'), lease: -5n });
    expect(leasedKeys(MvccStore.deserialize(store.serialize()))).toEqual([
      ['big', big],
      ['neg', -5n],
    ]);
  });
});

// --- property: the lease attachments the listener builds are those in the store ------

const KEYS = ['a', 'b', 'c', 'd', 'e', 'f'];
/** Leases 1-3 may exist (granted/revoked during the run); 9 never does; 0 is none. */
const LEASES = [0n, 1n, 2n, 3n, 9n];

type Op =
  | { op: 'put'; key: string; lease: bigint; ignoreLease: boolean }
  | { op: 'del'; key: string; end: string | undefined }
  | { op: 'txn'; cmpLease: bigint; success: TxnOp[]; failure: TxnOp[] }
  | { op: 'deleteKeys'; keys: string[] }
  | { op: 'toggle'; lease: bigint }
  | { op: 'compact' }
  | { op: 'restore' };
type TxnOp =
  | { op: 'put'; key: string; lease: bigint; ignoreLease: boolean }
  | { op: 'del'; key: string; end: string | undefined };

const keyArb = fc.constantFrom(...KEYS);
const leaseArb = fc.constantFrom(...LEASES);
const putArb = fc.record({
  op: fc.constant('put' as const),
  key: keyArb,
  lease: leaseArb,
  ignoreLease: fc.boolean(),
});
const delArb = fc.record({
  op: fc.constant('del' as const),
  key: keyArb,
  end: fc.option(fc.constantFrom('c', 'e', 'g', '\u0000'), { nil: undefined }),
});
const txnOpArb: fc.Arbitrary<TxnOp> = fc.oneof(putArb, delArb);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: putArb },
  { weight: 2, arbitrary: delArb },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('txn' as const),
      cmpLease: leaseArb,
      success: fc.array(txnOpArb, { maxLength: 4 }),
      failure: fc.array(txnOpArb, { maxLength: 4 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('deleteKeys' as const),
      keys: fc.array(keyArb, { maxLength: 4 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('toggle' as const),
      lease: fc.constantFrom(1n, 2n, 3n),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'compact' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'restore' as const }) },
);

function toPut(op: Extract<TxnOp, { op: 'put' }>): PutRequest {
  return op.ignoreLease
    ? { key: b(op.key), value: b('v'), ignoreLease: true }
    : { key: b(op.key), value: b('v'), lease: op.lease };
}

function toDelete(op: Extract<TxnOp, { op: 'del' }>): DeleteRangeRequest {
  if (op.end === undefined) return { key: b(op.key) };
  return { key: b(op.key), rangeEnd: op.end === '\u0000' ? ZERO : b(op.end) };
}

function toRequestOp(op: TxnOp): RequestOp {
  return op.op === 'put' ? { requestPut: toPut(op) } : { requestDeleteRange: toDelete(op) };
}

const byKey = (x: [string, bigint], y: [string, bigint]) =>
  x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0;

describe('MvccStore lease changes (property)', () => {
  it('the attachments built from the reported changes equal forEachLeasedKey after any writes', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const live = new Set<bigint>([1n, 2n, 3n]);
        // attached: what the listener built; every change must start where it left the key.
        const attached = new Map<string, bigint>();
        const listen = (changes: readonly LeaseChange[]) => {
          expect(changes.length).toBeGreaterThan(0);
          for (const { key, from, to } of changes) {
            expect(from).not.toBe(to);
            expect(attached.get(key) ?? 0n).toBe(from);
            if (to === 0n) attached.delete(key);
            else attached.set(key, to);
          }
        };
        let store = new MvccStore();
        const wire = (target: MvccStore) => {
          target.leaseExists = (id) => live.has(id);
          target.onLeaseChange = listen;
        };
        wire(store);
        for (const op of ops) {
          try {
            switch (op.op) {
              case 'put':
                store.put(toPut(op));
                break;
              case 'del':
                store.deleteRange(toDelete(op));
                break;
              case 'txn':
                store.txn({
                  compare: [
                    {
                      key: b('a'),
                      target: CompareTarget.LEASE,
                      result: CompareResult.EQUAL,
                      lease: op.cmpLease,
                    },
                  ],
                  success: op.success.map(toRequestOp),
                  failure: op.failure.map(toRequestOp),
                });
                break;
              case 'deleteKeys':
                store.deleteKeys(op.keys.map(b));
                break;
              case 'toggle':
                if (live.has(op.lease)) live.delete(op.lease);
                else live.add(op.lease);
                break;
              case 'compact':
                store.compact(store.revision);
                break;
              case 'restore':
                // A restored store starts from its own leased keys (LeaseTable.reset).
                store = MvccStore.deserialize(store.serialize());
                wire(store);
                attached.clear();
                store.forEachLeasedKey((key, lease) => attached.set(key, lease));
                break;
            }
          } catch (error) {
            if (!isMvccError(error)) throw error;
          }
          expect([...attached].sort(byKey)).toEqual(leasedKeys(store));
        }
      }),
      { numRuns: 300 },
    );
  });
});
