// Monotonic run time from process.hrtime, in milliseconds since the run started.

/** Clock measures milliseconds (with sub-millisecond precision) since it was created. */
export class Clock {
  private readonly origin = process.hrtime.bigint();

  /** now is the time since creation in milliseconds. */
  now(): number {
    return Number(process.hrtime.bigint() - this.origin) / 1e6;
  }
}

/** sleep resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
