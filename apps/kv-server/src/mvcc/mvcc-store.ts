import { crc32 } from 'node:zlib';
import { MvccError } from './errors.js';
import { type CommitListener, collectHistory, type MvccEvent } from './history.js';
import { resolveRange } from './key-bytes.js';
import type { KeyIndex } from './key-index.js';
import { executeRange } from './range.js';
import { decodeSnapshot, encodeSnapshot, encodeSnapshotAt } from './snapshot-codec.js';
import { TreeIndex } from './tree-index.js';
import {
  checkDeleteRequest,
  checkPlan,
  checkPutRequest,
  checkRangeRequest,
  checkTxnRequest,
  DEFAULT_MAX_TXN_OPS,
  executePlan,
  planTxn,
  type ReadView,
} from './txn.js';
import type {
  CompactResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  KeyValue,
  LeaseChange,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnOptions,
  TxnRequest,
  TxnResponse,
} from './types.js';
import { WriteTxn } from './write-txn.js';

/** MvccCapture is a store state pinned by `MvccStore.capture`. */
export interface MvccCapture {
  /** revision is the captured store revision. */
  readonly revision: number;
  /**
   * encode encodes the captured state in `serialize`'s format, yielding after every
   * `sliceKeys` keys (default 1,000) and returning the bytes.
   */
  encode(sliceKeys?: number): Generator<void, Uint8Array, void>;
  /** release unpins the capture (idempotent). */
  release(): void;
}

/**
 * MvccStore is the KV state machine: an in-memory multi-version key-value store with
 * etcd v3's semantics (revisions, versions, ranges, txns, compaction). It is pure and
 * deterministic: the same calls in the same order give the same results and state on
 * every replica. A call that throws an {@link MvccError} leaves the store unchanged.
 *
 * Byte arrays handed in are copied; byte arrays handed out are shared with the store and
 * must not be written to.
 */
export class MvccStore {
  /**
   * leaseExists says whether a lease id names a live lease; a Put attaching one that does
   * not is ErrLeaseNotFound, as in etcd. Default: every lease exists (the store alone
   * keeps no leases); kv-server, which grants none yet, answers false.
   */
  leaseExists: (lease: bigint) => boolean = () => true;
  /** onCommit, when set, hears every committed write txn's changes (kv-server's watchers). */
  onCommit: CommitListener | undefined;
  /**
   * onLeaseChange, when set, hears the lease changes of every committed write txn, in
   * order (kv-server's lease table keeps each lease's keys with it).
   */
  onLeaseChange: ((changes: readonly LeaseChange[]) => void) | undefined;
  private index: TreeIndex;
  private currentRev: number;
  private compactRev: number;

  constructor() {
    this.index = new TreeIndex();
    this.currentRev = 1;
    this.compactRev = -1;
  }

  /** revision is the store's current revision: 1 when empty, +1 per write transaction. */
  get revision(): number {
    return this.currentRev;
  }

  /**
   * compactRevision is the revision of the last compaction, -1 before any (etcd's
   * `compactMainRev`); reads below it fail with ErrCompacted.
   */
  get compactRevision(): number {
    return this.compactRev;
  }

  /** keyCount is the number of keys with history kept (alive now or in the past). */
  get keyCount(): number {
    return this.index.size;
  }

  /** range answers etcd's Range; see {@link RangeRequest} for the request's fields. */
  range(req: RangeRequest): RangeResponse {
    checkRangeRequest(req);
    return executeRange(this.index, req, this.currentRev, this.compactRev);
  }

  /** put answers etcd's Put: one write transaction, so the revision goes up by one. */
  put(req: PutRequest): PutResponse {
    checkPutRequest(req);
    // One put needs no closure: WriteTxn.put either throws before changing anything
    // or makes exactly one change.
    const w = new WriteTxn(this.index, this.currentRev, this.compactRev, this.leaseExists);
    if (this.onCommit !== undefined) w.events = [];
    if (this.onLeaseChange !== undefined) w.leaseChanges = [];
    let response: PutResponse;
    try {
      response = w.put(req);
    } catch (err) {
      w.rollback();
      throw err;
    }
    this.commit(w);
    return response;
  }

  /**
   * deleteRange answers etcd's DeleteRange; when nothing matched, nothing is written and
   * the revision stays as it was.
   */
  deleteRange(req: DeleteRangeRequest): DeleteRangeResponse {
    checkDeleteRequest(req);
    return this.write((w) => w.deleteRange(req));
  }

