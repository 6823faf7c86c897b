// Plain TypeScript shapes of the etcd v3 messages, as the codec in proto.ts produces and
// accepts them: camelCase field names, `bigint` for every 64-bit integer, `Uint8Array`
// for bytes (decoded bytes are Node `Buffer`s), enums as numbers, `null` for an unset
// sub-message. Request fields are optional (proto3 defaults apply; decoded requests
// have every scalar filled in); response fields are always present after decoding.

/** Int64 is how every int64 / uint64 field is represented: a `bigint`, exact over the whole range. */
export type Int64 = bigint;

/** Bytes is how every `bytes` field is represented (decoded values are Node Buffers). */
export type Bytes = Uint8Array;

// ---- enums -------------------------------------------------------------------------

/** SortOrder is `RangeRequest.SortOrder`. */
export const SortOrder = { NONE: 0, ASCEND: 1, DESCEND: 2 } as const;
/** SortOrder is the numeric value of `RangeRequest.SortOrder`. */
export type SortOrder = (typeof SortOrder)[keyof typeof SortOrder];

/** SortTarget is `RangeRequest.SortTarget`. */
export const SortTarget = { KEY: 0, VERSION: 1, CREATE: 2, MOD: 3, VALUE: 4 } as const;
/** SortTarget is the numeric value of `RangeRequest.SortTarget`. */
export type SortTarget = (typeof SortTarget)[keyof typeof SortTarget];

/** CompareResult is `Compare.CompareResult`, the comparison operator. */
export const CompareResult = { EQUAL: 0, GREATER: 1, LESS: 2, NOT_EQUAL: 3 } as const;
/** CompareResult is the numeric value of `Compare.CompareResult`. */
export type CompareResult = (typeof CompareResult)[keyof typeof CompareResult];

/** CompareTarget is `Compare.CompareTarget`, the key field a comparison inspects. */
export const CompareTarget = { VERSION: 0, CREATE: 1, MOD: 2, VALUE: 3, LEASE: 4 } as const;
/** CompareTarget is the numeric value of `Compare.CompareTarget`. */
export type CompareTarget = (typeof CompareTarget)[keyof typeof CompareTarget];

/** EventType is `mvccpb.Event.EventType`. */
export const EventType = { PUT: 0, DELETE: 1 } as const;
/** EventType is the numeric value of `mvccpb.Event.EventType`. */
export type EventType = (typeof EventType)[keyof typeof EventType];

/** FilterType is `WatchCreateRequest.FilterType`. */
export const FilterType = { NOPUT: 0, NODELETE: 1 } as const;
/** FilterType is the numeric value of `WatchCreateRequest.FilterType`. */
export type FilterType = (typeof FilterType)[keyof typeof FilterType];

/** AlarmType is the top-level `AlarmType` enum. */
export const AlarmType = { NONE: 0, NOSPACE: 1, CORRUPT: 2 } as const;
/** AlarmType is the numeric value of `AlarmType`. */
export type AlarmType = (typeof AlarmType)[keyof typeof AlarmType];

/** AlarmAction is `AlarmRequest.AlarmAction`. */
export const AlarmAction = { GET: 0, ACTIVATE: 1, DEACTIVATE: 2 } as const;
/** AlarmAction is the numeric value of `AlarmRequest.AlarmAction`. */
export type AlarmAction = (typeof AlarmAction)[keyof typeof AlarmAction];

/** DowngradeAction is `DowngradeRequest.DowngradeAction`. */
export const DowngradeAction = { VALIDATE: 0, ENABLE: 1, CANCEL: 2 } as const;
/** DowngradeAction is the numeric value of `DowngradeRequest.DowngradeAction`. */
export type DowngradeAction = (typeof DowngradeAction)[keyof typeof DowngradeAction];

// ---- mvccpb ------------------------------------------------------------------------

/** KeyValue is `mvccpb.KeyValue`: one key at one revision. */
export interface KeyValue {
  key: Bytes;
  createRevision: Int64;
  modRevision: Int64;
  version: Int64;
  value: Bytes;
  lease: Int64;
}

/** Event is `mvccpb.Event`: one change delivered to a watcher. */
export interface Event {
  type: EventType;
  kv: KeyValue | null;
  prevKv: KeyValue | null;
}

// ---- common ------------------------------------------------------------------------

/** ResponseHeader is `etcdserverpb.ResponseHeader`, carried by every response. */
export interface ResponseHeader {
  clusterId: Int64;
  memberId: Int64;
  revision: Int64;
  raftTerm: Int64;
}

// ---- KV ----------------------------------------------------------------------------

