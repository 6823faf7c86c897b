import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type KeyValue, MvccStore, SortOrder, SortTarget } from '../../src/mvcc/index.js';

/**
 * A naive model of etcd's MVCC store: the full key -> record map at every revision, and
 * the compacted revision. Keys are latin1 strings (one char per byte).
 */
interface Rec {
  value: string;
  create: number;
  mod: number;
  version: number;
}

class Model {
  rev = 1;
  compacted = -1;
  readonly states = new Map<number, Map<string, Rec>>([[1, new Map()]]);

  private current(): Map<string, Rec> {
    return this.states.get(this.rev) as Map<string, Rec>;
  }

  /** write applies puts then deletes at one new revision; nothing written, nothing bumped. */
  write(puts: [string, string][], deletes: [string, string | undefined][]): number {
    const next = new Map(this.current());
    const at = this.rev + 1;
    let changed = 0;
    for (const [k, v] of puts) {
      const old = next.get(k);
      next.set(k, {
        value: v,
        create: old ? old.create : at,
        mod: at,
        version: old ? old.version + 1 : 1,
      });
      changed++;
    }
    for (const [start, end] of deletes) {
      for (const k of [...next.keys()]) {
        if (inRange(k, start, end)) {
          next.delete(k);
          changed++;
        }
      }
    }
    if (changed === 0) return this.rev;
    this.rev = at;
    this.states.set(at, next);
    return at;
  }

  range(
    start: string,
    end: string | undefined,
    revision: number,
  ): Rec[] | 'ErrFutureRev' | 'ErrCompacted' {
    if (revision > this.rev) return 'ErrFutureRev';
    const at = revision <= 0 ? this.rev : revision;
    if (at < this.compacted) return 'ErrCompacted';
    const state = this.states.get(at) as Map<string, Rec>;
    return [...state.entries()]
      .filter(([k]) => inRange(k, start, end))
      .sort(([a], [c]) => (a < c ? -1 : a > c ? 1 : 0))
      .map(([k, r]) => ({ ...r, value: `${k}=${r.value}` }));
  }

  compact(revision: number): 'ok' | 'ErrFutureRev' | 'ErrCompacted' {
    if (revision <= this.compacted) return 'ErrCompacted';
    if (revision > this.rev) return 'ErrFutureRev';
    this.compacted = revision;
    return 'ok';
  }
}

/** end undefined = single key; '\0' = open end (etcd), else [start, end). */
function inRange(k: string, start: string, end: string | undefined): boolean {
  if (end === undefined) return k === start;
  if (end === '\u0000') return k >= start;
  return k >= start && k < end;
}

const latin1 = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const fromLatin1 = (bytes: Uint8Array): string => String.fromCharCode(...bytes);

function observed(kvs: KeyValue[]): Rec[] {
  return kvs.map((kv) => ({
    value: `${fromLatin1(kv.key)}=${new TextDecoder().decode(kv.value)}`,
    create: kv.createRevision,
    mod: kv.modRevision,
    version: kv.version,
  }));
}

function outcome<T>(fn: () => T): T | string {
  try {
    return fn();
  } catch (err) {
    return (err as { code: string }).code;
  }
}

// Small alphabets so keys collide, and bytes 0x00/0xff to exercise ordering.
const keyArb = fc
  .array(fc.constantFrom('\u0000', 'a', 'b', '\u00ff'), { minLength: 1, maxLength: 3 })
  .map((cs) => cs.join(''));
const endArb = fc.option(fc.oneof(keyArb, fc.constant('\u0000')), { nil: undefined });
const valueArb = fc.constantFrom('x', 'y', 'z', '');

