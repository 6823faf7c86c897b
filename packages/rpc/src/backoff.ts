/** BackoffOptions shape the reconnect delays of a peer stream. */
export interface BackoffOptions {
  /** initialMs is the delay before the first retry. Default 100 ms. */
  readonly initialMs?: number;
  /** maxMs caps the delay. Default 5 000 ms. */
  readonly maxMs?: number;
  /** multiplier grows the delay after each failed attempt. Default 2. */
  readonly multiplier?: number;
  /**
   * jitter is the fraction of the delay that is randomized, in [0, 1]: the delay is
   * drawn uniformly from [base × (1 − jitter), base]. Default 0.5.
   */
  readonly jitter?: number;
  /** random returns a number in [0, 1); inject a seeded one for reproducible tests. */
  readonly random?: () => number;
}

/**
 * Backoff computes jittered exponential reconnect delays. Jitter matters here: when a
 * node restarts, every peer notices at once, and without it they would all redial in
 * lockstep.
 */
export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly multiplier: number;
  private readonly jitter: number;
  private readonly random: () => number;
  // Invariant: attempt counts failures since the last reset().
  private attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 100;
    this.maxMs = options.maxMs ?? 5_000;
    this.multiplier = options.multiplier ?? 2;
    this.jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
    this.random = options.random ?? Math.random;
    if (!(this.initialMs > 0) || !(this.maxMs >= this.initialMs) || !(this.multiplier >= 1)) {
      throw new RangeError(
        `backoff needs 0 < initialMs <= maxMs and multiplier >= 1 (got ${this.initialMs}, ${this.maxMs}, ${this.multiplier})`,
      );
    }
  }

  /** attempts is the number of delays handed out since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** next returns the delay before the next attempt and grows the following one. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * this.multiplier ** this.attempt);
    // Stop growing the exponent once capped, so it can never overflow to Infinity.
    if (base < this.maxMs) this.attempt++;
    return Math.round(base * (1 - this.jitter * this.random()));
  }

  /** reset starts over from `initialMs`, after a connection proved healthy. */
  reset(): void {
    this.attempt = 0;
  }
}
