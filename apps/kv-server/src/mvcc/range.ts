import { MvccError } from './errors.js';
import { compareBytes, EMPTY_BYTES, resolveRange } from './key-bytes.js';
import type { TreeIndex } from './tree-index.js';
import {
  type KeyValue,
  type RangeRequest,
  type RangeResponse,
  SortOrder,
  SortTarget,
} from './types.js';

/**
 * checkReadRevision validates a request's `revision` against a view whose current
 * revision is `curRev` and compacted revision `compactRev`, and returns the revision to
 * read at (etcd's `rangeKeys`): 0 or less reads `curRev`; above `curRev` is
 * ErrFutureRev; below `compactRev` is ErrCompacted (reading exactly at it is allowed).
 */
export function checkReadRevision(
  revision: number | undefined,
  curRev: number,
  compactRev: number,
): number {
  let rev = revision ?? 0;
  if (rev > curRev) throw new MvccError('ErrFutureRev');
  if (rev <= 0) rev = curRev;
  if (rev < compactRev) throw new MvccError('ErrCompacted');
  return rev;
}

/**
 * executeRange answers a {@link RangeRequest} over `index` seen at current revision
 * `curRev`, with etcd's rules (`etcdserver/txn.executeRange`): `count` is the number of
 * keys in the range at the read revision before the min/max filters and the limit;
 * the filters apply, then the sort, then the limit (`more` when it cut something);
 * `keysOnly` empties values. The response revision is `curRev`, also for past reads.
 * Faithful to etcd also where it surprises: with sort order NONE, a non-KEY sort target
 * and a limit, only the first limit+1 keys by key order are sorted and cut.
 */
export function executeRange(
  index: TreeIndex,
  req: RangeRequest,
  curRev: number,
  compactRev: number,
): RangeResponse {
  const rev = checkReadRevision(req.revision, curRev, compactRev);
  const range = resolveRange(req.key, req.rangeEnd);
  if (req.countOnly === true) {
    return { revision: curRev, kvs: [], more: false, count: index.count(range, rev) };
  }
  const limit = req.limit !== undefined && req.limit > 0 ? req.limit : 0;
  const minMod = req.minModRevision ?? 0;
  const maxMod = req.maxModRevision ?? 0;
  const minCreate = req.minCreateRevision ?? 0;
  const maxCreate = req.maxCreateRevision ?? 0;
  const sortOrder = req.sortOrder ?? SortOrder.NONE;
  const sortTarget = req.sortTarget ?? SortTarget.KEY;
  const needAll =
    sortOrder !== SortOrder.NONE ||
    minMod !== 0 ||
    maxMod !== 0 ||
    minCreate !== 0 ||
    maxCreate !== 0;
  // As etcd: unless a sort order or a filter is given, only the first limit+1 keys (in key
  // order) are fetched, and a NONE-order sort by another target then sorts just those.
  // The count still covers the whole range.
  const keep = limit > 0 && !needAll ? limit + 1 : Number.POSITIVE_INFINITY;

  let kvs: KeyValue[] = [];
  let count = 0;
  index.visit(range, rev, (kv) => {
    if (kvs.length < keep) kvs.push(kv);
    count++;
    return true;
  });

  if (maxMod !== 0) kvs = kvs.filter((kv) => kv.modRevision <= maxMod);
  if (minMod !== 0) kvs = kvs.filter((kv) => kv.modRevision >= minMod);
  if (maxCreate !== 0) kvs = kvs.filter((kv) => kv.createRevision <= maxCreate);
  if (minCreate !== 0) kvs = kvs.filter((kv) => kv.createRevision >= minCreate);

  sortKvs(kvs, sortOrder, sortTarget);

  let more = false;
  if (limit > 0 && kvs.length > limit) {
    kvs.length = limit;
    more = true;
  }
  if (req.keysOnly === true) kvs = kvs.map((kv) => ({ ...kv, value: EMPTY_BYTES }));
  return { revision: curRev, kvs, more, count };
}

/**
 * sortKvs sorts key-ordered `kvs` in place as etcd does: order NONE with a target other
 * than KEY means ASCEND; ASCEND by KEY is the index order already. The sort is stable,
 * so equal targets stay in ascending key order in both directions (etcd's Go sort leaves
 * ties unspecified).
 */
export function sortKvs(kvs: KeyValue[], order: SortOrder, target: SortTarget): void {
  let effective: SortOrder = order;
  if (target !== SortTarget.KEY && order === SortOrder.NONE) effective = SortOrder.ASCEND;
  else if (target === SortTarget.KEY && order === SortOrder.ASCEND) effective = SortOrder.NONE;
  if (effective === SortOrder.NONE) return;
  const by = comparatorFor(target);
  const sign = effective === SortOrder.DESCEND ? -1 : 1;
  kvs.sort((a, b) => sign * by(a, b));
}

function comparatorFor(target: SortTarget): (a: KeyValue, b: KeyValue) => number {
  switch (target) {
    case SortTarget.KEY:
      return (a, b) => compareBytes(a.key, b.key);
    case SortTarget.VERSION:
      return (a, b) => a.version - b.version;
    case SortTarget.CREATE:
      return (a, b) => a.createRevision - b.createRevision;
    case SortTarget.MOD:
      return (a, b) => a.modRevision - b.modRevision;
    case SortTarget.VALUE:
      return (a, b) => compareBytes(a.value, b.value);
    default:
      throw new RangeError(`unknown sort target ${String(target)}`);
  }
}
