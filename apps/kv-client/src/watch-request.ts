// Watch requests as etcd's clientv3 builds them: one key or a range (the same selectors
// as reads), an optional start revision, and the create request's switches.
import { FilterType, type WatchCreateRequest } from '@raftkit/rpc/etcd';
import { type KeyInput, type RangeSelector, resolveRange } from './bytes.js';
import { type IntInput, toInt64 } from './ops.js';

/** WatchFilter drops one kind of event on the server: `noPut` or `noDelete`. */
export type WatchFilter = 'noPut' | 'noDelete';

/** WatchOptions shape a watch (Watch.Watch's WatchCreateRequest). */
export interface WatchOptions extends RangeSelector {
  /**
   * revision is the first revision to deliver (history at and after it is replayed);
   * unset or 0 watches from the next change on.
   */
  readonly revision?: IntInput;
  /** prevKv adds each changed key's previous key-value to its event. */
  readonly prevKv?: boolean;
  /** filters drop events on the server: `noPut` (no PUT events), `noDelete` (no DELETE events). */
  readonly filters?: readonly WatchFilter[];
  /**
   * progressNotify asks the server for a periodic empty response carrying its current
   * revision when nothing else is sent (delivered with `progressNotify: true`).
   */
  readonly progressNotify?: boolean;
  /** fragment lets the server split a very large response; the watch joins the parts. */
  readonly fragment?: boolean;
  /** createdNotify also delivers the server's `created` answer to the first creation. */
  readonly createdNotify?: boolean;
  /**
   * requireLeader sends etcd's `hasleader: true` metadata: a member that knows no
   * leader ends the stream (`etcdserver: no leader`) and the watch moves to another
   * endpoint, as with clientv3's `WithRequireLeader` (what etcdctl uses).
   */
  readonly requireLeader?: boolean;
}

const FILTERS: Record<WatchFilter, FilterType> = {
  noPut: FilterType.NOPUT,
  noDelete: FilterType.NODELETE,
};

/**
 * watchCreateRequest builds the WatchCreateRequest for `watch(key, options)`. It throws
 * a TypeError for more than one range selector, a non-integer revision or an unknown
 * filter.
 */
export function watchCreateRequest(key: KeyInput, options: WatchOptions = {}): WatchCreateRequest {
  const range = resolveRange(key, options);
  const request: WatchCreateRequest = { key: range.key };
  if (range.rangeEnd !== undefined) request.rangeEnd = range.rangeEnd;
  if (options.revision !== undefined) {
    const revision = toInt64(options.revision, 'revision');
    if (revision !== 0n) request.startRevision = revision;
  }
  if (options.prevKv === true) request.prevKv = true;
  if (options.progressNotify === true) request.progressNotify = true;
  if (options.fragment === true) request.fragment = true;
  if (options.filters !== undefined && options.filters.length > 0) {
    request.filters = options.filters.map((name) => {
      const filter = FILTERS[name];
      if (filter === undefined) throw new TypeError(`unknown watch filter "${String(name)}"`);
      return filter;
    });
  }
  return request;
}
