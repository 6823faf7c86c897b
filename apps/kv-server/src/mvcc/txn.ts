import { MvccError } from './errors.js';
import { bytesToKeyString, compareBytes, EMPTY_BYTES } from './key-bytes.js';
import {
  type Compare,
  CompareResult,
  CompareTarget,
  type DeleteRangeRequest,
  type KeyValue,
  type PutRequest,
  type RangeRequest,
  type RequestOp,
  type ResponseOp,
  SortOrder,
  SortTarget,
  type TxnRequest,
  type TxnResponse,
} from './types.js';
import type { WriteTxn } from './write-txn.js';

/** DEFAULT_MAX_TXN_OPS is etcd's default `--max-txn-ops`. */
export const DEFAULT_MAX_TXN_OPS = 128;

const SORT_ORDERS: ReadonlySet<number> = new Set(Object.values(SortOrder));
const SORT_TARGETS: ReadonlySet<number> = new Set(Object.values(SortTarget));

/**
 * checkRangeRequest rejects a Range as etcd's API layer does (3.5+): an empty key is
 * ErrEmptyKey, a sort order or target that is not one of the proto's values (the wire
 * allows any int32) ErrInvalidSortOption.
 */
export function checkRangeRequest(req: RangeRequest): void {
  if (req.key.length === 0) throw new MvccError('ErrEmptyKey');
  if (req.sortOrder !== undefined && !SORT_ORDERS.has(req.sortOrder)) {
    throw new MvccError('ErrInvalidSortOption');
  }
  if (req.sortTarget !== undefined && !SORT_TARGETS.has(req.sortTarget)) {
    throw new MvccError('ErrInvalidSortOption');
  }
}

/**
 * checkPutRequest rejects a Put as etcd's API layer does: empty key (ErrEmptyKey),
 * `ignoreValue` with a value (ErrValueProvided), `ignoreLease` with a lease
 * (ErrLeaseProvided).
 */
export function checkPutRequest(req: PutRequest): void {
  if (req.key.length === 0) throw new MvccError('ErrEmptyKey');
  if (req.ignoreValue === true && req.value !== undefined && req.value.length !== 0) {
    throw new MvccError('ErrValueProvided');
  }
  if (req.ignoreLease === true && req.lease !== undefined && req.lease !== 0n) {
    throw new MvccError('ErrLeaseProvided');
  }
}

/** checkDeleteRequest rejects a DeleteRange with an empty key (ErrEmptyKey). */
export function checkDeleteRequest(req: DeleteRangeRequest): void {
  if (req.key.length === 0) throw new MvccError('ErrEmptyKey');
}

/**
 * checkTxnRequest validates a txn's shape as etcd's `v3rpc.checkTxnRequest` followed by
 * `checkIntervals` on both branches: more compares, success ops or failure ops than
 * `maxTxnOps` is ErrTooManyOps (a nested txn gets the budget its parent left), an empty
 * key anywhere is ErrEmptyKey, and two writes of one key on a path that can run together
 * are ErrDuplicateKey.
 */
export function checkTxnRequest(req: TxnRequest, maxTxnOps: number = DEFAULT_MAX_TXN_OPS): void {
  checkTxnShape(req, maxTxnOps);
  checkIntervals(req.success ?? []);
  checkIntervals(req.failure ?? []);
}

function checkTxnShape(req: TxnRequest, maxTxnOps: number): void {
  const compare = req.compare ?? [];
  const success = req.success ?? [];
  const failure = req.failure ?? [];
  const opc = Math.max(compare.length, success.length, failure.length);
  if (opc > maxTxnOps) throw new MvccError('ErrTooManyOps');
  for (const c of compare) if (c.key.length === 0) throw new MvccError('ErrEmptyKey');
  for (const op of success) checkRequestOp(op, maxTxnOps - opc);
  for (const op of failure) checkRequestOp(op, maxTxnOps - opc);
}

function checkRequestOp(op: RequestOp, maxTxnOps: number): void {
  if ('requestRange' in op) checkRangeRequest(op.requestRange);
  else if ('requestPut' in op) checkPutRequest(op.requestPut);
  else if ('requestDeleteRange' in op) checkDeleteRequest(op.requestDeleteRange);
  else if ('requestTxn' in op) checkTxnShape(op.requestTxn, maxTxnOps);
  else throw new MvccError('ErrKeyNotFound'); // etcd's answer to an empty RequestOp
}

