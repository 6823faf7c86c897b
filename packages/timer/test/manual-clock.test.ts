import { describe, expect, it } from 'vitest';
import { ManualClock, realClock } from '../src/index.js';

describe('ManualClock', () => {
  it('reads its start time until advanced', () => {
    const clock = new ManualClock(500);
    expect(clock.now()).toBe(500);
    clock.advance(20);
    expect(clock.now()).toBe(520);
  });

  it('runs due timeouts in due-time order, ties in set order, at their due instant', () => {
    const clock = new ManualClock();
    const seen: string[] = [];
    clock.setTimeout(() => seen.push(`c@${clock.now()}`), 30);
    clock.setTimeout(() => seen.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => seen.push(`b1@${clock.now()}`), 20);
    clock.setTimeout(() => seen.push(`b2@${clock.now()}`), 20);
    expect(clock.advance(25)).toBe(3);
    expect(seen).toEqual(['a@10', 'b1@20', 'b2@20']);
    expect(clock.now()).toBe(25);
    expect(clock.pendingCount).toBe(1);
    clock.advance(5);
    expect(seen).toEqual(['a@10', 'b1@20', 'b2@20', 'c@30']);
  });

  it('runs timeouts set by a callback within the same advance when they fall due', () => {
    const clock = new ManualClock();
    const seen: number[] = [];
    clock.setTimeout(() => {
      seen.push(clock.now());
      clock.setTimeout(() => seen.push(clock.now()), 5);
      clock.setTimeout(() => seen.push(clock.now()), 50);
    }, 10);
    clock.advance(20);
    expect(seen).toEqual([10, 15]);
    expect(clock.nextDueAt()).toBe(60);
  });

  it('treats negative and NaN delays as zero and rejects delays Node cannot time', () => {
    const clock = new ManualClock();
    let ran = 0;
    clock.setTimeout(() => ran++, -5);
    clock.setTimeout(() => ran++, Number.NaN);
    clock.advance(0);
    expect(ran).toBe(2);
    expect(() => clock.setTimeout(() => {}, 2 ** 31)).toThrow(RangeError);
  });

  it('clearTimeout cancels, ignores spent handles and rejects foreign ones', () => {
    const clock = new ManualClock();
    let ran = 0;
    const handle = clock.setTimeout(() => ran++, 10);
    clock.clearTimeout(handle);
    clock.advance(100);
    expect(ran).toBe(0);
    clock.clearTimeout(handle);
    const other = new ManualClock();
    expect(() => clock.clearTimeout(other.setTimeout(() => {}, 1))).toThrow(TypeError);
    const real = realClock.setTimeout(() => {}, 1000);
    expect(() => clock.clearTimeout(real)).toThrow(TypeError);
    realClock.clearTimeout(real);
  });

  it('never moves backwards', () => {
    const clock = new ManualClock(100);
    expect(() => clock.advance(-1)).toThrow(RangeError);
    expect(() => clock.advanceTo(99)).toThrow(/never goes back/);
    expect(() => clock.advance(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });

  it('runNext and runAll jump to the next due timeout', () => {
    const clock = new ManualClock();
    const seen: number[] = [];
    clock.setTimeout(() => seen.push(clock.now()), 40);
    clock.setTimeout(() => seen.push(clock.now()), 7);
    expect(clock.runNext()).toBe(true);
    expect(seen).toEqual([7]);
    expect(clock.runAll()).toBe(1);
    expect(seen).toEqual([7, 40]);
    expect(clock.runNext()).toBe(false);
  });

  it('runAll refuses to loop forever on a periodic timeout', () => {
    const clock = new ManualClock();
    const rearm = (): void => {
      clock.setTimeout(rearm, 1);
    };
    rearm();
    expect(() => clock.runAll(50)).toThrow(/still 1 timeout/);
  });

  it('propagates a callback exception and keeps later timeouts pending', () => {
    const clock = new ManualClock();
    let later = 0;
    clock.setTimeout(() => {
      throw new Error('boom');
    }, 10);
    clock.setTimeout(() => later++, 20);
    expect(() => clock.advance(30)).toThrow('boom');
    expect(clock.now()).toBe(10);
    expect(clock.pendingCount).toBe(1);
    clock.advance(10);
    expect(later).toBe(1);
  });
});

describe('realClock', () => {
  it('is monotonic and fires timeouts no earlier than asked', async () => {
    const start = realClock.now();
    const firedAt = await new Promise<number>((resolve) => {
      realClock.setTimeout(() => resolve(realClock.now()), 20);
    });
    // Node may fire up to 1 ms "early" against performance.now() through rounding.
    expect(firedAt - start).toBeGreaterThanOrEqual(19);
  });

  it('clearTimeout cancels a real timeout', async () => {
    let ran = false;
    const handle = realClock.setTimeout(() => {
      ran = true;
    }, 5);
    realClock.clearTimeout(handle);
    await new Promise((resolve) => globalThis.setTimeout(resolve, 20));
    expect(ran).toBe(false);
    expect(() => realClock.clearTimeout(new ManualClock().setTimeout(() => {}, 1))).toThrow(
      TypeError,
    );
  });
});
