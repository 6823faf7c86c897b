/**
 * Request and response shapes of the MVCC store. They mirror etcd's `etcdserverpb` and
 * `mvccpb` messages field for field (camelCase names, numeric enums with the proto's
 * values) so the gRPC layer can map them 1:1. Revisions and versions are safe-integer
 * numbers; lease ids are int64 in etcd and routinely exceed 2^53, so they are bigints.
 */

/** KeyValue is one key's state at some revision, as etcd's `mvccpb.KeyValue`. */
export interface KeyValue {
  /** The key's bytes. */
  readonly key: Uint8Array;
  /** Revision of the put that created the key's current generation. */
  readonly createRevision: number;
  /** Revision of the key's last modification. */
  readonly modRevision: number;
  /** 1 on creation, +1 per put; a delete resets it. */
  readonly version: number;
  /** The value; empty when the request asked for keys only. */
  readonly value: Uint8Array;
  /** The lease id attached to the key, 0n for none. */
  readonly lease: bigint;
}

/** SortOrder is etcd's `RangeRequest.SortOrder` with its proto values. */
export const SortOrder = { NONE: 0, ASCEND: 1, DESCEND: 2 } as const;
/** SortOrder is the union of the numeric sort orders. */
export type SortOrder = (typeof SortOrder)[keyof typeof SortOrder];

/** SortTarget is etcd's `RangeRequest.SortTarget` with its proto values. */
export const SortTarget = { KEY: 0, VERSION: 1, CREATE: 2, MOD: 3, VALUE: 4 } as const;
/** SortTarget is the union of the numeric sort targets. */
export type SortTarget = (typeof SortTarget)[keyof typeof SortTarget];

/** CompareResult is etcd's `Compare.CompareResult` with its proto values. */
export const CompareResult = { EQUAL: 0, GREATER: 1, LESS: 2, NOT_EQUAL: 3 } as const;
/** CompareResult is the union of the numeric compare results. */
export type CompareResult = (typeof CompareResult)[keyof typeof CompareResult];

/** CompareTarget is etcd's `Compare.CompareTarget` with its proto values. */
export const CompareTarget = { VERSION: 0, CREATE: 1, MOD: 2, VALUE: 3, LEASE: 4 } as const;
/** CompareTarget is the union of the numeric compare targets. */
export type CompareTarget = (typeof CompareTarget)[keyof typeof CompareTarget];

/**
 * RangeRequest is etcd's `RangeRequest`. An absent or empty `rangeEnd` means the single
 * key `key`; `rangeEnd = [0]` means every key >= `key`; otherwise the half-open interval
 * [key, rangeEnd).
 */
export interface RangeRequest {
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
  /** Maximum number of keys returned; 0 or less means no limit. */
  readonly limit?: number;
  /** Read at this past revision; 0 or less means the current revision. */
  readonly revision?: number;
  readonly sortOrder?: SortOrder;
  readonly sortTarget?: SortTarget;
  /** Accepted for wire compatibility; the store itself is always local. */
  readonly serializable?: boolean;
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
  readonly minModRevision?: number;
  readonly maxModRevision?: number;
  readonly minCreateRevision?: number;
  readonly maxCreateRevision?: number;
}

/** RangeResponse is etcd's `RangeResponse`; `revision` goes to the response header. */
export interface RangeResponse {
  readonly revision: number;
  readonly kvs: KeyValue[];
  readonly more: boolean;
  /** Number of keys in the range at the read revision, ignoring `limit` and the filters. */
  readonly count: number;
}

/** PutRequest is etcd's `PutRequest`. */
export interface PutRequest {
  readonly key: Uint8Array;
  readonly value?: Uint8Array;
  readonly lease?: bigint;
  readonly prevKv?: boolean;
  readonly ignoreValue?: boolean;
  readonly ignoreLease?: boolean;
  /**
   * owned says the caller will never change `key` and `value` (e.g. views onto a
   * committed log entry): the store may then keep them as they are instead of copying
   * them, when they do not pin a much larger buffer (see `keepBytes` in key-bytes.ts). Without it
   * the store copies. Not part of etcd's request.
   */
  readonly owned?: boolean;
}

/** PutResponse is etcd's `PutResponse`; `prevKv` is set only when asked for and present. */
export interface PutResponse {
  readonly revision: number;
  readonly prevKv?: KeyValue;
}

/** DeleteRangeRequest is etcd's `DeleteRangeRequest`; ranges as in {@link RangeRequest}. */
export interface DeleteRangeRequest {
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
  readonly prevKv?: boolean;
}

/** DeleteRangeResponse is etcd's `DeleteRangeResponse`. */
export interface DeleteRangeResponse {
  readonly revision: number;
  readonly deleted: number;
  /** The deleted pairs when `prevKv` was asked for, else empty. */
  readonly prevKvs: KeyValue[];
}

/**
 * Compare is etcd's `Compare`. The operand is read from the field named by `target`
 * (`version`, `createRevision`, `modRevision`, `value` or `lease`); a missing operand
 * counts as 0 (or empty bytes), as in etcd.
 */
export interface Compare {
  readonly result: CompareResult;
  readonly target: CompareTarget;
  readonly key: Uint8Array;
  /** When set, every key in [key, rangeEnd) must satisfy the comparison. */
  readonly rangeEnd?: Uint8Array;
  readonly version?: number;
  readonly createRevision?: number;
  readonly modRevision?: number;
  readonly value?: Uint8Array;
  readonly lease?: bigint;
}

/** RequestOp is etcd's `RequestOp` oneof: exactly one of its request fields. */
export type RequestOp =
  | { readonly requestRange: RangeRequest }
  | { readonly requestPut: PutRequest }
  | { readonly requestDeleteRange: DeleteRangeRequest }
  | { readonly requestTxn: TxnRequest };

/** ResponseOp is etcd's `ResponseOp` oneof, answering the {@link RequestOp} at its index. */
export type ResponseOp =
  | { readonly responseRange: RangeResponse }
  | { readonly responsePut: PutResponse }
  | { readonly responseDeleteRange: DeleteRangeResponse }
  | { readonly responseTxn: TxnResponse };

/** TxnRequest is etcd's `TxnRequest`. */
export interface TxnRequest {
  readonly compare?: readonly Compare[];
  readonly success?: readonly RequestOp[];
  readonly failure?: readonly RequestOp[];
}

/** TxnResponse is etcd's `TxnResponse`. */
export interface TxnResponse {
  readonly revision: number;
  readonly succeeded: boolean;
  readonly responses: ResponseOp[];
}

/** CompactResponse is etcd's `CompactionResponse`: only the header revision. */
export interface CompactResponse {
  readonly revision: number;
}

/** TxnOptions tunes {@link TxnRequest} validation. */
export interface TxnOptions {
  /** etcd's `--max-txn-ops`: most compares, success ops or failure ops per txn (128). */
  readonly maxTxnOps?: number;
}

/**
 * LeaseChange is a change of a live key's lease made by a write (etcd's lessor
 * Attach/Detach): `from` and `to` are lease ids, 0 for none. `key` is the key as the
 * index's latin1 key string (`bytesToKeyString`).
 */
export interface LeaseChange {
  readonly key: string;
  readonly from: bigint;
  readonly to: bigint;
}
