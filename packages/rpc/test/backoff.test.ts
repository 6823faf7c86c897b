import { describe, expect, it } from 'vitest';
import { Backoff, toGrpcTarget } from '../src/index.js';

describe('Backoff', () => {
  it('grows exponentially to the cap, and reset starts over', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1_000, jitter: 0 });
    expect([1, 2, 3, 4, 5, 6].map(() => backoff.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
    backoff.reset();
    expect(backoff.next()).toBe(100);
  });

  it('jitters within [base × (1 − jitter), base]', () => {
    const low = new Backoff({ initialMs: 1_000, jitter: 0.5, random: () => 0.999_999 });
    const high = new Backoff({ initialMs: 1_000, jitter: 0.5, random: () => 0 });
    expect(low.next()).toBe(500);
    expect(high.next()).toBe(1_000);
    const random = new Backoff({ initialMs: 1_000, maxMs: 1_000 });
    for (let i = 0; i < 100; i++) {
      const delay = random.next();
      expect(delay).toBeGreaterThanOrEqual(500);
      expect(delay).toBeLessThanOrEqual(1_000);
    }
  });

  it('never overflows, however many failures', () => {
    const backoff = new Backoff({ initialMs: 1, maxMs: 50, jitter: 0 });
    for (let i = 0; i < 10_000; i++) backoff.next();
    expect(backoff.next()).toBe(50);
  });

  it('rejects nonsense options', () => {
    expect(() => new Backoff({ initialMs: 0 })).toThrow(RangeError);
    expect(() => new Backoff({ initialMs: 10, maxMs: 5 })).toThrow(RangeError);
  });
});

describe('toGrpcTarget', () => {
  it('accepts etcd-style peer URLs and bare host:port', () => {
    expect(toGrpcTarget('http://10.0.0.1:2380')).toBe('10.0.0.1:2380');
    expect(toGrpcTarget('https://node-1.example:2380/')).toBe('node-1.example:2380');
    expect(toGrpcTarget(' 127.0.0.1:0 ')).toBe('127.0.0.1:0');
  });
});
