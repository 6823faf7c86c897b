import type { LeaseChange } from '../mvcc/index.js';

/** MAX_LEASE_TTL is etcd's largest lease TTL, in seconds (`lease.MaxLeaseTTL`). */
export const MAX_LEASE_TTL = 9_000_000_000;

/** LeaseErrorReason names a lease request the table refuses. */
export type LeaseErrorReason = 'notFound' | 'exists' | 'ttlTooLarge';

/** LeaseError: a lease request refused by the replicated lease table (etcd's lease errors). */
export class LeaseError extends Error {
  constructor(readonly reason: LeaseErrorReason) {
    super(
      reason === 'notFound'
        ? 'etcdserver: requested lease not found'
        : reason === 'exists'
          ? 'etcdserver: lease already exists'
          : 'etcdserver: too large lease TTL',
    );
    this.name = 'LeaseError';
  }
}

/** Lease is one granted lease: its id, its TTL in seconds and the keys attached to it. */
export interface Lease {
  readonly id: bigint;
  readonly ttl: number;
  /** keys are the attached keys as the MVCC index's latin1 key strings. */
  readonly keys: Set<string>;
}

/** LeaseEvent tells the leader's lease clock what the applied log did to the table. */
export type LeaseEvent =
  | { readonly type: 'granted'; readonly id: bigint; readonly ttl: number }
  | { readonly type: 'revoked'; readonly id: bigint }
  /** reset: the whole table was replaced by a snapshot's. */
  | { readonly type: 'reset' };

/**
 * LeaseTable is the replicated part of etcd's lessor: which leases exist, their TTLs and
 * the keys attached to each. It changes only by applied log entries (grant, revoke, and
 * the puts and deletes that attach and detach keys), so it is the same on every member;
 * when a lease expires is not replicated (the leader's `LeaseClock` decides, and
 * proposes the revocation).
 */
export class LeaseTable {
  private readonly leases = new Map<bigint, Lease>();
  /** listener hears every grant, revocation and reset, after the table changed. */
  listener: ((event: LeaseEvent) => void) | undefined;

  /** size is the number of leases. */
  get size(): number {
    return this.leases.size;
  }

  has(id: bigint): boolean {
    return this.leases.has(id);
  }

  get(id: bigint): Lease | undefined {
    return this.leases.get(id);
  }

  /** ids lists the lease ids, in grant order. */
  ids(): bigint[] {
    return [...this.leases.keys()];
  }

  /** entries lists [id, ttl] of every lease, in grant order (a snapshot's lease block). */
  entries(): [bigint, number][] {
    return [...this.leases.values()].map((lease) => [lease.id, lease.ttl]);
  }

  /**
   * grant adds lease `id` with `ttl` seconds (the proposer already raised it to the
   * minimum TTL): LeaseError 'exists' for a live id, 'ttlTooLarge' above MAX_LEASE_TTL.
   */
  grant(id: bigint, ttl: number): Lease {
    if (ttl > MAX_LEASE_TTL) throw new LeaseError('ttlTooLarge');
    if (this.leases.has(id)) throw new LeaseError('exists');
    const lease: Lease = { id, ttl, keys: new Set() };
    this.leases.set(id, lease);
    this.listener?.({ type: 'granted', id, ttl });
    return lease;
  }

  /**
   * revoke removes lease `id` and returns it (its keys are the caller's to delete, in
   * the same applied entry); LeaseError 'notFound' for an unknown id.
   */
  revoke(id: bigint): Lease {
    const lease = this.leases.get(id);
    if (lease === undefined) throw new LeaseError('notFound');
    this.leases.delete(id);
    this.listener?.({ type: 'revoked', id });
    return lease;
  }

  /** applyChanges follows the MVCC store's attach and detach of keys (MvccStore.onLeaseChange). */
  applyChanges(changes: readonly LeaseChange[]): void {
    for (const change of changes) {
      if (change.from !== 0n) this.leases.get(change.from)?.keys.delete(change.key);
      if (change.to !== 0n) this.leases.get(change.to)?.keys.add(change.key);
    }
  }

  /**
   * reset replaces the table by a snapshot's leases; `forEachLeasedKey` (the restored
   * store's) re-attaches the keys, as etcd's lessor does on recovery.
   */
  reset(
    entries: readonly (readonly [bigint, number])[],
    forEachLeasedKey: (fn: (key: string, lease: bigint) => void) => void,
  ): void {
    this.leases.clear();
    for (const [id, ttl] of entries) this.leases.set(id, { id, ttl, keys: new Set() });
    forEachLeasedKey((key, lease) => this.leases.get(lease)?.keys.add(key));
    this.listener?.({ type: 'reset' });
  }
}
