import { type Clock, realClock, type TimerHandle } from '@raftkit/timer';
import { LeaseError, type LeaseEvent, type LeaseTable } from './lease-table.js';

/** LeaseClockOptions configure a LeaseClock. */
export interface LeaseClockOptions {
  /** table is the replicated lease table (the state machine's). */
  readonly table: LeaseTable;
  /** revoke proposes the revocation of an expired lease; its failure is retried later. */
  readonly revoke: (id: bigint) => Promise<unknown>;
  /**
   * extendMs is added to every deadline when this member becomes the leader (etcd
   * extends by an election timeout): the old leader may have renewed a lease just
   * before it lost leadership, and the clients need time to find the new one.
   */
  readonly extendMs: number;
  /** checkIntervalMs is how often expired leases are looked for. Default 500. */
  readonly checkIntervalMs?: number;
  /** maxRevokesPerCheck bounds the revocations proposed per check. Default 500 (etcd: 1000/s). */
  readonly maxRevokesPerCheck?: number;
  /** retryMs is when a revocation proposed without effect is proposed again. Default 3 s. */
  readonly retryMs?: number;
  readonly clock?: Clock;
  readonly onError?: (id: bigint, error: unknown) => void;
  /** onStall is told of a stall (a check later than scheduled by `lateMs`) that moved every deadline. */
  readonly onStall?: (lateMs: number) => void;
}

/**
 * LeaseClock is the leader's side of etcd's lessor: when each lease expires. Only the
 * leader (the primary) keeps deadlines — they are not replicated. On becoming leader it
 * gives every lease its whole TTL again plus `extendMs`; keep-alives renew a lease to its
 * TTL from now; an expired lease is revoked through the log (so every member deletes its
 * keys at the same revision). A member that stops leading forgets the deadlines.
 */
export class LeaseClock {
  private readonly clock: Clock;
  private readonly deadlines = new Map<bigint, number>();
  // Leases whose revocation was proposed, and when.
  private readonly revoking = new Map<bigint, number>();
  private primary = false;
  private timer: TimerHandle | undefined;
  private closed = false;
  // When the last check ran (or the clock was promoted), to detect event-loop stalls.
  private lastCheck = 0;

  constructor(private readonly options: LeaseClockOptions) {
    this.clock = options.clock ?? realClock;
    options.table.listener = (event) => this.onTableEvent(event);
  }

  /** isPrimary tells whether this member keeps the deadlines (it is the leader). */
  get isPrimary(): boolean {
    return this.primary;
  }

  /** promote starts keeping deadlines: every lease gets its TTL plus `extendMs` from now. */
  promote(): void {
    if (this.primary || this.closed) return;
    this.primary = true;
    const now = this.clock.now();
    this.lastCheck = now;
    for (const [id, ttl] of this.options.table.entries()) {
      this.deadlines.set(id, now + ttl * 1000 + this.options.extendMs);
    }
    this.schedule();
  }

  /** demote forgets every deadline (another member leads now). */
  demote(): void {
    this.primary = false;
    this.deadlines.clear();
    this.revoking.clear();
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * renew sets lease `id`'s deadline to its TTL from now and returns the TTL; LeaseError
   * 'notFound' when there is no such lease or it has expired (its revocation is under
   * way), or this member is not the primary.
   */
  renew(id: bigint): number {
    const lease = this.options.table.get(id);
    const now = this.clock.now();
    // A keep-alive may be read before the overdue check runs, after a stall.
    this.compensateStall(now);
    // An expired lease is not brought back: its revocation is (or is about to be) proposed.
    const deadline = this.deadlines.get(id);
    if (!this.primary || lease === undefined || deadline === undefined || deadline <= now) {
      throw new LeaseError('notFound');
    }
    this.deadlines.set(id, now + lease.ttl * 1000);
    return lease.ttl;
  }

  /** remainingSeconds is the whole seconds left to lease `id` (0 once expired); primary only. */
  remainingSeconds(id: bigint): number {
    const deadline = this.deadlines.get(id);
    if (deadline === undefined) return 0;
    return Math.max(0, Math.floor((deadline - this.clock.now()) / 1000));
  }

  /** close stops the expiry checks for good. */
  close(): void {
    this.closed = true;
    this.demote();
  }

  private onTableEvent(event: LeaseEvent): void {
    if (!this.primary) return;
    const now = this.clock.now();
    switch (event.type) {
      case 'granted':
        this.deadlines.set(event.id, now + event.ttl * 1000);
        break;
      case 'revoked':
        this.deadlines.delete(event.id);
        this.revoking.delete(event.id);
        break;
      case 'reset': {
        const entries = new Map(this.options.table.entries());
        for (const id of [...this.deadlines.keys()]) {
          if (!entries.has(id)) this.deadlines.delete(id);
        }
        for (const [id, ttl] of entries) {
          if (!this.deadlines.has(id)) {
            this.deadlines.set(id, now + ttl * 1000 + this.options.extendMs);
          }
        }
        break;
      }
    }
  }

  /**
   * compensateStall moves every deadline by how late the pending check is, when it is
   * more than a check interval late; the check then counts from now.
   */
  private compensateStall(now: number): void {
    const interval = this.options.checkIntervalMs ?? 500;
    const late = now - this.lastCheck - interval;
    if (late <= interval) return;
    for (const [id, deadline] of this.deadlines) this.deadlines.set(id, deadline + late);
    this.lastCheck = now - interval;
    this.options.onStall?.(late);
  }

  private schedule(): void {
    if (!this.primary || this.timer !== undefined) return;
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.check();
        this.schedule();
      },
      this.options.checkIntervalMs ?? 500,
      { unref: true },
    );
  }

  /**
   * check proposes the revocation of the expired leases (a bounded number per check).
   * After a stall of this member (a check much later than scheduled: a long GC, a
   * synchronous snapshot step, a paused process), keep-alives the clients sent in time
   * may still wait in the socket buffers: every deadline moves by the stall's length
   * first, so a lease never expires for this member's own slowness.
   */
  private check(): void {
    const now = this.clock.now();
    this.compensateStall(now);
    this.lastCheck = now;
    const retryMs = this.options.retryMs ?? 3_000;
    let budget = this.options.maxRevokesPerCheck ?? 500;
    for (const [id, deadline] of this.deadlines) {
      if (budget === 0) break;
      if (deadline > now) continue;
      const proposed = this.revoking.get(id);
      if (proposed !== undefined && now - proposed < retryMs) continue;
      this.revoking.set(id, now);
      budget--;
      this.options.revoke(id).catch((error: unknown) => {
        // Lost with a leader change, or refused (already revoked): the next check retries
        // while the lease still exists and this member still leads.
        this.options.onError?.(id, error);
      });
    }
  }
}
