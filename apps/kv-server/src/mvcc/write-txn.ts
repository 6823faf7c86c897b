import { MvccError } from './errors.js';
import { deleteEvent, type MvccEvent } from './history.js';
import { bytesToKeyString, keepBytes, resolveRange } from './key-bytes.js';
import { executeRange } from './range.js';
import type { TreeIndex } from './tree-index.js';
import type {
  DeleteRangeRequest,
  DeleteRangeResponse,
  KeyValue,
  LeaseChange,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
} from './types.js';

/**
 * WriteTxn is one write transaction over the index (etcd's `storeTxnWrite`): every change
 * it makes is at main revision `beginRev + 1`, and reads inside it see those changes.
 * Nothing is published until the store bumps its revision after {@link WriteTxn.changes};
 * {@link WriteTxn.rollback} undoes everything instead.
 */
export class WriteTxn {
  /** changes counts the puts and tombstones made so far. */
  changes = 0;
  /** The keys changed so far (created on the first change), for rollback. */
  private touched: Set<string> | undefined;
  /** events, set by a store with a commit listener, receives every change in order. */
  events: MvccEvent[] | undefined;
  /**
   * leaseChanges, set by a store with a lease listener, receives every change of a live
   * key's lease in order (attached by a put, detached by a put or a delete).
   */
  leaseChanges: LeaseChange[] | undefined;

  constructor(
    private readonly index: TreeIndex,
    /** beginRev is the store revision the txn started from. */
    readonly beginRev: number,
    /** compactRev is the store's compacted revision. */
    readonly compactRev: number,
    /** leaseExists says whether a lease id names a live lease. */
    readonly leaseExists: (lease: bigint) => boolean = () => true,
  ) {}

  /** rev is the revision reads inside the txn see: `beginRev`, +1 once anything changed. */
  get rev(): number {
    return this.changes > 0 ? this.beginRev + 1 : this.beginRev;
  }

  /** range answers a Range inside the txn, seeing the txn's own writes. */
  range(req: RangeRequest): RangeResponse {
    return executeRange(this.index, req, this.rev, this.compactRev);
  }

  /** current returns the key's latest state inside the txn, if it exists. */
  current(key: Uint8Array): KeyValue | undefined {
    return this.index.get(bytesToKeyString(key))?.get(this.rev);
  }

  /**
   * put runs a PutRequest as etcd's `txn.put`: `ignoreValue`/`ignoreLease` take the
   * existing value/lease and fail with ErrKeyNotFound when the key is absent (before
   * anything is written); `prevKv` returns the state before the put.
   */
  put(req: PutRequest): PutResponse {
    const needPrev = req.prevKv === true || req.ignoreValue === true || req.ignoreLease === true;
    const prev = needPrev ? this.current(req.key) : undefined;
    if ((req.ignoreValue === true || req.ignoreLease === true) && prev === undefined) {
      throw new MvccError('ErrKeyNotFound');
    }
    // etcd's checkRequestPut: a lease must exist; raftkit grants none (no Lease service).
    const requested = req.lease ?? 0n;
    if (req.ignoreLease !== true && requested !== 0n && !this.leaseExists(requested)) {
      throw new MvccError('ErrLeaseNotFound');
    }
    const value = req.ignoreValue === true && prev ? prev.value : keepBytes(req.value, req.owned);
    const lease = req.ignoreLease === true && prev ? prev.lease : (req.lease ?? 0n);
    const k = bytesToKeyString(req.key);
    let ki = this.index.get(k);
    if (this.leaseChanges !== undefined) {
      const before = ki?.liveLease() ?? 0n;
      if (before !== lease) this.leaseChanges.push({ key: k, from: before, to: lease });
    }
    if (ki === undefined) ki = this.index.create(k, keepBytes(req.key, req.owned));
    this.touch(k);
    ki.put(this.beginRev + 1, value, lease, this.changes);
    this.events?.push({ type: 'put', kv: ki.get(this.beginRev + 1) as KeyValue });
    this.changes++;
    const revision = this.beginRev + 1;
    return req.prevKv === true && prev !== undefined ? { revision, prevKv: prev } : { revision };
  }

  /**
   * deleteRange runs a DeleteRangeRequest as etcd's `txn.deleteRange`: it tombstones every
   * key alive in the range; deleting nothing changes nothing (and bumps no revision).
   */
  deleteRange(req: DeleteRangeRequest): DeleteRangeResponse {
    const range = resolveRange(req.key, req.rangeEnd);
    const victims: [string, KeyValue][] = [];
    this.index.visit(range, this.rev, (kv, k) => {
      victims.push([k, kv]);
      return true;
    });
    for (const [k, kv] of victims) {
      if (this.leaseChanges !== undefined && kv.lease !== 0n) {
        this.leaseChanges.push({ key: k, from: kv.lease, to: 0n });
      }
      this.index.get(k)?.tombstone(this.beginRev + 1, this.changes);
      this.events?.push(deleteEvent(this.index.get(k)?.key as Uint8Array, this.beginRev + 1));
      this.touch(k);
      this.changes++;
    }
    return {
      revision: this.rev,
      deleted: victims.length,
      prevKvs: req.prevKv === true ? victims.map(([, kv]) => kv) : [],
    };
  }

  /** touch records that the txn changed key `k`. */
  private touch(k: string): void {
    if (this.touched === undefined) this.touched = new Set();
    this.touched.add(k);
  }

  /** rollback undoes every change of the txn, leaving the index as it was before. */
  rollback(): void {
    const rev = this.beginRev + 1;
    for (const k of this.touched ?? []) {
      const ki = this.index.get(k);
      if (ki === undefined) continue;
      ki.rollback(rev);
      if (ki.isEmpty()) this.index.remove(k);
    }
    this.touched = undefined;
    this.changes = 0;
    if (this.leaseChanges !== undefined) this.leaseChanges = [];
  }
}
