import { seededRandom } from '@raftkit/core';
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/index.js';

describe('backoffDelay', () => {
  it('draws from [0, min(max, base × 2^attempt)] (full jitter)', () => {
    const random = seededRandom(7);
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = Math.min(5000, 100 * 2 ** attempt);
      for (let i = 0; i < 200; i++) {
        const delay = backoffDelay(attempt, { baseMs: 100, maxMs: 5000, random });
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(ceiling);
      }
    }
  });

  it('reaches both ends of the window with an extreme random source', () => {
    const options = { baseMs: 50, maxMs: 1000 };
    expect(backoffDelay(3, { ...options, random: () => 0 })).toBe(0);
    expect(backoffDelay(3, { ...options, random: (bound) => bound - 1 })).toBe(400);
    expect(backoffDelay(10, { ...options, random: (bound) => bound - 1 })).toBe(1000);
  });

  it('stays capped for huge attempt counts', () => {
    const delay = backoffDelay(5000, { baseMs: 1, maxMs: 30_000, random: (bound) => bound - 1 });
    expect(delay).toBe(30_000);
  });

  it('is reproducible with a seeded source', () => {
    const run = (): number[] => {
      const random = seededRandom(42);
      return [0, 1, 2, 3, 4].map((attempt) =>
        backoffDelay(attempt, { baseMs: 100, maxMs: 10_000, random }),
      );
    };
    expect(run()).toEqual(run());
  });

  it('uses Math.random when no source is given', () => {
    const delay = backoffDelay(2, { baseMs: 10, maxMs: 100 });
    expect(delay).toBeGreaterThanOrEqual(0);
    expect(delay).toBeLessThanOrEqual(40);
  });

  it('rejects nonsense arguments', () => {
    expect(() => backoffDelay(-1, { baseMs: 1, maxMs: 2 })).toThrow(/attempt/);
    expect(() => backoffDelay(1.5, { baseMs: 1, maxMs: 2 })).toThrow(/attempt/);
    expect(() => backoffDelay(0, { baseMs: 0, maxMs: 2 })).toThrow(/baseMs/);
    expect(() => backoffDelay(0, { baseMs: 10, maxMs: 5 })).toThrow(/maxMs/);
  });
});
