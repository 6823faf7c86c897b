// The checker on hand-made histories with lease operations: a leasePut is a write of its
// value while its lease is live; a revoke deletes the key only while it still holds that
// leasePut's value, and a lease can be revoked once.
import { describe, expect, it } from 'vitest';
import { checkFinalState } from '../src/final-state.js';
import type { Op } from '../src/history.js';
import { checkLinearizable, pruneKeyHistory } from '../src/linearizability.js';
import { type RegisterState, stepRegister } from '../src/register-model.js';
import { op, r, type Spec, w } from './history-builders.js';

type Extra = Partial<Spec>;

/** lp is a leasePut of `value` attached to lease `L<value>`. */
const lp = (value: string, invoke: number, complete: number, extra: Extra = {}) =>
  op({ kind: 'leasePut', value, lease: `L${value}`, invoke, complete, ...extra });
/** rv revokes the lease of the leasePut of `value`. */
const rv = (value: string, invoke: number, complete: number, extra: Extra = {}) =>
  op({ kind: 'revoke', value, lease: `L${value}`, invoke, complete, ...extra });
const cas = (expect: string, value: string, invoke: number, complete: number, extra: Extra = {}) =>
  op({ kind: 'cas', expect, value, succeeded: true, invoke, complete, ...extra });
const verdict = (history: Op[]) => checkLinearizable(history).verdict;

describe('register model: lease operations', () => {
  it('a revoke deletes only its own leasePut value, once', () => {
    const revoke = rv('a', 0, 1);
    expect(stepRegister('a', revoke)).toEqual([true, null]);
    expect(stepRegister('b', revoke)).toEqual([true, 'b']);
    expect(stepRegister(null, revoke)).toEqual([true, null]);
    const revoked = { revoked: (lease: string) => lease === 'La' };
    expect(stepRegister('a', revoke, revoked)[0]).toBe(false);
    expect(stepRegister(null, lp('a', 0, 1), revoked)[0]).toBe(false);
    expect(stepRegister(null, lp('b', 0, 1), revoked)).toEqual([true, 'b']);
  });
});

