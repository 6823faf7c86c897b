import type { Ticker } from '@raftkit/core';
import { type Clock, realClock, type TimerHandle } from './clock.js';

/** IntervalTickerOptions configure an IntervalTicker. */
export interface IntervalTickerOptions {
  /** intervalMs is the length of one logical tick (etcd's `--heartbeat-interval`). */
  readonly intervalMs: number;
  /** clock supplies time and timeouts; default `realClock`, a `ManualClock` in tests. */
  readonly clock?: Clock;
  /**
   * maxBurst is the most ticks delivered back to back when the process was stalled
   * (GC pause, blocked event loop, SIGSTOP) and several ticks fell due at once; the rest
   * are skipped. Default 1, the behaviour of Go's `time.Ticker` that drives etcd.
   */
  readonly maxBurst?: number;
  /** unref lets the process exit while the ticker runs (real clock only). Default false. */
  readonly unref?: boolean;
  /**
   * onSkipped is told when ticks were skipped: how many, and how late the first of them
   * was in milliseconds; log it, as etcd warns of an overloaded leader. Must not throw.
   */
  readonly onSkipped?: (skippedTicks: number, lateMs: number) => void;
}

/**
 * IntervalTicker implements core's `Ticker`: it calls `onTick` once per `intervalMs`,
 * scheduled against the ideal timeline `start + n × intervalMs` rather than "now +
 * interval", so callback latency and timer lateness never accumulate into drift.
 *
 * After a stall, the ticks that fell due are owed at once. Delivering them all would make
 * every follower's election timeout (counted in ticks inside core) expire in the same
 * instant and start a needless election; skipping them only delays a timeout, which
 * costs liveness, never safety. So at most `maxBurst` owed ticks are delivered and the
 * others are skipped and reported through `onSkipped`; the next tick stays on the
 * original timeline.
 *
 * `stop()` cancels the pending timeout, so a stopped ticker leaves nothing scheduled,
 * and no tick is delivered after `stop()` returns, even by a burst in progress. An
 * `onTick` that throws does not stop the ticker: the next tick is scheduled before
 * ticks are delivered, and the exception goes to the clock (an uncaught exception on
 * the real clock).
 */
export class IntervalTicker implements Ticker {
  private readonly clock: Clock;
  private readonly intervalMs: number;
  private readonly maxBurst: number;
  private readonly unref: boolean;
  private readonly onSkipped: ((skippedTicks: number, lateMs: number) => void) | undefined;

  private onTick: (() => void) | undefined;
  private timer: TimerHandle | undefined;
  private origin = 0;
  // Invariant: accounted = delivered + skipped ticks since start; tick n (1-based) is due
  // at origin + n × intervalMs.
  private accounted = 0;
  // Bumped by start and stop so that a timeout or burst from an earlier run does nothing.
  private generation = 0;
  private delivered = 0;
  private skipped = 0;

  /** Creates a stopped ticker; `start` begins the timeline. */
  constructor(options: IntervalTickerOptions) {
    const { intervalMs, maxBurst = 1 } = options;
    if (!Number.isFinite(intervalMs) || intervalMs <= 0) {
      throw new RangeError(
        `IntervalTicker: intervalMs must be a positive number, got ${intervalMs}`,
      );
    }
    if (!Number.isSafeInteger(maxBurst) || maxBurst < 1) {
      throw new RangeError(`IntervalTicker: maxBurst must be an integer ≥ 1, got ${maxBurst}`);
    }
    this.clock = options.clock ?? realClock;
    this.intervalMs = intervalMs;
    this.maxBurst = maxBurst;
    this.unref = options.unref ?? false;
    this.onSkipped = options.onSkipped;
  }

  /** running is true between `start` and `stop`. */
  get running(): boolean {
    return this.onTick !== undefined;
  }

  /** ticks is how many ticks were delivered since the last `start`. */
  get ticks(): number {
    return this.delivered;
  }

  /** skippedTicks is how many ticks were skipped after stalls since the last `start`. */
  get skippedTicks(): number {
    return this.skipped;
  }

  /**
   * start begins delivering ticks: the first one `intervalMs` from now. Starting a running
   * ticker throws; stop it first (a restarted ticker begins a new timeline).
   */
  start(onTick: () => void): void {
    if (this.onTick !== undefined) {
      throw new Error('IntervalTicker.start: the ticker is already running; call stop() first');
    }
    this.onTick = onTick;
    this.generation++;
    this.origin = this.clock.now();
    this.accounted = 0;
    this.delivered = 0;
    this.skipped = 0;
    this.schedule();
  }

  /** stop cancels the pending tick; it is idempotent and safe to call from `onTick`. */
  stop(): void {
    this.onTick = undefined;
    this.generation++;
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private schedule(): void {
    const generation = this.generation;
    const dueAt = this.origin + (this.accounted + 1) * this.intervalMs;
    this.timer = this.clock.setTimeout(() => this.fire(generation), dueAt - this.clock.now(), {
      unref: this.unref,
    });
  }

  private fire(generation: number): void {
    if (generation !== this.generation) return;
    this.timer = undefined;
    const now = this.clock.now();
    // The epsilon absorbs float error when `now` lands exactly on a tick boundary.
    const elapsed = Math.floor((now - this.origin) / this.intervalMs + 1e-9);
    if (elapsed <= this.accounted) {
      // Woken early (timer granularity): wait for the rest of the tick.
      this.schedule();
      return;
    }
    const owed = elapsed - this.accounted;
    const firstOwedAt = this.origin + (this.accounted + 1) * this.intervalMs;
    const burst = Math.min(owed, this.maxBurst);
    this.accounted = elapsed;
    this.schedule();
    if (owed > burst) {
      this.skipped += owed - burst;
      this.onSkipped?.(owed - burst, now - firstOwedAt);
    }
    for (let i = 0; i < burst; i++) {
      const onTick = this.onTick;
      if (generation !== this.generation || onTick === undefined) return;
      this.delivered++;
      onTick();
    }
  }
}