/** RangeRequest is `etcdserverpb.RangeRequest` (KV.Range). */
export interface RangeRequest {
  key?: Bytes;
  rangeEnd?: Bytes;
  limit?: Int64;
  revision?: Int64;
  sortOrder?: SortOrder;
  sortTarget?: SortTarget;
  serializable?: boolean;
  keysOnly?: boolean;
  countOnly?: boolean;
  minModRevision?: Int64;
  maxModRevision?: Int64;
  minCreateRevision?: Int64;
  maxCreateRevision?: Int64;
}

/** RangeResponse is `etcdserverpb.RangeResponse`. */
export interface RangeResponse {
  header: ResponseHeader | null;
  kvs: KeyValue[];
  more: boolean;
  count: Int64;
}

/** PutRequest is `etcdserverpb.PutRequest` (KV.Put). */
export interface PutRequest {
  key?: Bytes;
  value?: Bytes;
  lease?: Int64;
  prevKv?: boolean;
  ignoreValue?: boolean;
  ignoreLease?: boolean;
}

/** PutResponse is `etcdserverpb.PutResponse`; `prevKv` is null unless asked for and present. */
export interface PutResponse {
  header: ResponseHeader | null;
  prevKv: KeyValue | null;
}

/** DeleteRangeRequest is `etcdserverpb.DeleteRangeRequest` (KV.DeleteRange). */
export interface DeleteRangeRequest {
  key?: Bytes;
  rangeEnd?: Bytes;
  prevKv?: boolean;
}

/** DeleteRangeResponse is `etcdserverpb.DeleteRangeResponse`. */
export interface DeleteRangeResponse {
  header: ResponseHeader | null;
  deleted: Int64;
  prevKvs: KeyValue[];
}

/**
 * RequestOp is `etcdserverpb.RequestOp`, one operation of a transaction: exactly one
 * member of the `request` oneof is set. Decoded values also carry `request`, the name of
 * the set member; it is ignored when encoding.
 */
export type RequestOp =
  | { request?: 'requestRange'; requestRange: RangeRequest }
  | { request?: 'requestPut'; requestPut: PutRequest }
  | { request?: 'requestDeleteRange'; requestDeleteRange: DeleteRangeRequest }
  | { request?: 'requestTxn'; requestTxn: TxnRequest };

/**
 * ResponseOp is `etcdserverpb.ResponseOp`, the answer to one RequestOp. Decoded values
 * carry `response`, the name of the set member of the oneof; a server building one may
 * leave it out.
 */
export type ResponseOp =
  | { response?: 'responseRange'; responseRange: RangeResponse }
  | { response?: 'responsePut'; responsePut: PutResponse }
  | { response?: 'responseDeleteRange'; responseDeleteRange: DeleteRangeResponse }
  | { response?: 'responseTxn'; responseTxn: TxnResponse };

interface CompareBase {
  result?: CompareResult;
  target?: CompareTarget;
  key?: Bytes;
  /** rangeEnd, when set, applies the comparison to every key in [key, rangeEnd). */
  rangeEnd?: Bytes;
  /** targetUnion names the set operand on decoded values; ignored when encoding. */
  targetUnion?: 'version' | 'createRevision' | 'modRevision' | 'value' | 'lease';
}

/**
 * Compare is `etcdserverpb.Compare`, one guard of a transaction. Exactly one operand of
 * the `target_union` oneof is set and it must match `target` (VERSION → version, CREATE
 * → createRevision, MOD → modRevision, VALUE → value, LEASE → lease); an operand of 0
 * is still sent, because oneof members have presence.
 */
export type Compare = CompareBase &
  (
    | { version: Int64 }
    | { createRevision: Int64 }
    | { modRevision: Int64 }
    | { value: Bytes }
    | { lease: Int64 }
  );

/** TxnRequest is `etcdserverpb.TxnRequest` (KV.Txn): if all compares hold, success, else failure. */
export interface TxnRequest {
  compare?: Compare[];
  success?: RequestOp[];
  failure?: RequestOp[];
}

/** TxnResponse is `etcdserverpb.TxnResponse`. */
export interface TxnResponse {
  header: ResponseHeader | null;
  succeeded: boolean;
  responses: ResponseOp[];
}

/** CompactionRequest is `etcdserverpb.CompactionRequest` (KV.Compact). */
export interface CompactionRequest {
  revision?: Int64;
  physical?: boolean;
}

/** CompactionResponse is `etcdserverpb.CompactionResponse`. */
export interface CompactionResponse {
  header: ResponseHeader | null;
}

// ---- Watch -------------------------------------------------------------------------

