import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MvccStore } from '../../src/mvcc/index.js';
import { b, catchErr } from './helpers.js';

// HashKV: members that applied the same writes agree on it, whatever their snapshot and
// compaction timing; any difference in the history it covers changes it.

type Step =
  | { readonly op: 'put'; readonly key: string; readonly value: string; readonly lease: bigint }
  | { readonly op: 'del'; readonly key: string }
  | { readonly op: 'txn'; readonly key: string; readonly values: readonly string[] }
  | { readonly op: 'compact'; readonly back: number };

function apply(store: MvccStore, step: Step): void {
  switch (step.op) {
    case 'put':
      store.put({ key: b(step.key), value: b(step.value), lease: step.lease });
      break;
    case 'del':
      store.deleteRange({ key: b(step.key) });
      break;
    case 'txn':
      // Several keys written in one txn: one revision.
      store.txn(
        {
          compare: [],
          success: step.values.map((value, i) => ({
            requestPut: { key: b(`${step.key}${i}`), value: b(value) },
          })),
          failure: [],
        },
        { maxTxnOps: 16 },
      );
      break;
    case 'compact': {
      const target = store.revision - step.back;
      if (target > store.compactRevision && target <= store.revision) store.compact(target);
      break;
    }
  }
}

const key = fc.constantFrom('a', 'b', 'c', 'dd');
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    op: fc.constant('put' as const),
    key,
    value: fc.string({ maxLength: 3 }),
    lease: fc.constantFrom(0n, 0n, 7n),
  }),
  fc.record({ op: fc.constant('del' as const), key }),
  fc.record({
    op: fc.constant('txn' as const),
    key,
    values: fc.array(fc.string({ maxLength: 2 }), { minLength: 2, maxLength: 3 }),
  }),
  fc.record({ op: fc.constant('compact' as const), back: fc.integer({ min: 0, max: 4 }) }),
);

describe('MvccStore.hashKV', () => {
  it('agrees between a store, its restored copy and one whose compaction pruning waits (property)', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), fc.nat(40), (steps, cut) => {
        const direct = new MvccStore();
        const deferred = new MvccStore();
        // A capture held open defers the physical pruning of every compaction.
        const capture = deferred.capture();
        let restored = new MvccStore();
        steps.forEach((s, i) => {
          apply(direct, s);
          apply(deferred, s);
          if (i === cut) restored = MvccStore.deserialize(direct.serialize());
          else if (i > cut) apply(restored, s);
        });
        if (cut >= steps.length) restored = MvccStore.deserialize(direct.serialize());
        const expected = direct.hashKV();
        expect(deferred.hashKV()).toEqual(expected);
        expect(restored.hashKV()).toEqual(expected);
        // And at every revision still readable.
        for (let rev = Math.max(direct.compactRevision, 1); rev <= direct.revision; rev++) {
          expect(deferred.hashKV(rev)).toEqual(direct.hashKV(rev));
          expect(restored.hashKV(rev)).toEqual(direct.hashKV(rev));
        }
        capture.release();
        expect(deferred.hashKV()).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('changes with a value, a lease, a deletion or the revision', () => {
    const build = (last: Step) => {
      const store = new MvccStore();
      apply(store, { op: 'put', key: 'a', value: '1', lease: 0n });
      apply(store, { op: 'put', key: 'b', value: '2', lease: 0n });
      apply(store, last);
      return store.hashKV().hash;
    };
    const base = build({ op: 'put', key: 'a', value: '3', lease: 0n });
    expect(build({ op: 'put', key: 'a', value: '3', lease: 0n })).toBe(base);
    expect(build({ op: 'put', key: 'a', value: '4', lease: 0n })).not.toBe(base);
    expect(build({ op: 'put', key: 'a', value: '3', lease: 7n })).not.toBe(base);
    expect(build({ op: 'put', key: 'c', value: '3', lease: 0n })).not.toBe(base);
    expect(build({ op: 'del', key: 'a' })).not.toBe(base);
    const store = new MvccStore();
    apply(store, { op: 'put', key: 'a', value: '1', lease: 0n });
    apply(store, { op: 'put', key: 'a', value: '2', lease: 0n });
    expect(store.hashKV(2).hash).not.toBe(store.hashKV(3).hash);
    expect(store.hashKV(3)).toEqual({ ...store.hashKV(), revision: 3 });
  });

  it('refuses a compacted or future revision', () => {
    const store = new MvccStore();
    for (const value of ['1', '2', '3']) apply(store, { op: 'put', key: 'a', value, lease: 0n });
    store.compact(3);
    expect(catchErr(() => store.hashKV(2)).code).toBe('ErrCompacted');
    expect(catchErr(() => store.hashKV(5)).code).toBe('ErrFutureRev');
    expect(store.hashKV(3).compactRevision).toBe(3);
  });
});
