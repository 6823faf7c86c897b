import { type Clock, normalizeDelay, type TimeoutOptions, type TimerHandle } from './clock.js';

interface ManualTimer extends TimerHandle {
  readonly dueAt: number;
  // Breaks ties between timers due at the same instant: first set, first run.
  readonly sequence: number;
  readonly callback: () => void;
}

/**
 * ManualClock is a Clock whose time moves only when a test says so. `advance(ms)` runs
 * every timeout that falls due in order of due time (ties in the order they were set),
 * with `now()` reading each timeout's due time while it runs, so code under test sees
 * exactly the instants it asked for. Timeouts set by a callback run in the same
 * `advance` if they fall due before its end. Nothing runs on its own: a test is fully
 * deterministic and takes no real time.
 *
 * If a callback throws, the exception propagates out of `advance`/`runNext`/`runAll`;
 * the clock then reads that callback's due time and later timeouts stay pending.
 */
export class ManualClock implements Clock {
  // Invariant: sorted by (dueAt, sequence); every entry is pending (not run, not cleared).
  private readonly timers: ManualTimer[] = [];
  private current: number;
  private nextSequence = 0;

  /** Creates a clock that reads `startMs` until advanced. */
  constructor(startMs = 0) {
    if (!Number.isFinite(startMs)) throw new RangeError(`startMs must be finite, got ${startMs}`);
    this.current = startMs;
  }

  /** now returns the clock's current time in milliseconds. */
  now(): number {
    return this.current;
  }

  /** setTimeout schedules `callback` at `now() + delayMs`; `options.unref` is ignored. */
  setTimeout(callback: () => void, delayMs: number, _options?: TimeoutOptions): TimerHandle {
    const timer: ManualTimer = {
      clock: this,
      dueAt: this.current + normalizeDelay(delayMs),
      sequence: this.nextSequence++,
      callback,
    };
    this.timers.splice(this.insertionIndex(timer), 0, timer);
    return timer;
  }

  /** clearTimeout cancels a pending timeout; a timeout that already ran is ignored. */
  clearTimeout(handle: TimerHandle): void {
    if (handle.clock !== this) {
      throw new TypeError('ManualClock.clearTimeout: the handle was issued by another clock');
    }
    const index = this.timers.indexOf(handle as ManualTimer);
    if (index >= 0) this.timers.splice(index, 1);
  }

  /** pendingCount is the number of timeouts set and neither run nor cleared. */
  get pendingCount(): number {
    return this.timers.length;
  }

  /** nextDueAt is the due time of the earliest pending timeout, or undefined if none. */
  nextDueAt(): number | undefined {
    return this.timers[0]?.dueAt;
  }

  /**
   * advance moves time forward by `ms`, running every timeout due up to and including the
   * new time; returns how many callbacks ran.
   */
  advance(ms: number): number {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new RangeError(`ManualClock.advance: ms must be a finite number ≥ 0, got ${ms}`);
    }
    return this.advanceTo(this.current + ms);
  }

  /** advanceTo moves time forward to `timeMs` (not before `now()`), running due timeouts. */
  advanceTo(timeMs: number): number {
    if (!(timeMs >= this.current)) {
      throw new RangeError(
        `ManualClock.advanceTo: ${timeMs} is before now (${this.current}); time never goes back`,
      );
    }
    let ran = 0;
    for (let next = this.timers[0]; next !== undefined && next.dueAt <= timeMs; ) {
      this.timers.shift();
      this.current = next.dueAt;
      ran++;
      next.callback();
      next = this.timers[0];
    }
    this.current = timeMs;
    return ran;
  }

  /**
   * runNext moves time to the earliest pending timeout and runs it alone; returns false
   * when nothing is pending.
   */
  runNext(): boolean {
    const next = this.timers.shift();
    if (next === undefined) return false;
    this.current = next.dueAt;
    next.callback();
    return true;
  }

  /**
   * runAll runs pending timeouts, moving time as needed, until none is left; returns how
   * many ran. It throws after `maxCallbacks` so that a periodic timer (a running ticker)
   * fails the test instead of looping forever.
   */
  runAll(maxCallbacks = 10_000): number {
    let ran = 0;
    while (this.timers.length > 0) {
      if (ran >= maxCallbacks) {
        throw new Error(
          `ManualClock.runAll: still ${this.timers.length} timeout(s) pending after ${ran} callbacks; is a ticker still running?`,
        );
      }
      this.runNext();
      ran++;
    }
    return ran;
  }

  private insertionIndex(timer: ManualTimer): number {
    // Binary search for the first entry that sorts after `timer`; sequence only grows, so
    // a new timer goes after every existing one with the same due time.
    let low = 0;
    let high = this.timers.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.timers[middle]!.dueAt <= timer.dueAt) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