  /**
   * txn answers etcd's Txn: it validates the request (ErrTooManyOps, ErrEmptyKey,
   * ErrDuplicateKey...), evaluates every compare against the state before the txn,
   * checks the chosen ops (ErrKeyNotFound, ErrCompacted, ErrFutureRev), then runs them in
   * order at one new revision, reads seeing earlier writes. The revision goes up by one
   * only if something was written.
   */
  txn(req: TxnRequest, options: TxnOptions = {}): TxnResponse {
    checkTxnRequest(req, options.maxTxnOps ?? DEFAULT_MAX_TXN_OPS);
    const view = this.readView();
    const plan = planTxn(view, req);
    checkPlan(view, plan);
    let responses: TxnResponse['responses'] = [];
    const revision = this.write((w) => {
      responses = executePlan(w, plan);
      return w.rev;
    });
    return { revision, succeeded: plan.succeeded, responses };
  }

  /**
   * deleteKeys deletes the given keys (those alive) in one write transaction — a lease's
   * revocation, as etcd's lessor deletes a revoked lease's keys — and returns the store
   * revision after it (unchanged when none was alive).
   */
  deleteKeys(keys: readonly Uint8Array[]): number {
    return this.write((w) => {
      for (const key of keys) w.deleteRange({ key });
      return w.rev;
    });
  }

  /**
   * hashKV is a CRC-32 of the key-value history a read at `revision` (0: the current
   * one) could still see — every put and delete above the compacted revision and each
   * key's state at it — in key order (etcd's HashKV; the bytes hashed are raftkit's, so
   * the value is comparable between raftkit members, not with etcd). Members that applied
   * the same log agree on it whatever their snapshot and compaction timing.
   * ErrCompacted below the compacted revision, ErrFutureRev above the current one.
   */
  hashKV(revision = 0): { hash: number; revision: number; compactRevision: number } {
    const rev = revision === 0 ? this.currentRev : revision;
    if (rev > this.currentRev) throw new MvccError('ErrFutureRev');
    if (rev < this.compactRev) throw new MvccError('ErrCompacted');
    const floor = this.compactRev;
    const numbers = Buffer.alloc(40);
    let hash = 0;
    const entry = (kv: KeyValue | undefined, deleted: number) => {
      numbers.writeBigInt64BE(BigInt(deleted > 0 ? deleted : (kv?.modRevision ?? 0)), 0);
      numbers.writeBigInt64BE(BigInt(kv?.createRevision ?? 0), 8);
      numbers.writeBigInt64BE(BigInt(kv?.version ?? 0), 16);
      numbers.writeBigInt64BE(kv?.lease ?? 0n, 24);
      numbers.writeBigInt64BE(BigInt(kv?.value.length ?? -1), 32);
      hash = crc32(numbers, hash);
      if (kv !== undefined) hash = crc32(kv.value, hash);
    };
    for (const [, keyIndex] of this.index.entries()) {
      const header = Buffer.alloc(4);
      header.writeUInt32BE(keyIndex.key.length);
      // The state at the compacted revision, then every change above it up to `rev`.
      const atFloor = floor > 0 ? keyIndex.get(floor) : undefined;
      let started = false;
      const start = () => {
        if (started) return;
        started = true;
        hash = crc32(header, hash);
        hash = crc32(keyIndex.key, hash);
      };
      if (atFloor !== undefined) {
        start();
        entry(atFloor, 0);
      }
      for (const generation of keyIndex.generations) {
        let previous = -1;
        for (const put of generation.revs) {
          // A txn that wrote the key twice left two entries at one revision: one state.
          if (put.mod === previous) continue;
          previous = put.mod;
          if (put.mod <= floor || put.mod > rev) continue;
          start();
          entry(keyIndex.get(put.mod), 0);
        }
        if (generation.tombstone > floor && generation.tombstone <= rev) {
          start();
          entry(undefined, generation.tombstone);
        }
      }
    }
    return { hash: hash >>> 0, revision: rev, compactRevision: this.compactRev };
  }

  /** forEachLeasedKey calls `fn` with every live key attached to a lease, and its lease. */
  forEachLeasedKey(fn: (key: string, lease: bigint) => void): void {
    for (const [key, keyIndex] of this.index.entries()) {
      const lease = keyIndex.liveLease();
      if (lease !== undefined && lease !== 0n) fn(key, lease);
    }
  }

