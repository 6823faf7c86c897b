import {
  type Compare,
  CompareResult,
  CompareTarget,
  type DeleteRangeRequest,
  type PutRequest,
  type RangeRequest,
  type RequestOp,
  SortOrder,
  SortTarget,
} from '@raftkit/rpc/etcd';
import { type KeyInput, type RangeSelector, resolveRange, toBytes } from './bytes.js';

/** IntInput is what the client accepts for 64-bit numbers (revisions, leases, limits). */
export type IntInput = bigint | number;

/** toInt64 converts an IntInput to bigint, refusing non-integers. */
export function toInt64(value: IntInput, what: string): bigint {
  if (typeof value === 'bigint') return value;
  if (!Number.isSafeInteger(value)) throw new TypeError(`${what} must be an integer, got ${value}`);
  return BigInt(value);
}

/** SortOrderName is a sort order by name. */
export type SortOrderName = 'none' | 'ascend' | 'descend';

/** SortTargetName is a sort key by name (etcdctl's `--sort-by` values, lower-case). */
export type SortTargetName = 'key' | 'version' | 'create' | 'modify' | 'value';

/** GetOptions shape a KV.Range read. */
export interface GetOptions extends RangeSelector {
  /** limit caps the number of keys returned (0 = no limit). */
  readonly limit?: IntInput;
  /** keysOnly leaves values out. */
  readonly keysOnly?: boolean;
  /** countOnly returns only the count. */
  readonly countOnly?: boolean;
  /** serializable reads the answering member's local state (faster, may be stale). */
  readonly serializable?: boolean;
  /** revision reads the store as of this revision (0 = latest). */
  readonly revision?: IntInput;
  /** sortOrder orders the result; given only `sortTarget`, ascending. */
  readonly sortOrder?: SortOrderName;
  /** sortTarget is the field to sort on. */
  readonly sortTarget?: SortTargetName;
}

/** PutOptions shape a KV.Put. */
export interface PutOptions {
  /** prevKv returns the key's previous value in the response. */
  readonly prevKv?: boolean;
  /** lease attaches the key to a lease id. */
  readonly lease?: IntInput;
  /** ignoreValue keeps the current value (the key must exist). */
  readonly ignoreValue?: boolean;
  /** ignoreLease keeps the current lease (the key must exist). */
  readonly ignoreLease?: boolean;
}

/** DeleteOptions shape a KV.DeleteRange. */
export interface DeleteOptions extends RangeSelector {
  /** prevKv returns the deleted key-values in the response. */
  readonly prevKv?: boolean;
}

const SORT_ORDERS: Record<SortOrderName, SortOrder> = {
  none: SortOrder.NONE,
  ascend: SortOrder.ASCEND,
  descend: SortOrder.DESCEND,
};

const SORT_TARGETS: Record<SortTargetName, SortTarget> = {
  key: SortTarget.KEY,
  version: SortTarget.VERSION,
  create: SortTarget.CREATE,
  modify: SortTarget.MOD,
  value: SortTarget.VALUE,
};

/** rangeRequest builds the RangeRequest for `get(key, options)`. */
export function rangeRequest(key: KeyInput, options: GetOptions = {}): RangeRequest {
  const range = resolveRange(key, options);
  const request: RangeRequest = { key: range.key };
  if (range.rangeEnd !== undefined) request.rangeEnd = range.rangeEnd;
  if (options.limit !== undefined) request.limit = toInt64(options.limit, 'limit');
  if (options.revision !== undefined) request.revision = toInt64(options.revision, 'revision');
  if (options.keysOnly === true) request.keysOnly = true;
  if (options.countOnly === true) request.countOnly = true;
  if (options.serializable === true) request.serializable = true;
  const target = SORT_TARGETS[options.sortTarget ?? 'key'];
  let order = SORT_ORDERS[options.sortOrder ?? (options.sortTarget ? 'ascend' : 'none')];
  // Keys come back in ascending key order anyway (clientv3 drops the same no-op).
  if (target === SortTarget.KEY && order === SortOrder.ASCEND) order = SortOrder.NONE;
  if (order !== SortOrder.NONE) request.sortOrder = order;
  if (target !== SortTarget.KEY) request.sortTarget = target;
  return request;
}