describe('checkLinearizable with leases', () => {
  it('accepts a leased value read until its revoke, absent after', () => {
    expect(verdict([lp('a', 0, 1), r('a', 2, 3), rv('a', 4, 5), r(null, 6, 7)])).toBe('ok');
    // A leasePut is a write like any other: it can be overwritten and CASed.
    expect(verdict([lp('a', 0, 1), cas('a', 'b', 2, 3), r('b', 4, 5)])).toBe('ok');
  });

  it('rejects a read of the leased value after an acknowledged revoke that followed it', () => {
    const result = checkLinearizable([lp('a', 0, 1), rv('a', 2, 3), r('a', 4, 5)]);
    expect(result.verdict).toBe('violation');
    expect(result.keys[0]?.stuck?.op.kind).toBe('read');
    // The same with a stale follower that has seen the put but not the revoke.
    expect(verdict([w('x', 0, 1), lp('a', 2, 3), rv('a', 4, 5), r('x', 6, 7)])).toBe('violation');
  });

  it('lets a revoke after a plain overwrite leave the value alone', () => {
    const history = [lp('a', 0, 1), w('b', 2, 3), rv('a', 4, 5), r('b', 6, 7)];
    expect(verdict(history)).toBe('ok');
    // ... so the key cannot be absent afterwards.
    expect(verdict([lp('a', 0, 1), w('b', 2, 3), rv('a', 4, 5), r(null, 6, 7)])).toBe('violation');
    // A CAS detaches the key from the lease too.
    expect(verdict([lp('a', 0, 1), cas('a', 'c', 2, 3), rv('a', 4, 5), r('c', 6, 7)])).toBe('ok');
  });

  it('allows either order of a revoke concurrent with an overwrite', () => {
    const before = [lp('a', 0, 1), w('b', 2, 6), rv('a', 3, 5), r('b', 7, 8)];
    expect(verdict(before)).toBe('ok');
    const after = [lp('a', 0, 1), w('b', 2, 6), rv('a', 3, 5), r(null, 4, 4.5), r('b', 7, 8)];
    expect(verdict(after)).toBe('ok');
    // The revoke ran first (null was read), so b, written after it, must stay.
    const bad = [...after, r(null, 9, 10)];
    expect(verdict(bad)).toBe('violation');
  });

  it('lets an unknown revoke take effect late, or never, but not early', () => {
    const late = [
      lp('a', 0, 1),
      rv('a', 2, 3, { outcome: 'unknown' }),
      r('a', 4, 5),
      r(null, 6, 7),
    ];
    expect(verdict(late)).toBe('ok');
    const never = [lp('a', 0, 1), rv('a', 2, 3, { outcome: 'unknown' }), r('a', 4, 5)];
    expect(verdict(never)).toBe('ok');
    const early = [lp('a', 0, 1), r(null, 2, 3), rv('a', 4, 5, { outcome: 'unknown' })];
    expect(verdict(early)).toBe('violation');
    // Once the value is gone it cannot come back.
    const back = [
      lp('a', 0, 1),
      rv('a', 2, 3, { outcome: 'unknown' }),
      r(null, 4, 5),
      r('a', 6, 7),
    ];
    expect(verdict(back)).toBe('violation');
    // An unknown revoke cannot delete a value written after its leasePut was overwritten.
    const other = [
      lp('a', 0, 1),
      w('b', 2, 3),
      rv('a', 4, 5, { outcome: 'unknown' }),
      r(null, 6, 7),
    ];
    expect(verdict(other)).toBe('violation');
  });

  it('keeps an unknown leasePut that only its revoke observes', () => {
    // The leasePut's value is never read, but an acknowledged revoke of its lease
    // explains the absent key only if the leasePut took effect.
    const history = [
      w('x', 0, 1),
      lp('a', 2, 3, { outcome: 'unknown' }),
      rv('a', 4, 5),
      r(null, 6, 7),
    ];
    expect(pruneKeyHistory(history)).toHaveLength(4);
    expect(verdict(history)).toBe('ok');
    // Without the revoke, the unobserved unknown leasePut is pruned as before.
    const unobserved = [w('x', 0, 1), lp('a', 2, 3, { outcome: 'unknown' }), r('x', 6, 7)];
    expect(pruneKeyHistory(unobserved).map((o) => o.kind)).toEqual(['write', 'read']);
  });

  it('prunes unknown revokes that cannot matter', () => {
    // Nobody ever saw the key absent: an unknown revoke's only effect (null) is unseen.
    const unseen = [lp('a', 0, 1), rv('a', 2, 3, { outcome: 'unknown' }), w('b', 4, 5)];
    expect(pruneKeyHistory(unseen).map((o) => o.kind)).toEqual(['leasePut', 'write']);
    // A second revoke of a lease an acknowledged revoke revoked cannot have done anything.
    const twice = [
      lp('a', 0, 1),
      rv('a', 2, 3, { outcome: 'unknown' }),
      rv('a', 2, 4),
      r(null, 5, 6),
    ];
    expect(pruneKeyHistory(twice).map((o) => `${o.kind}/${o.outcome}`)).toEqual([
      'leasePut/ok',
      'revoke/ok',
      'read/ok',
    ]);
    expect(verdict(twice)).toBe('ok');
    // Failed revokes (e.g. NOT_FOUND proved a no-op) are dropped.
    expect(verdict([lp('a', 0, 1), rv('a', 2, 3, { outcome: 'fail' }), r('a', 4, 5)])).toBe('ok');
    expect(verdict([lp('a', 0, 1), rv('a', 2, 3, { outcome: 'fail' }), r(null, 4, 5)])).toBe(
      'violation',
    );
  });

  it('rejects revoking one lease twice and putting with a revoked lease', () => {
    expect(verdict([lp('a', 0, 1), rv('a', 2, 3), rv('a', 4, 5)])).toBe('violation');
    // The put and the revoke are concurrent; the read shows the put last, which etcd
    // refuses ("requested lease not found") — the key cannot hold a revoked lease's value.
    expect(verdict([lp('a', 0, 10), rv('a', 1, 2), r('a', 11, 12)])).toBe('violation');
    // The put first, then the revoke: fine.
    expect(verdict([lp('a', 0, 10), rv('a', 1, 2), r(null, 11, 12)])).toBe('ok');
  });

  it('still catches a stale read among lease operations', () => {
    const history = [lp('a', 0, 1), w('b', 2, 3), rv('a', 4, 5), r('a', 6, 7)];
    expect(verdict(history)).toBe('violation');
  });

  it('accepts long random histories of a correct leased register', () => {
    // A sequential lease-aware register with concurrent clients; each operation takes
    // effect at its own point inside its interval, some are unknown, some revokes find
    // their lease gone (then they are recorded as failed, as the workload proves them).
    let seed = 11;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    for (let round = 0; round < 3; round++) {
      let value: string | null = null;
      const revoked = new Set<string>();
      const leased: string[] = [];
      const history: Op[] = [];
      let t = 0;
      for (let i = 0; i < 1500; i++) {
        t += 0.01 + rand() * 2;
        const invoke = t - rand() * 5;
        const complete = t + rand() * 5;
        const unknown = rand() < 0.1 ? { outcome: 'unknown' as const } : {};
        const kind = rand();
        if (kind < 0.45) history.push(r(value, invoke, complete));
        else if (kind < 0.65) {
          value = `w${i}`;
          history.push(w(value, invoke, complete, unknown));
        } else if (kind < 0.75 && value !== null) {
          const from = value;
          value = `c${i}`;
          history.push(cas(from, value, invoke, complete, unknown));
        } else if (kind < 0.88) {
          value = `p${i}`;
          leased.push(value);
          history.push(lp(value, invoke, complete, unknown));
        } else if (leased.length > 0) {
          const target = leased[Math.floor(rand() * leased.length)] as string;
          if (revoked.has(`L${target}`)) {
            history.push(rv(target, invoke, complete, { outcome: 'fail' }));
          } else {
            revoked.add(`L${target}`);
            if (value === target) value = null;
            history.push(rv(target, invoke, complete, unknown));
          }
        }
      }
      history.push(r(value, t + 10, t + 11));
      const result = checkLinearizable(history, { timeoutMs: 20_000 });
      expect(result.verdict).toBe('ok');
      expect(checkFinalState(history, new Map([['k', value]]))).toEqual([]);
    }
  });
});

