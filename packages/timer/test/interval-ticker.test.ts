import { describe, expect, it } from 'vitest';
import {
  type Clock,
  IntervalTicker,
  ManualClock,
  realClock,
  type TimeoutOptions,
  type TimerHandle,
} from '../src/index.js';

/**
 * LaggyClock wraps a ManualClock and fires each timeout `lag(n)` ms away from when it was
 * asked for (late if positive, early if negative), like a loaded event loop or coarse
 * timer granularity; `now()` stays truthful.
 */
class LaggyClock implements Clock {
  private calls = 0;
  constructor(
    readonly inner: ManualClock,
    private readonly lag: (call: number) => number,
  ) {}
  now(): number {
    return this.inner.now();
  }
  setTimeout(callback: () => void, delayMs: number, options?: TimeoutOptions): TimerHandle {
    return this.inner.setTimeout(callback, delayMs + this.lag(this.calls++), options);
  }
  clearTimeout(handle: TimerHandle): void {
    this.inner.clearTimeout(handle);
  }
}

function recordTicks(clock: Clock, ticker: IntervalTicker): number[] {
  const times: number[] = [];
  ticker.start(() => times.push(clock.now()));
  return times;
}

describe('IntervalTicker on a ManualClock', () => {
  it('ticks once per interval, the first one interval after start', () => {
    const clock = new ManualClock(1_000);
    const ticker = new IntervalTicker({ intervalMs: 100, clock });
    const times = recordTicks(clock, ticker);
    clock.advance(99);
    expect(times).toEqual([]);
    clock.advance(901);
    expect(times).toEqual([1100, 1200, 1300, 1400, 1500, 1600, 1700, 1800, 1900, 2000]);
    expect(ticker.ticks).toBe(10);
    expect(ticker.skippedTicks).toBe(0);
    ticker.stop();
  });

  it('does not drift when every timeout fires late', () => {
    // A naive "now + interval" chain would be 7 ms later on every tick: 700 ms after 100.
    const manual = new ManualClock();
    const clock = new LaggyClock(manual, () => 7);
    const ticker = new IntervalTicker({ intervalMs: 100, clock });
    const times = recordTicks(clock, ticker);
    manual.advance(10_010);
    expect(times).toHaveLength(100);
    times.forEach((time, index) => {
      expect(time).toBe((index + 1) * 100 + 7);
    });
    ticker.stop();
  });

  it('handles fractional intervals without accumulating float error', () => {
    const clock = new ManualClock();
    const ticker = new IntervalTicker({ intervalMs: 0.1, clock });
    recordTicks(clock, ticker);
    clock.advance(1_000);
    expect(ticker.ticks).toBe(10_000);
    ticker.stop();
  });

  it('never delivers a tick early when woken before it is due', () => {
    const manual = new ManualClock();
    // Every other timeout fires 3 ms early.
    const clock = new LaggyClock(manual, (call) => (call % 2 === 0 ? -3 : 0));
    const ticker = new IntervalTicker({ intervalMs: 50, clock });
    const times = recordTicks(clock, ticker);
    manual.advance(500);
    expect(times).toEqual([50, 100, 150, 200, 250, 300, 350, 400, 450, 500]);
    ticker.stop();
  });

  it('after a stall delivers one tick, skips the rest and stays on the timeline', () => {
    const manual = new ManualClock();
    // The third timeout is held up 550 ms, as if the event loop were blocked.
    const clock = new LaggyClock(manual, (call) => (call === 2 ? 550 : 0));
    const skips: Array<[number, number]> = [];
    const ticker = new IntervalTicker({
      intervalMs: 100,
      clock,
      onSkipped: (skipped, lateMs) => skips.push([skipped, lateMs]),
    });
    const times = recordTicks(clock, ticker);
    manual.advance(1_000);
    // Ticks 3..8 fall due at once at t=850: one is delivered, five are skipped; tick 9
    // comes at 900, on the original timeline.
    expect(times).toEqual([100, 200, 850, 900, 1000]);
    expect(skips).toEqual([[5, 550]]);
    expect(ticker.ticks).toBe(5);
    expect(ticker.skippedTicks).toBe(5);
    ticker.stop();
  });

  it('delivers up to maxBurst owed ticks back to back', () => {
    const manual = new ManualClock();
    const clock = new LaggyClock(manual, (call) => (call === 0 ? 560 : 0));
    const ticker = new IntervalTicker({ intervalMs: 100, clock, maxBurst: 3 });
    const times = recordTicks(clock, ticker);
    manual.advance(700);
    expect(times).toEqual([660, 660, 660, 700]);
    expect(ticker.skippedTicks).toBe(3);
    ticker.stop();
  });

  it('stop leaves no timeout pending and no tick arrives afterwards', () => {
    const clock = new ManualClock();
    const ticker = new IntervalTicker({ intervalMs: 10, clock });
    const times = recordTicks(clock, ticker);
    clock.advance(35);
    expect(clock.pendingCount).toBe(1);
    ticker.stop();
    expect(ticker.running).toBe(false);
    expect(clock.pendingCount).toBe(0);
    clock.advance(1_000);
    expect(times).toEqual([10, 20, 30]);
    ticker.stop(); // idempotent
  });

  it('stop from inside onTick ends a burst in progress', () => {
    const manual = new ManualClock();
    const clock = new LaggyClock(manual, (call) => (call === 0 ? 500 : 0));
    const ticker = new IntervalTicker({ intervalMs: 100, clock, maxBurst: 10 });
    let ticks = 0;
    ticker.start(() => {
      ticks++;
      if (ticks === 2) ticker.stop();
    });
    manual.advance(2_000);
    expect(ticks).toBe(2);
    expect(manual.pendingCount).toBe(0);
  });

  it('restarts on a fresh timeline and refuses a double start', () => {
    const clock = new ManualClock();
    const ticker = new IntervalTicker({ intervalMs: 100, clock });
    ticker.start(() => {});
    expect(() => ticker.start(() => {})).toThrow(/already running/);
    clock.advance(250);
    ticker.stop();
    const times = recordTicks(clock, ticker);
    expect(ticker.ticks).toBe(0);
    clock.advance(200);
    expect(times).toEqual([350, 450]);
    ticker.stop();
  });

  it('keeps ticking when onTick throws', () => {
    const clock = new ManualClock();
    const ticker = new IntervalTicker({ intervalMs: 10, clock });
    let calls = 0;
    ticker.start(() => {
      calls++;
      if (calls === 1) throw new Error('tick handler failed');
    });
    expect(() => clock.advance(10)).toThrow('tick handler failed');
    clock.advance(30);
    expect(calls).toBe(4);
    ticker.stop();
  });

  it('validates its options', () => {
    expect(() => new IntervalTicker({ intervalMs: 0 })).toThrow(/intervalMs/);
    expect(() => new IntervalTicker({ intervalMs: Number.NaN })).toThrow(/intervalMs/);
    expect(() => new IntervalTicker({ intervalMs: 10, maxBurst: 0 })).toThrow(/maxBurst/);
  });
});