/** putRequest builds the PutRequest for `put(key, value, options)`. */
export function putRequest(key: KeyInput, value: KeyInput, options: PutOptions = {}): PutRequest {
  const request: PutRequest = { key: toBytes(key), value: toBytes(value) };
  if (options.lease !== undefined) request.lease = toInt64(options.lease, 'lease');
  if (options.prevKv === true) request.prevKv = true;
  if (options.ignoreValue === true) request.ignoreValue = true;
  if (options.ignoreLease === true) request.ignoreLease = true;
  return request;
}

/** deleteRequest builds the DeleteRangeRequest for `delete(key, options)`. */
export function deleteRequest(key: KeyInput, options: DeleteOptions = {}): DeleteRangeRequest {
  const range = resolveRange(key, options);
  const request: DeleteRangeRequest = { key: range.key };
  if (range.rangeEnd !== undefined) request.rangeEnd = range.rangeEnd;
  if (options.prevKv === true) request.prevKv = true;
  return request;
}

/** Op builds transaction operations: `Op.put(k, v)`, `Op.get(k, opts)`, `Op.delete(k, opts)`. */
export const Op = {
  /** Op.get is a read inside a transaction. */
  get: (key: KeyInput, options?: GetOptions): RequestOp => ({
    requestRange: rangeRequest(key, options),
  }),
  /** Op.put is a write inside a transaction. */
  put: (key: KeyInput, value: KeyInput, options?: PutOptions): RequestOp => ({
    requestPut: putRequest(key, value, options),
  }),
  /** Op.delete is a deletion inside a transaction. */
  delete: (key: KeyInput, options?: DeleteOptions): RequestOp => ({
    requestDeleteRange: deleteRequest(key, options),
  }),
};

/** CompareField is the key field a transaction guard inspects. */
export type CompareField = 'value' | 'version' | 'createRevision' | 'modRevision' | 'lease';

/** CompareOperator is a transaction guard's operator. */
export type CompareOperator = '=' | '!=' | '>' | '<';

const OPERATORS: Record<CompareOperator, CompareResult> = {
  '=': CompareResult.EQUAL,
  '!=': CompareResult.NOT_EQUAL,
  '>': CompareResult.GREATER,
  '<': CompareResult.LESS,
};

/**
 * compare builds one guard: `compare('k', 'value', '=', 'v')`,
 * `compare('k', 'version', '=', 0)` (key absent), `compare('k', 'modRevision', '<', 7n)`.
 * It throws a TypeError when the operand does not fit the field.
 */
export function compare(
  key: KeyInput,
  field: CompareField,
  operator: CompareOperator,
  operand: KeyInput | IntInput,
  options: { rangeEnd?: KeyInput } = {},
): Compare {
  const result = OPERATORS[operator];
  if (result === undefined) throw new TypeError(`unknown compare operator "${operator}"`);
  const base = {
    key: toBytes(key),
    result,
    ...(options.rangeEnd === undefined ? {} : { rangeEnd: toBytes(options.rangeEnd) }),
  };
  if (field === 'value') {
    if (typeof operand === 'number' || typeof operand === 'bigint') {
      throw new TypeError('a value comparison needs a string or bytes operand');
    }
    return { ...base, target: CompareTarget.VALUE, value: toBytes(operand) };
  }
  const number = numericOperand(operand, field);
  switch (field) {
    case 'version':
      return { ...base, target: CompareTarget.VERSION, version: number };
    case 'createRevision':
      return { ...base, target: CompareTarget.CREATE, createRevision: number };
    case 'modRevision':
      return { ...base, target: CompareTarget.MOD, modRevision: number };
    case 'lease':
      return { ...base, target: CompareTarget.LEASE, lease: number };
    default:
      throw new TypeError(`unknown compare field "${String(field)}"`);
  }
}

function numericOperand(operand: KeyInput | IntInput, field: string): bigint {
  if (typeof operand === 'string') {
    if (!/^-?\d+$/.test(operand)) throw new TypeError(`${field} must be compared to an integer`);
    return BigInt(operand);
  }
  if (operand instanceof Uint8Array) throw new TypeError(`${field} must be compared to an integer`);
  return toInt64(operand, field);
}

/** isWriteOp tells whether a transaction operation changes the store. */
export function isWriteOp(op: RequestOp): boolean {
  if ('requestPut' in op || 'requestDeleteRange' in op) return true;
  if ('requestTxn' in op) {
    const nested = op.requestTxn;
    return [...(nested.success ?? []), ...(nested.failure ?? [])].some(isWriteOp);
  }
  return false;
}