/** WatchCreateRequest is `etcdserverpb.WatchCreateRequest`. */
export interface WatchCreateRequest {
  key?: Bytes;
  rangeEnd?: Bytes;
  startRevision?: Int64;
  progressNotify?: boolean;
  filters?: FilterType[];
  prevKv?: boolean;
  watchId?: Int64;
  fragment?: boolean;
}

/** WatchCancelRequest is `etcdserverpb.WatchCancelRequest`. */
export interface WatchCancelRequest {
  watchId?: Int64;
}

/** WatchRequest is `etcdserverpb.WatchRequest`, one message on the Watch stream. */
export type WatchRequest =
  | { requestUnion?: 'createRequest'; createRequest: WatchCreateRequest }
  | { requestUnion?: 'cancelRequest'; cancelRequest: WatchCancelRequest }
  | { requestUnion?: 'progressRequest'; progressRequest: Record<string, never> };

/** WatchResponse is `etcdserverpb.WatchResponse`. */
export interface WatchResponse {
  header: ResponseHeader | null;
  watchId: Int64;
  created: boolean;
  canceled: boolean;
  compactRevision: Int64;
  cancelReason: string;
  fragment: boolean;
  events: Event[];
}

// ---- Lease -------------------------------------------------------------------------

/** LeaseGrantRequest is `etcdserverpb.LeaseGrantRequest`. */
export interface LeaseGrantRequest {
  TTL?: Int64;
  ID?: Int64;
}

/** LeaseGrantResponse is `etcdserverpb.LeaseGrantResponse`. */
export interface LeaseGrantResponse {
  header: ResponseHeader | null;
  ID: Int64;
  TTL: Int64;
  error: string;
}

/** LeaseRevokeRequest is `etcdserverpb.LeaseRevokeRequest`. */
export interface LeaseRevokeRequest {
  ID?: Int64;
}

/** LeaseRevokeResponse is `etcdserverpb.LeaseRevokeResponse`. */
export interface LeaseRevokeResponse {
  header: ResponseHeader | null;
}

/** LeaseKeepAliveRequest is `etcdserverpb.LeaseKeepAliveRequest`. */
export interface LeaseKeepAliveRequest {
  ID?: Int64;
}

/** LeaseKeepAliveResponse is `etcdserverpb.LeaseKeepAliveResponse`. */
export interface LeaseKeepAliveResponse {
  header: ResponseHeader | null;
  ID: Int64;
  TTL: Int64;
}

/** LeaseTimeToLiveRequest is `etcdserverpb.LeaseTimeToLiveRequest`. */
export interface LeaseTimeToLiveRequest {
  ID?: Int64;
  keys?: boolean;
}

/** LeaseTimeToLiveResponse is `etcdserverpb.LeaseTimeToLiveResponse`. */
export interface LeaseTimeToLiveResponse {
  header: ResponseHeader | null;
  ID: Int64;
  TTL: Int64;
  grantedTTL: Int64;
  keys: Bytes[];
}

/** LeaseLeasesRequest is `etcdserverpb.LeaseLeasesRequest` (no fields). */
export type LeaseLeasesRequest = Record<string, never>;

/** LeaseStatus is `etcdserverpb.LeaseStatus`. */
export interface LeaseStatus {
  ID: Int64;
}

/** LeaseLeasesResponse is `etcdserverpb.LeaseLeasesResponse`. */
export interface LeaseLeasesResponse {
  header: ResponseHeader | null;
  leases: LeaseStatus[];
}

// ---- Cluster -----------------------------------------------------------------------

