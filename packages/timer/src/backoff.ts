import type { RandomSource } from '@raftkit/core';

/** BackoffOptions shape the delays of `backoffDelay`. */
export interface BackoffOptions {
  /** baseMs is the ceiling of the first attempt's delay; it doubles per attempt. */
  readonly baseMs: number;
  /** maxMs caps the ceiling, however many attempts failed. */
  readonly maxMs: number;
  /** random draws the jitter; inject `seededRandom(seed)` for reproducible tests. */
  readonly random?: RandomSource;
}

/** mathRandom is the default RandomSource of `backoffDelay`: `Math.random`, unseeded. */
export const mathRandom: RandomSource = (bound) => Math.floor(Math.random() * bound);

/**
 * backoffDelay returns how long to wait before retry number `attempt` (0 for the first
 * retry): "full jitter", a whole number of milliseconds drawn uniformly from
 * `[0, min(maxMs, baseMs × 2^attempt)]`. Spreading retries over the whole window, rather
 * than around its end, keeps the peers of a restarted node from reconnecting in lockstep.
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const { baseMs, maxMs, random = mathRandom } = options;
  if (!Number.isSafeInteger(attempt) || attempt < 0) {
    throw new RangeError(`backoffDelay: attempt must be an integer ≥ 0, got ${attempt}`);
  }
  if (!Number.isSafeInteger(baseMs) || baseMs <= 0) {
    throw new RangeError(`backoffDelay: baseMs must be a positive integer, got ${baseMs}`);
  }
  if (!Number.isSafeInteger(maxMs) || maxMs < baseMs) {
    throw new RangeError(
      `backoffDelay: maxMs must be an integer ≥ baseMs (${baseMs}), got ${maxMs}`,
    );
  }
  // 2^attempt overflows to Infinity for large attempts; the cap makes that harmless.
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 1024));
  return random(ceiling + 1);
}
