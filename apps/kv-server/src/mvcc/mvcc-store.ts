import { MvccError } from './errors.js';
import { resolveRange } from './key-bytes.js';
import { executeRange } from './range.js';
import { decodeSnapshot, encodeSnapshot } from './snapshot-codec.js';
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
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnOptions,
  TxnRequest,
  TxnResponse,
} from './types.js';
import { WriteTxn } from './write-txn.js';

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
    return this.write((w) => w.put(req));
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
   * compact drops the history before `revision` (etcd's Compact): each key keeps its
   * latest state at or before it and keys deleted by then vanish. It is ErrCompacted if
   * `revision` is not above the last compaction and ErrFutureRev above the current
   * revision. It writes no revision of its own.
   */
  compact(revision: number): CompactResponse {
    if (revision <= this.compactRev) throw new MvccError('ErrCompacted');
    if (revision > this.currentRev) throw new MvccError('ErrFutureRev');
    this.index.compact(revision);
    this.compactRev = revision;
    return { revision: this.currentRev };
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
    let result: T;
    try {
      result = fn(w);
    } catch (err) {
      w.rollback();
      throw err;
    }
    if (w.changes > 0) this.currentRev++;
    return result;
  }
}