  /**
   * compact drops the history before `revision` (etcd's Compact): each key keeps its
   * latest state at or before it and keys deleted by then vanish. It is ErrCompacted if
   * `revision` is not above the last compaction and ErrFutureRev above the current
   * revision. It writes no revision of its own.
   */
  compact(revision: number): CompactResponse {
    if (revision <= this.compactRev) throw new MvccError('ErrCompacted');
    if (revision > this.currentRev) throw new MvccError('ErrFutureRev');
    // While a snapshot is being encoded from a capture, the history it reads must stay:
    // the compaction takes effect for reads now and prunes once the captures are done.
    if (this.captures > 0) this.deferredCompaction = revision;
    else this.index.compact(revision);
    this.compactRev = revision;
    return { revision: this.currentRev };
  }

  private captures = 0;
  private deferredCompaction = 0;

  /**
   * capture pins the store's state at its current revision for a snapshot encoded while
   * writes go on (hashicorp/raft's FSM.Snapshot, then Persist): later writes only add
   * history above the captured revision, and a compaction's pruning waits until every
   * capture is released, so `encode` yields exactly the captured state (in slices, so
   * the caller can let other work run between them). `release` must be called once done.
   */
  capture(): MvccCapture {
    const keys: KeyIndex[] = [];
    for (const [, keyIndex] of this.index.entries()) keys.push(keyIndex);
    const currentRev = this.currentRev;
    const compactRev = this.compactRev;
    this.captures++;
    let released = false;
    return {
      revision: currentRev,
      encode: (sliceKeys) => encodeSnapshotAt(keys, currentRev, compactRev, sliceKeys),
      release: () => {
        if (released) return;
        released = true;
        this.captures--;
        if (this.captures === 0 && this.deferredCompaction > 0) {
          this.index.compact(this.deferredCompaction);
          this.deferredCompaction = 0;
        }
      },
    };
  }

  /**
   * history returns the changes to the keys in [key, rangeEnd) (ranges as in Range) at
   * revisions `fromRev..toRev`, by revision; ErrCompacted if `fromRev` is below the
   * compacted revision. Changes of one txn come in key order (etcd: in op order).
   */
  history(
    key: Uint8Array,
    rangeEnd: Uint8Array | undefined,
    fromRev: number,
    toRev: number,
  ): MvccEvent[] {
    if (fromRev < this.compactRev) throw new MvccError('ErrCompacted');
    return collectHistory(this.index, resolveRange(key, rangeEnd), fromRev, toRev);
  }

  /** serialize encodes the whole store (history since compaction included), versioned. */
  serialize(): Uint8Array {
    return encodeSnapshot({
      currentRev: this.currentRev,
      compactRev: this.compactRev,
      index: this.index,
    });
  }

  /** deserialize rebuilds a store from {@link MvccStore.serialize} output. */
  static deserialize(bytes: Uint8Array): MvccStore {
    const state = decodeSnapshot(bytes);
    const store = new MvccStore();
    store.index = state.index;
    store.currentRev = state.currentRev;
    store.compactRev = state.compactRev;
    return store;
  }

  private readView(): ReadView {
    const index = this.index;
    const rev = this.currentRev;
    return {
      rev,
      compactRev: this.compactRev,
      leaseExists: this.leaseExists,
      kvsIn(key, rangeEnd): KeyValue[] {
        const out: KeyValue[] = [];
        index.visit(resolveRange(key, rangeEnd), rev, (kv) => {
          out.push(kv);
          return true;
        });
        return out;
      },
    };
  }

  private write<T>(fn: (w: WriteTxn) => T): T {
    const w = new WriteTxn(this.index, this.currentRev, this.compactRev, this.leaseExists);
    if (this.onCommit !== undefined) w.events = [];
    if (this.onLeaseChange !== undefined) w.leaseChanges = [];
    let result: T;
    try {
      result = fn(w);
    } catch (err) {
      w.rollback();
      throw err;
    }
    this.commit(w);
    return result;
  }

  /** commit publishes a finished write txn: the new revision, lease changes, events. */
  private commit(w: WriteTxn): void {
    if (w.changes === 0) return;
    this.currentRev++;
    if (w.leaseChanges !== undefined && w.leaseChanges.length > 0) {
      this.onLeaseChange?.(w.leaseChanges);
    }
    if (w.events !== undefined) this.onCommit?.(this.currentRev, w.events);
  }
}