/**
 * Interval is a delete's key interval as etcd's `adt.StringAffineInterval`: the end is
 * compared literally, with '' standing for +infinity (so a `[0]` range end is taken as the
 * literal string "\0", exactly as etcd's duplicate check does).
 */
interface Interval {
  readonly begin: string;
  readonly end: string;
}

const ALL: Interval = { begin: '\u0000', end: '' };

function affineCmp(a: string, b: string): number {
  if (a.length === 0) return b.length === 0 ? 0 : 1;
  if (b.length === 0) return -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** overlaps is etcd's `adt.Interval.Compare(...) == 0`. */
function overlaps(a: Interval, b: Interval): boolean {
  if (affineCmp(a.begin, b.begin) < 0 && affineCmp(a.end, b.begin) <= 0) return false;
  if (affineCmp(a.begin, b.end) >= 0) return false;
  return true;
}

function point(k: string): Interval {
  return { begin: k, end: `${k}\u0000` };
}

function intersectsAny(dels: readonly Interval[], k: string): boolean {
  const p = point(k);
  return dels.some((d) => overlaps(p, d));
}

/** checkIntervals follows etcd's `v3rpc.checkIntervals` rule for rule. */
function checkIntervals(reqs: readonly RequestOp[]): { puts: Set<string>; dels: Interval[] } {
  let dels: Interval[] = [];
  for (const op of reqs) {
    if (!('requestDeleteRange' in op)) continue;
    const d = op.requestDeleteRange;
    const k = bytesToKeyString(d.key);
    dels.push(
      d.rangeEnd !== undefined && d.rangeEnd.length !== 0
        ? { begin: k, end: bytesToKeyString(d.rangeEnd) }
        : point(k),
    );
  }
  const puts = new Set<string>();
  for (const op of reqs) {
    if (!('requestTxn' in op)) continue;
    const then = checkIntervals(op.requestTxn.success ?? []);
    const otherwise = checkIntervals(op.requestTxn.failure ?? []);
    for (const k of then.puts) {
      if (puts.has(k) || intersectsAny(dels, k)) throw new MvccError('ErrDuplicateKey');
      puts.add(k);
    }
    for (const k of otherwise.puts) {
      // The same key in then and else is fine: only one branch runs.
      if (puts.has(k) && !then.puts.has(k)) throw new MvccError('ErrDuplicateKey');
      if (intersectsAny(dels, k)) throw new MvccError('ErrDuplicateKey');
      puts.add(k);
    }
    dels = dels.concat(
      then.dels.filter((d) => overlaps(d, ALL)),
      otherwise.dels.filter((d) => overlaps(d, ALL)),
    );
  }
  for (const op of reqs) {
    if (!('requestPut' in op)) continue;
    const k = bytesToKeyString(op.requestPut.key);
    if (puts.has(k) || intersectsAny(dels, k)) throw new MvccError('ErrDuplicateKey');
    puts.add(k);
  }
  return { puts, dels };
}

/**
 * ReadView is the store as a txn's compares and checks see it: the state before the txn
 * runs, at revision `rev`, compacted at `compactRev`.
 */
export interface ReadView {
  readonly rev: number;
  readonly compactRev: number;
  /** leaseExists says whether a lease id names a live lease (default: all do). */
  readonly leaseExists?: (lease: bigint) => boolean;
  /** kvsIn returns the keys alive at `rev` in [key, rangeEnd) (or just `key`). */
  kvsIn(key: Uint8Array, rangeEnd: Uint8Array | undefined): KeyValue[];
}

/**
 * TxnPlan is the branch every (nested) txn takes, decided up front: etcd evaluates all
 * compares, nested ones included, against the state before the txn runs.
 */
export interface TxnPlan {
  readonly succeeded: boolean;
  readonly ops: readonly RequestOp[];
  /** children maps the index of each nested txn op in `ops` to its plan. */
  readonly children: ReadonlyMap<number, TxnPlan>;
}

/** planTxn evaluates the compares of `req` and of its nested txns on the chosen paths. */
export function planTxn(view: ReadView, req: TxnRequest): TxnPlan {
  const succeeded = (req.compare ?? []).every((c) => applyCompare(view, c));
  const ops = (succeeded ? req.success : req.failure) ?? [];
  const children = new Map<number, TxnPlan>();
  ops.forEach((op, i) => {
    if ('requestTxn' in op) children.set(i, planTxn(view, op.requestTxn));
  });
  return { succeeded, ops, children };
}

/**
 * applyCompare evaluates one compare as etcd's `applyCompare`: every key in the range
 * must satisfy it; with no key there, a VALUE compare fails and any other target compares
 * against a zero KeyValue (version, create, mod and lease all 0).
 */
export function applyCompare(view: ReadView, c: Compare): boolean {
  const kvs = view.kvsIn(c.key, c.rangeEnd);
  if (kvs.length === 0) {
    if (c.target === CompareTarget.VALUE) return false;
    return compareKv(c, undefined);
  }
  return kvs.every((kv) => compareKv(c, kv));
}

function compareKv(c: Compare, kv: KeyValue | undefined): boolean {
  let r: number;
  switch (c.target) {
    case CompareTarget.VALUE:
      r = compareBytes(kv?.value ?? EMPTY_BYTES, c.value ?? EMPTY_BYTES);
      break;
    case CompareTarget.CREATE:
      r = Math.sign((kv?.createRevision ?? 0) - (c.createRevision ?? 0));
      break;
    case CompareTarget.MOD:
      r = Math.sign((kv?.modRevision ?? 0) - (c.modRevision ?? 0));
      break;
    case CompareTarget.VERSION:
      r = Math.sign((kv?.version ?? 0) - (c.version ?? 0));
      break;
    case CompareTarget.LEASE: {
      const a = kv?.lease ?? 0n;
      const b = c.lease ?? 0n;
      r = a < b ? -1 : a > b ? 1 : 0;
      break;
    }
    default:
      r = 0;
  }
  switch (c.result) {
    case CompareResult.EQUAL:
      return r === 0;
    case CompareResult.NOT_EQUAL:
      return r !== 0;
    case CompareResult.GREATER:
      return r > 0;
    case CompareResult.LESS:
      return r < 0;
    default:
      return true;
  }
}

/**
 * checkPlan runs etcd's `checkTxn` over the chosen paths against the state before the
 * txn: a Put with `ignoreValue`/`ignoreLease` on an absent key is ErrKeyNotFound, a
 * Range at a future or compacted revision is ErrFutureRev/ErrCompacted.
 */
export function checkPlan(view: ReadView, plan: TxnPlan): void {
  plan.ops.forEach((op, i) => {
    if ('requestRange' in op) {
      // etcd's checkRange, literally: a negative revision is checked against the
      // compacted revision too, unlike a top-level Range.
      const r = op.requestRange.revision ?? 0;
      if (r !== 0 && r > view.rev) throw new MvccError('ErrFutureRev');
      if (r !== 0 && r < view.compactRev) throw new MvccError('ErrCompacted');
    } else if ('requestPut' in op) {
      const p = op.requestPut;
      if (
        (p.ignoreValue === true || p.ignoreLease === true) &&
        view.kvsIn(p.key, undefined).length === 0
      ) {
        throw new MvccError('ErrKeyNotFound');
      }
      const lease = p.lease ?? 0n;
      if (p.ignoreLease !== true && lease !== 0n && view.leaseExists?.(lease) === false) {
        throw new MvccError('ErrLeaseNotFound');
      }
    } else if ('requestTxn' in op) {
      const child = plan.children.get(i);
      if (child !== undefined) checkPlan(view, child);
    }
  });
}

/**
 * executePlan runs the ops of a checked plan in order inside `wtxn` and returns their
 * responses. Each response's revision is the txn's revision right after the op (etcd);
 * a nested txn's own response revision is 0, as etcd leaves its header empty.
 */
export function executePlan(wtxn: WriteTxn, plan: TxnPlan): ResponseOp[] {
  return plan.ops.map((op, i): ResponseOp => {
    if ('requestRange' in op) return { responseRange: wtxn.range(op.requestRange) };
    if ('requestPut' in op) return { responsePut: wtxn.put(op.requestPut) };
    if ('requestDeleteRange' in op) {
      return { responseDeleteRange: wtxn.deleteRange(op.requestDeleteRange) };
    }
    const child = plan.children.get(i) as TxnPlan;
    const nested: TxnResponse = {
      revision: 0,
      succeeded: child.succeeded,
      responses: executePlan(wtxn, child),
    };
    return { responseTxn: nested };
  });
}