/**
 * bruteForce decides linearizability by trying every order and every subset of unknown
 * operations (no pruning, no memoization): the reference the checker must agree with.
 */
function bruteForce(history: readonly Op[]): boolean {
  const ops = history.filter((o) => o.outcome !== 'fail');
  const end = (o: Op) => (o.outcome === 'unknown' ? Number.POSITIVE_INFINITY : o.complete);
  const search = (remaining: Op[], state: RegisterState, revoked: Set<string>): boolean => {
    if (!remaining.some((o) => o.outcome === 'ok')) return true;
    for (const candidate of remaining) {
      const rest = remaining.filter((o) => o !== candidate);
      if (candidate.outcome === 'unknown' && search(rest, state, revoked)) return true;
      // candidate can go next only if no remaining operation finished before it began.
      if (remaining.some((o) => end(o) < candidate.invoke)) continue;
      const [possible, next] = stepRegister(state, candidate, {
        revoked: (lease) => revoked.has(lease),
      });
      if (!possible) continue;
      const after = new Set(revoked);
      if (candidate.kind === 'revoke' && candidate.lease !== undefined) after.add(candidate.lease);
      if (search(rest, next, after)) return true;
    }
    return false;
  };
  return search(ops, null, new Set());
}

describe('checkLinearizable against brute force', () => {
  it('agrees on small random histories with lease operations', () => {
    let seed = 5;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
    const counts = { ok: 0, violation: 0 };
    for (let round = 0; round < 3000; round++) {
      const history: Op[] = [];
      const values: string[] = [];
      const leased: string[] = [];
      for (let i = 0; i < 7; i++) {
        const invoke = Math.floor(rand() * 12);
        const complete = invoke + Math.floor(rand() * 5);
        const roll = rand();
        const outcome: Op['outcome'] = roll < 0.6 ? 'ok' : roll < 0.85 ? 'unknown' : 'fail';
        const kind = rand();
        const value = `v${i}`;
        if (kind < 0.35) {
          history.push(r(pick([null, ...values, ...leased]), invoke, complete, { outcome }));
        } else if (kind < 0.5) {
          values.push(value);
          history.push(w(value, invoke, complete, { outcome }));
        } else if (kind < 0.6 && values.length + leased.length > 0) {
          const expect = pick([...values, ...leased]);
          values.push(value);
          const failed = outcome === 'ok' && rand() < 0.4;
          history.push(
            failed
              ? op({
                  kind: 'cas',
                  expect,
                  value,
                  succeeded: false,
                  observed: pick([null, ...values.filter((v) => v !== expect)]),
                  invoke,
                  complete,
                })
              : cas(expect, value, invoke, complete, { outcome }),
          );
        } else if (kind < 0.8 || leased.length === 0) {
          leased.push(value);
          history.push(lp(value, invoke, complete, { outcome }));
        } else {
          history.push(rv(pick(leased), invoke, complete, { outcome }));
        }
      }
      const expected = bruteForce(history) ? 'ok' : 'violation';
      const got = checkLinearizable(history).verdict;
      if (got !== expected) {
        throw new Error(`checker ${got}, brute force ${expected}: ${JSON.stringify(history)}`);
      }
      counts[expected]++;
    }
    // Both verdicts are well represented.
    expect(counts.ok).toBeGreaterThan(300);
    expect(counts.violation).toBeGreaterThan(300);
  });
});

