import { type Clock, realClock } from '@raftkit/timer';

/**
 * LeaderWait lets a request that arrives while this member knows no leader wait a bounded
 * time for one, instead of failing at once with `etcdserver: no leader`. etcd behaves the
 * same way: its proposals and ReadIndex requests block until a leader is elected or the
 * request times out. Without the wait, every request during an election (after a leader
 * is partitioned, killed or restarted) fails immediately, and a client that retries
 * fails again until the election ends; with it, the request simply takes longer.
 */
export class LeaderWait {
  private readonly waiters = new Set<() => void>();
  private closed = false;

  /**
   * Creates the waiter: `hasLeader` reports whether a leader is known now; `maxWaitMs`
   * bounds every wait (two election timeouts let a healthy majority finish an election).
   */
  constructor(
    private readonly hasLeader: () => boolean,
    private readonly maxWaitMs: number,
    private readonly clock: Clock = realClock,
  ) {}

  /** notify wakes every waiter if a leader is known; call it on each soft-state change. */
  notify(): void {
    if (this.hasLeader()) this.wakeAll();
  }

  /**
   * wait resolves once a leader is known, after `maxWaitMs`, or shortly before
   * `deadlineMs` (epoch milliseconds; Infinity for none), whichever comes first. It never
   * rejects: the caller then proceeds, and fails with `no leader` if there still is none.
   */
  wait(deadlineMs: number = Number.POSITIVE_INFINITY): Promise<void> {
    if (this.closed || this.hasLeader()) return Promise.resolve();
    // Answer a little before the client's deadline, so it gets `no leader` rather than a
    // bare DEADLINE_EXCEEDED.
    const ms = Math.min(this.maxWaitMs, deadlineMs - Date.now() - DEADLINE_MARGIN_MS);
    if (!(ms > 0)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        this.clock.clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = this.clock.setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  /** waiting is the number of requests waiting for a leader now. */
  get waiting(): number {
    return this.waiters.size;
  }

  /** close releases every waiter and makes later waits return at once (server stopping). */
  close(): void {
    this.closed = true;
    this.wakeAll();
  }

  private wakeAll(): void {
    for (const done of [...this.waiters]) done();
  }
}

/** DEADLINE_MARGIN_MS is how long before the client's deadline a wait gives up. */
const DEADLINE_MARGIN_MS = 50;

/** deadlineMsOf converts a gRPC call deadline (Date or epoch ms) to epoch milliseconds. */
export function deadlineMsOf(deadline: Date | number | undefined): number {
  if (deadline === undefined) return Number.POSITIVE_INFINITY;
  return deadline instanceof Date ? deadline.getTime() : deadline;
}