type Op =
  | { t: 'put'; k: string; v: string }
  | { t: 'del'; k: string; end: string | undefined }
  | { t: 'txn'; puts: [string, string][]; dels: [string, string | undefined][] }
  | { t: 'range'; k: string; end: string | undefined; back: number }
  | { t: 'compact'; back: number }
  | { t: 'snapshot' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('put' as const), k: keyArb, v: valueArb }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('del' as const), k: keyArb, end: endArb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('txn' as const),
      puts: fc.uniqueArray(fc.tuple(keyArb, valueArb), { maxLength: 4, selector: ([k]) => k }),
      dels: fc.array(fc.tuple(keyArb, fc.constant(undefined)), { maxLength: 2 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('range' as const),
      k: keyArb,
      end: endArb,
      back: fc.integer({ min: -2, max: 12 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('compact' as const),
      back: fc.integer({ min: -1, max: 8 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ t: 'snapshot' as const }) },
);

describe('MvccStore against a naive model', () => {
  it('agrees on every read, revision and error for random histories', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        let st = new MvccStore();
        const model = new Model();
        for (const op of ops) {
          switch (op.t) {
            case 'put': {
              const resp = st.put({ key: latin1(op.k), value: new TextEncoder().encode(op.v) });
              expect(resp.revision).toBe(model.write([[op.k, op.v]], []));
              break;
            }
            case 'del': {
              const rangeEnd = op.end === undefined ? undefined : latin1(op.end);
              const resp = st.deleteRange({ key: latin1(op.k), ...(rangeEnd ? { rangeEnd } : {}) });
              const before = model.rev;
              expect(resp.revision).toBe(model.write([], [[op.k, op.end]]));
              expect(resp.deleted > 0).toBe(model.rev !== before);
              break;
            }
            case 'txn': {
              // Model-side validity: etcd refuses a put overlapping a delete of the same txn.
              const clash = op.puts.some(([k]) => op.dels.some(([d]) => d === k));
              const got = outcome(() =>
                st.txn({
                  success: [
                    ...op.dels.map(([k]) => ({ requestDeleteRange: { key: latin1(k) } })),
                    ...op.puts.map(([k, v]) => ({
                      requestPut: { key: latin1(k), value: new TextEncoder().encode(v) },
                    })),
                  ],
                }),
              );
              if (clash) {
                expect(got).toBe('ErrDuplicateKey');
              } else {
                expect(typeof got).toBe('object');
                // etcd runs ops in order; deletes are listed first here.
                const rev = model.write(op.puts, op.dels);
                expect((got as { revision: number }).revision).toBe(rev);
              }
              break;
            }
            case 'range': {
              const revision = op.back <= 0 ? op.back : model.rev - op.back + 3;
              const rangeEnd = op.end === undefined ? undefined : latin1(op.end);
              const got = outcome(() =>
                st.range({ key: latin1(op.k), ...(rangeEnd ? { rangeEnd } : {}), revision }),
              );
              const want = model.range(op.k, op.end, revision);
              if (typeof want === 'string') {
                expect(got).toBe(want);
              } else {
                expect(typeof got).toBe('object');
                const resp = got as { kvs: KeyValue[]; count: number; revision: number };
                expect(observed(resp.kvs)).toEqual(want);
                expect(resp.count).toBe(want.length);
                expect(resp.revision).toBe(model.rev);
              }
              break;
            }
            case 'compact': {
              const revision = model.rev - op.back;
              const got = outcome(() => {
                st.compact(revision);
                return 'ok';
              });
              expect(got).toBe(model.compact(revision));
              break;
            }
            case 'snapshot':
              st = MvccStore.deserialize(st.serialize());
              break;
          }
          expect(st.revision).toBe(model.rev);
          expect(st.compactRevision).toBe(model.compacted);
        }
        // Finally, every readable revision agrees in full.
        for (let rev = Math.max(1, model.compacted); rev <= model.rev; rev++) {
          const all = st.range({
            key: new Uint8Array([0]),
            rangeEnd: new Uint8Array([0]),
            revision: rev,
          });
          expect(observed(all.kvs)).toEqual(model.range('\u0000', '\u0000', rev));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('sorted and limited reads agree with sorting the model', () => {
    const sortArb = fc.record({
      order: fc.constantFrom(SortOrder.NONE, SortOrder.ASCEND, SortOrder.DESCEND),
      target: fc.constantFrom(
        SortTarget.KEY,
        SortTarget.VERSION,
        SortTarget.CREATE,
        SortTarget.MOD,
        SortTarget.VALUE,
      ),
      limit: fc.integer({ min: 0, max: 5 }),
    });
    fc.assert(
      fc.property(fc.array(fc.tuple(keyArb, valueArb), { maxLength: 30 }), sortArb, (puts, q) => {
        const st = new MvccStore();
        const model = new Model();
        for (const [k, v] of puts) {
          st.put({ key: latin1(k), value: new TextEncoder().encode(v) });
          model.write([[k, v]], []);
        }
        const resp = st.range({
          key: new Uint8Array([0]),
          rangeEnd: new Uint8Array([0]),
          sortOrder: q.order,
          sortTarget: q.target,
          limit: q.limit,
        });
        const recs = model.range('\u0000', '\u0000', 0) as Rec[];
        const field = (r: Rec): number | string =>
          q.target === SortTarget.KEY
            ? r.value.slice(0, r.value.indexOf('='))
            : q.target === SortTarget.VERSION
              ? r.version
              : q.target === SortTarget.CREATE
                ? r.create
                : q.target === SortTarget.MOD
                  ? r.mod
                  : r.value.slice(r.value.indexOf('=') + 1);
        const desc = q.order === SortOrder.DESCEND;
        // etcd quirk: with order NONE it fetches only the first limit+1 keys (key order)
        // before sorting them by a non-KEY target.
        const fetched =
          q.order === SortOrder.NONE && q.limit > 0 ? recs.slice(0, q.limit + 1) : recs;
        const sorted = [...fetched].sort((a, c) => {
          const fa = field(a);
          const fc2 = field(c);
          const d = fa < fc2 ? -1 : fa > fc2 ? 1 : 0;
          return desc ? -d : d;
        });
        const want = q.limit > 0 ? sorted.slice(0, q.limit) : sorted;
        expect(observed(resp.kvs)).toEqual(want);
        expect(resp.count).toBe(recs.length);
        expect(resp.more).toBe(q.limit > 0 && recs.length > q.limit);
      }),
      { numRuns: 300 },
    );
  });
});