describe('checkFinalState with leases', () => {
  it('accepts a key absent after its leasePut was revoked', () => {
    expect(checkFinalState([lp('a', 0, 1), rv('a', 2, 3)], new Map([['k', null]]))).toEqual([]);
    // An unknown revoke, or an unknown leasePut, may explain it too.
    const unknownRevoke = [w('x', 0, 1), lp('a', 2, 3), rv('a', 4, 5, { outcome: 'unknown' })];
    expect(checkFinalState(unknownRevoke, new Map([['k', null]]))).toEqual([]);
    const unknownPut = [w('x', 0, 1), lp('a', 2, 3, { outcome: 'unknown' }), rv('a', 4, 5)];
    expect(checkFinalState(unknownPut, new Map([['k', null]]))).toEqual([]);
  });

  it('reports writes after the revoked leasePut when the key ends absent', () => {
    const history = [lp('a', 0, 1), w('b', 2, 3), rv('a', 4, 5)];
    const lost = checkFinalState(history, new Map([['k', null]]));
    expect(lost.map((l) => l.op.value)).toEqual(['b']);
    // A failed revoke explains nothing: everything acknowledged is lost.
    const failed = [lp('a', 0, 1), rv('a', 2, 3, { outcome: 'fail' })];
    expect(checkFinalState(failed, new Map([['k', null]])).map((l) => l.op.kind)).toEqual([
      'leasePut',
    ]);
    // Nor does a revoke whose leasePut failed.
    const noPut = [w('x', 0, 1), lp('a', 2, 3, { outcome: 'fail' }), rv('a', 4, 5)];
    expect(checkFinalState(noPut, new Map([['k', null]])).map((l) => l.op.value)).toEqual(['x']);
  });

  it('never takes a revoke for a write of its value', () => {
    // The final value is the leasePut's, though an acknowledged revoke of it followed.
    const history = [lp('a', 0, 1), rv('a', 2, 3)];
    const lost = checkFinalState(history, new Map([['k', 'a']]));
    expect(lost.map((l) => l.op.kind)).toEqual(['revoke']);
    // An unknown or concurrent revoke may not have happened (yet).
    expect(
      checkFinalState(
        [lp('a', 0, 1), rv('a', 2, 3, { outcome: 'unknown' })],
        new Map([['k', 'a']]),
      ),
    ).toEqual([]);
    expect(checkFinalState([lp('a', 0, 5), rv('a', 2, 3)], new Map([['k', 'a']]))).toEqual([]);
    // Revokes of other leases leave a plain value alone.
    const plain = [lp('a', 0, 1), w('b', 2, 3), rv('a', 4, 5)];
    expect(checkFinalState(plain, new Map([['k', 'b']]))).toEqual([]);
    // A value only a revoke carries was never written.
    const never = [w('x', 0, 1), rv('a', 2, 3)];
    expect(checkFinalState(never, new Map([['k', 'a']])).map((l) => l.op.value)).toEqual(['x']);
  });
});
