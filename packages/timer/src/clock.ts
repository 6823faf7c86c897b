/**
 * TimerHandle identifies one pending timeout of a Clock; pass it back to
 * `clearTimeout`. It is opaque: only the clock that issued it understands it.
 */
export interface TimerHandle {
  readonly clock: Clock;
}

/** TimeoutOptions tune one timeout. */
export interface TimeoutOptions {
  /**
   * unref lets the process exit while this timeout is pending (Node's
   * `Timeout.unref()`); a ManualClock ignores it. Default false.
   */
  readonly unref?: boolean;
}

/**
 * Clock is raftkit's only source of time and timers. Everything that waits takes a Clock
 * so that tests can swap `realClock` for a `ManualClock` and run deterministically.
 *
 * Contract:
 * - `now()` is monotonic milliseconds from an arbitrary origin: it never goes backwards
 *   and is not wall-clock time (do not format it as a date).
 * - `setTimeout(callback, delayMs)` runs `callback` once, no earlier than `delayMs`
 *   after the call (a negative or NaN delay counts as 0; a delay above
 *   `MAX_TIMEOUT_MS` is a RangeError). Timeouts due at the same instant run in the
 *   order they were set.
 * - `clearTimeout(handle)` cancels a pending timeout; clearing one that already ran or
 *   was already cleared does nothing.
 */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, delayMs: number, options?: TimeoutOptions): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

interface RealTimerHandle extends TimerHandle {
  readonly timeout: ReturnType<typeof globalThis.setTimeout>;
}

/**
 * realClock is the Clock of the running process: `performance.now()` for time (monotonic,
 * unlike `Date.now()`, which jumps when NTP or an operator sets the system clock) and
 * Node's timers. It is the only place in raftkit that calls the global `setTimeout`.
 */
export const realClock: Clock = Object.freeze({
  now(): number {
    return performance.now();
  },
  setTimeout(callback: () => void, delayMs: number, options?: TimeoutOptions): TimerHandle {
    const timeout = globalThis.setTimeout(callback, normalizeDelay(delayMs));
    if (options?.unref === true) timeout.unref();
    const handle: RealTimerHandle = { clock: realClock, timeout };
    return handle;
  },
  clearTimeout(handle: TimerHandle): void {
    if (handle.clock !== realClock) {
      throw new TypeError('realClock.clearTimeout: the handle was issued by another clock');
    }
    globalThis.clearTimeout((handle as RealTimerHandle).timeout);
  },
});

/**
 * MAX_TIMEOUT_MS is the longest delay a Clock accepts (2^31 − 1 ms, about 24.8 days):
 * Node silently turns longer delays into 1 ms, which would make a "never" fire at once.
 */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** normalizeDelay maps a requested delay to milliseconds in `[0, MAX_TIMEOUT_MS]`. */
export function normalizeDelay(delayMs: number): number {
  // Node treats NaN and negatives as 1 ms with a warning; we define them as "now".
  if (Number.isNaN(delayMs) || delayMs <= 0) return 0;
  if (delayMs > MAX_TIMEOUT_MS) {
    throw new RangeError(
      `timeout delay ${delayMs} ms exceeds ${MAX_TIMEOUT_MS} ms; schedule a shorter timeout and re-arm it`,
    );
  }
  return delayMs;
}
