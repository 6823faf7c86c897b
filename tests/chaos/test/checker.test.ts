import { describe, expect, it } from 'vitest';
import { availabilityByPhase } from '../src/availability.js';
import { checkFinalState } from '../src/final-state.js';
import type { Op } from '../src/history.js';
import { checkLinearizable, pruneKeyHistory } from '../src/linearizability.js';
import { op, r, type Spec, w } from './history-builders.js';

const cas = (
  expect: string,
  value: string,
  succeeded: boolean,
  invoke: number,
  complete: number,
  extra: Partial<Spec> = {},
) =>
  op({
    kind: 'cas',
    expect,
    value,
    succeeded,
    invoke,
    complete,
    ...(succeeded ? {} : { observed: extra.observed ?? null }),
    ...extra,
  });

describe('checkLinearizable', () => {
  it('accepts an empty history and a sequential one', () => {
    expect(checkLinearizable([]).verdict).toBe('ok');
    expect(checkLinearizable([r(null, 0, 1), w('a', 2, 3), r('a', 4, 5)]).verdict).toBe('ok');
  });

  it('accepts concurrent overlapping operations in any valid order', () => {
    const history = [
      w('a', 0, 10),
      w('b', 1, 11),
      r('b', 2, 3), // b linearized before a ...
      r('a', 12, 13), // ... then a
      cas('a', 'c', true, 14, 20),
      r('a', 15, 16), // the CAS takes effect after this read
      r('c', 21, 22),
    ];
    expect(checkLinearizable(history).verdict).toBe('ok');
  });

  it('rejects a stale read', () => {
    const history = [w('a', 0, 1), w('b', 2, 3), r('a', 4, 5)];
    const result = checkLinearizable(history);
    expect(result.verdict).toBe('violation');
    expect(result.keys[0]?.stuck?.op.kind).toBe('read');
  });

  it('rejects a lost write (read of the initial value after an acknowledged write)', () => {
    expect(checkLinearizable([w('a', 0, 1), r(null, 2, 3)]).verdict).toBe('violation');
  });

  it('rejects a CAS anomaly: two CASes from the same value both succeed', () => {
    const history = [w('a', 0, 1), cas('a', 'b', true, 2, 10), cas('a', 'c', true, 3, 11)];
    expect(checkLinearizable(history).verdict).toBe('violation');
  });

  it('rejects a CAS that failed although its compare held', () => {
    const history = [w('a', 0, 1), cas('a', 'b', false, 2, 3, { observed: 'a' })];
    expect(checkLinearizable(history).verdict).toBe('violation');
  });

  it('lets an unknown write take effect late, or never', () => {
    const late = [w('a', 0, 1), w('b', 2, 3, { outcome: 'unknown' }), r('a', 4, 5), r('b', 6, 7)];
    expect(checkLinearizable(late).verdict).toBe('ok');
    const never = [w('a', 0, 1), w('b', 2, 3, { outcome: 'unknown' }), r('a', 4, 5)];
    expect(checkLinearizable(never).verdict).toBe('ok');
    // But not before its invocation.
    const early = [w('a', 0, 1), r('b', 2, 3), w('b', 4, 5, { outcome: 'unknown' })];
    expect(checkLinearizable(early).verdict).toBe('violation');
  });

  it('ignores failed operations', () => {
    const history = [w('a', 0, 1), w('b', 2, 3, { outcome: 'fail' }), r('a', 4, 5)];
    expect(checkLinearizable(history).verdict).toBe('ok');
    const seen = [w('a', 0, 1), w('b', 2, 3, { outcome: 'fail' }), r('b', 4, 5)];
    expect(checkLinearizable(seen).verdict).toBe('violation');
  });

  it('checks keys independently', () => {
    const history = [
      w('a', 0, 1, { key: 'x' }),
      r(null, 2, 3, { key: 'y' }),
      r('a', 2, 3, { key: 'x' }),
    ];
    expect(checkLinearizable(history).verdict).toBe('ok');
    const bad = [...history, r('a', 4, 5, { key: 'y' })];
    const result = checkLinearizable(bad);
    expect(result.verdict).toBe('violation');
    expect(result.keys.find((k) => k.verdict === 'violation')?.key).toBe('y');
  });

  it('prunes unknown writes nobody observed', () => {
    const history = [
      w('a', 0, 1, { outcome: 'unknown' }),
      w('b', 0, 1, { outcome: 'unknown' }),
      r('b', 2, 3),
    ];
    expect(pruneKeyHistory(history).map((o) => o.value ?? o.observed)).toEqual(['b', 'b']);
  });

  it('reports inconclusive, never ok, when the budget runs out', () => {
    // Many concurrent unknown writes all observed in a scrambled order: a big search.
    const history: Op[] = [];
    for (let i = 0; i < 22; i++) history.push(w(`v${i}`, 0, 1, { outcome: 'unknown' }));
    for (let i = 0; i < 22; i++) history.push(r(`v${(i * 7) % 22}`, 2 + i, 2 + i + 0.5));
    history.push(r('nope', 100, 101));
    const result = checkLinearizable(history, { timeoutMs: 0 });
    expect(result.verdict).not.toBe('ok');
  });

  it('handles a long random valid history quickly', () => {
    // Simulate a real register with concurrent clients, recording true linearization points.
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    let value: string | null = null;
    const history: Op[] = [];
    let t = 0;
    for (let i = 0; i < 3000; i++) {
      // Each operation takes effect at `point`, strictly increasing, inside its interval.
      t += 0.01 + rand() * 2;
      const point = t;
      const invoke = point - rand() * 5;
      const complete = point + rand() * 5;
      const kind = rand();
      if (kind < 0.4) history.push(r(value, invoke, complete));
      else if (kind < 0.7) {
        value = `w${i}`;
        history.push(w(value, invoke, complete, { outcome: rand() < 0.1 ? 'unknown' : 'ok' }));
      } else {
        const expectValue: string = value ?? 'none';
        if (value === expectValue) {
          value = `c${i}`;
          history.push(cas(expectValue, value, true, invoke, complete));
        } else
          history.push(cas(expectValue, `c${i}`, false, invoke, complete, { observed: value }));
      }
    }
    const started = performance.now();
    const result = checkLinearizable(history, { timeoutMs: 20_000 });
    expect(result.verdict).toBe('ok');
    expect(performance.now() - started).toBeLessThan(20_000);
  });
});

describe('checkFinalState', () => {
  it('accepts a final value that could be last', () => {
    const history = [w('a', 0, 10), w('b', 5, 12), w('c', 20, 21, { outcome: 'unknown' })];
    expect(checkFinalState(history, new Map([['k', 'a']]))).toEqual([]);
    expect(checkFinalState(history, new Map([['k', 'c']]))).toEqual([]);
  });

  it('reports an acknowledged write that is missing at the end', () => {
    const history = [w('a', 0, 1), w('b', 2, 3)];
    const lost = checkFinalState(history, new Map([['k', 'a']]));
    expect(lost.map((l) => l.op.value)).toEqual(['b']);
    expect(checkFinalState(history, new Map([['k', null]])).length).toBe(2);
  });
});

describe('availabilityByPhase', () => {
  it('counts ok operations by the phase of their invocation', () => {
    const history = [w('a', 0, 1), w('b', 5, 6, { outcome: 'unknown' }), r('a', 12, 13)];
    const phases = availabilityByPhase(history, [
      { name: 'none', start: 0, end: 10 },
      { name: 'kill', start: 10, end: 20 },
    ]);
    expect(phases.map((p) => [p.ops, p.ok])).toEqual([
      [2, 1],
      [1, 1],
    ]);
  });
});
