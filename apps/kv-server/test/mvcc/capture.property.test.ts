import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MvccError, MvccStore } from '../../src/mvcc/index.js';

// A snapshot encoded from a capture while writes and compactions go on must be exactly
// the state at the capture, and a compaction deferred by the capture must leave the
// store exactly as if it had run at once.

const enc = new TextEncoder();
const key = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f').map((k) => enc.encode(k));

type Op =
  | { kind: 'put'; key: Uint8Array; value: number }
  | { kind: 'delete'; key: Uint8Array; prefix: boolean }
  | { kind: 'txn'; a: Uint8Array; b: Uint8Array; value: number }
  | { kind: 'compact'; back: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({ kind: fc.constant('put' as const), key, value: fc.nat(999) }),
    weight: 5,
  },
  {
    arbitrary: fc.record({ kind: fc.constant('delete' as const), key, prefix: fc.boolean() }),
    weight: 2,
  },
  {
    arbitrary: fc.record({ kind: fc.constant('txn' as const), a: key, b: key, value: fc.nat(999) }),
    weight: 2,
  },
  { arbitrary: fc.record({ kind: fc.constant('compact' as const), back: fc.nat(6) }), weight: 1 },
);

function run(store: MvccStore, o: Op): void {
  try {
    switch (o.kind) {
      case 'put':
        store.put({
          key: o.key,
          value: enc.encode(`v${o.value}`),
          lease: o.value % 3 === 0 ? 7n : 0n,
        });
        break;
      case 'delete':
        store.deleteRange(
          o.prefix ? { key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) } : { key: o.key },
        );
        break;
      case 'txn':
        // Two writes to possibly the same key in one txn share a revision.
        store.txn({
          compare: [],
          success: [
            { requestPut: { key: o.a, value: enc.encode(`t${o.value}`) } },
            { requestPut: { key: o.b, value: enc.encode(`u${o.value}`) } },
          ],
          failure: [],
        });
        break;
      case 'compact':
        store.compact(Math.max(1, store.revision - o.back));
        break;
    }
  } catch (error) {
    if (!(error instanceof MvccError)) throw error;
  }
}

function drain(generator: Generator<void, Uint8Array, void>): Uint8Array {
  let step = generator.next();
  while (step.done !== true) step = generator.next();
  return step.value;
}

describe('MvccStore.capture', () => {
  it('encodes exactly the captured state while writes and compactions go on, and defers pruning', () => {
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 40 }),
        fc.array(op, { maxLength: 40 }),
        fc.integer({ min: 1, max: 5 }),
        (before, after, slice) => {
          const store = new MvccStore();
          const reference = new MvccStore();
          for (const o of before) {
            run(store, o);
            run(reference, o);
          }
          const atCapture = store.serialize();
          const capture = store.capture();
          expect(capture.revision).toBe(store.revision);
          const encoding = capture.encode(slice);
          // Interleave the encoding with the later writes.
          let step = encoding.next();
          for (const o of after) {
            run(store, o);
            run(reference, o);
            if (step.done !== true) step = encoding.next();
          }
          while (step.done !== true) step = encoding.next();
          expect(step.value).toEqual(atCapture);
          expect(MvccStore.deserialize(step.value).serialize()).toEqual(atCapture);
          // Reads behave the same with the pruning deferred...
          const all = { key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) };
          expect(store.range(all)).toEqual(reference.range(all));
          expect(store.compactRevision).toBe(reference.compactRevision);
          // ...and once released the store is exactly the one that compacted at once.
          capture.release();
          capture.release();
          expect(store.serialize()).toEqual(reference.serialize());
        },
      ),
      { numRuns: 300 },
    );
  });

  it('captures of a store with nothing after them encode like serialize', () => {
    const store = new MvccStore();
    store.put({ key: enc.encode('k'), value: enc.encode('v') });
    const capture = store.capture();
    expect(drain(capture.encode())).toEqual(store.serialize());
    capture.release();
  });
});
