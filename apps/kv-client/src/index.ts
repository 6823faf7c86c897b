// @raftkit/kv-client: a typed client of the etcd v3 API (raftkit kv-server or etcd).
export { EventType, FilterType } from '@raftkit/rpc/etcd';
export {
  type KeyInput,
  prefixRangeEnd,
  type RangeSelector,
  resolveRange,
  toBytes,
  ZERO_KEY,
} from './bytes.js';
export {
  KvClient,
  type KvClientOptions,
  type LeaderEndpoint,
  type MemberAddOptions,
  type MoveLeaderResult,
  RAFTKIT_SERVER_HEADER,
  REQUEST_ID_HEADER,
  REQUIRE_LEADER_HEADER,
  type TlsOptions,
} from './client.js';
export { type Endpoint, parseEndpoint, parseEndpointList } from './endpoints.js';
export {
  ETCD_ERRORS,
  type EtcdErrorReason,
  etcdErrorReason,
  grpcCodeName,
  isKvClientError,
  KvClientError,
  type KvErrorReason,
  WatchCanceledError,
} from './errors.js';
export {
  type LeaseGrantOptions,
  type LeaseTimeToLiveOptions,
  MAX_LEASE_ID,
  MIN_LEASE_ID,
  toLeaseId,
} from './lease.js';
export {
  KEEP_ALIVE_BUFFER,
  KEEP_ALIVE_RETRY_MS,
  KeepAliveSchedule,
  LeaseKeepAlive,
  type LeaseKeepAliveEnd,
  type LeaseKeepAliveOptions,
} from './lease-keep-alive.js';
export {
  type CompareField,
  type CompareOperator,
  compare,
  type DeleteOptions,
  type GetOptions,
  type IntInput,
  Op,
  type PutOptions,
  type SortOrderName,
  type SortTargetName,
} from './ops.js';
export { checkPeerUrl, checkPeerUrls, MAX_MEMBER_ID, toMemberId } from './peer-urls.js';
export {
  backoffMs,
  classifyFailure,
  decideRetry,
  type RetryClass,
  type RetryDecision,
} from './retry.js';
export { TxnBuilder } from './txn.js';
export {
  WATCH_BUFFER,
  WATCH_CANCEL_WAIT_MS,
  Watch,
  type WatchBatch,
  WatchCursor,
  type WatchEnd,
  type WatchHandleOptions,
} from './watch.js';
export { type WatchFilter, type WatchOptions, watchCreateRequest } from './watch-request.js';