/** Member is `etcdserverpb.Member`; `ID` is a random uint64, hence bigint. */
export interface Member {
  ID: Int64;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

/** MemberAddRequest is `etcdserverpb.MemberAddRequest`. */
export interface MemberAddRequest {
  peerURLs?: string[];
  isLearner?: boolean;
}

/** MemberAddResponse is `etcdserverpb.MemberAddResponse`. */
export interface MemberAddResponse {
  header: ResponseHeader | null;
  member: Member | null;
  members: Member[];
}

/** MemberRemoveRequest is `etcdserverpb.MemberRemoveRequest`. */
export interface MemberRemoveRequest {
  ID?: Int64;
}

/** MemberRemoveResponse is `etcdserverpb.MemberRemoveResponse`. */
export interface MemberRemoveResponse {
  header: ResponseHeader | null;
  members: Member[];
}

/** MemberUpdateRequest is `etcdserverpb.MemberUpdateRequest`. */
export interface MemberUpdateRequest {
  ID?: Int64;
  peerURLs?: string[];
}

/** MemberUpdateResponse is `etcdserverpb.MemberUpdateResponse`. */
export interface MemberUpdateResponse {
  header: ResponseHeader | null;
  members: Member[];
}

/** MemberListRequest is `etcdserverpb.MemberListRequest`. */
export interface MemberListRequest {
  linearizable?: boolean;
}

/** MemberListResponse is `etcdserverpb.MemberListResponse`. */
export interface MemberListResponse {
  header: ResponseHeader | null;
  members: Member[];
}

/** MemberPromoteRequest is `etcdserverpb.MemberPromoteRequest`. */
export interface MemberPromoteRequest {
  ID?: Int64;
}

/** MemberPromoteResponse is `etcdserverpb.MemberPromoteResponse`. */
export interface MemberPromoteResponse {
  header: ResponseHeader | null;
  members: Member[];
}

// ---- Maintenance -------------------------------------------------------------------

/** AlarmRequest is `etcdserverpb.AlarmRequest`. */
export interface AlarmRequest {
  action?: AlarmAction;
  memberID?: Int64;
  alarm?: AlarmType;
}

/** AlarmMember is `etcdserverpb.AlarmMember`. */
export interface AlarmMember {
  memberID: Int64;
  alarm: AlarmType;
}

/** AlarmResponse is `etcdserverpb.AlarmResponse`. */
export interface AlarmResponse {
  header: ResponseHeader | null;
  alarms: AlarmMember[];
}

/** StatusRequest is `etcdserverpb.StatusRequest` (no fields). */
export type StatusRequest = Record<string, never>;

/** DowngradeInfo is `etcdserverpb.DowngradeInfo` (etcd 3.6+). */
export interface DowngradeInfo {
  enabled: boolean;
  targetVersion: string;
}

/**
 * StatusResponse is `etcdserverpb.StatusResponse` (Maintenance.Status). Fields after
 * `raftTerm` arrived in etcd 3.4 (`raftAppliedIndex`, `errors`, `dbSizeInUse`,
 * `isLearner`) and 3.6 (`storageVersion`, `dbSizeQuota`, `downgradeInfo`); older
 * servers leave them at their defaults.
 */
export interface StatusResponse {
  header: ResponseHeader | null;
  version: string;
  dbSize: Int64;
  leader: Int64;
  raftIndex: Int64;
  raftTerm: Int64;
  raftAppliedIndex: Int64;
  errors: string[];
  dbSizeInUse: Int64;
  isLearner: boolean;
  storageVersion: string;
  dbSizeQuota: Int64;
  downgradeInfo: DowngradeInfo | null;
}

/** DefragmentRequest is `etcdserverpb.DefragmentRequest` (no fields). */
export type DefragmentRequest = Record<string, never>;

/** DefragmentResponse is `etcdserverpb.DefragmentResponse`. */
export interface DefragmentResponse {
  header: ResponseHeader | null;
}

/** HashRequest is `etcdserverpb.HashRequest` (no fields). */
export type HashRequest = Record<string, never>;

/** HashResponse is `etcdserverpb.HashResponse`. */
export interface HashResponse {
  header: ResponseHeader | null;
  hash: number;
}

/** HashKVRequest is `etcdserverpb.HashKVRequest`. */
export interface HashKVRequest {
  revision?: Int64;
}

/** HashKVResponse is `etcdserverpb.HashKVResponse`. */
export interface HashKVResponse {
  header: ResponseHeader | null;
  hash: number;
  compactRevision: Int64;
  hashRevision: Int64;
}

/** SnapshotRequest is `etcdserverpb.SnapshotRequest` (no fields). */
export type SnapshotRequest = Record<string, never>;

/** SnapshotResponse is `etcdserverpb.SnapshotResponse`, one chunk of the snapshot stream. */
export interface SnapshotResponse {
  header: ResponseHeader | null;
  remainingBytes: Int64;
  blob: Bytes;
  version: string;
}

/** MoveLeaderRequest is `etcdserverpb.MoveLeaderRequest`. */
export interface MoveLeaderRequest {
  targetID?: Int64;
}

/** MoveLeaderResponse is `etcdserverpb.MoveLeaderResponse`. */
export interface MoveLeaderResponse {
  header: ResponseHeader | null;
}

/** DowngradeRequest is `etcdserverpb.DowngradeRequest`. */
export interface DowngradeRequest {
  action?: DowngradeAction;
  version?: string;
}

/** DowngradeResponse is `etcdserverpb.DowngradeResponse`. */
export interface DowngradeResponse {
  header: ResponseHeader | null;
  version: string;
}