describe('IntervalTicker on the real clock', () => {
  it('keeps to the ideal timeline over many short ticks', async () => {
    const intervalMs = 2;
    const target = 100;
    const ticker = new IntervalTicker({ intervalMs });
    const start = realClock.now();
    const end = await new Promise<number>((resolve) => {
      ticker.start(() => {
        if (ticker.ticks + ticker.skippedTicks >= target) {
          ticker.stop();
          resolve(realClock.now());
        }
      });
    });
    // Ideal: 200 ms. A "now + interval" chain pays ≥ 1 ms of timer latency per tick and
    // ends well past 300 ms; drift-free scheduling only pays the last tick's latency.
    const elapsed = end - start;
    expect(elapsed).toBeGreaterThanOrEqual(target * intervalMs - 1);
    expect(elapsed).toBeLessThan(target * intervalMs + 60);
  });

  it('leaves nothing keeping the process alive after stop, and unref never does', () => {
    const timeouts = (): number =>
      process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    const before = timeouts();
    const ticker = new IntervalTicker({ intervalMs: 1_000 });
    ticker.start(() => {});
    expect(timeouts()).toBe(before + 1);
    ticker.stop();
    expect(timeouts()).toBe(before);

    const detached = new IntervalTicker({ intervalMs: 1_000, unref: true });
    detached.start(() => {});
    expect(timeouts()).toBe(before);
    detached.stop();
  });
});
