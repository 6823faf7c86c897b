/**
 * The MVCC key-value store behind kv-server: etcd v3's data model as a pure, in-memory,
 * deterministic state machine. Nothing here knows about Raft, gRPC or protobuf.
 */
export { GrpcCode, isMvccError, MvccError, type MvccErrorCode } from './errors.js';
export type { CommitListener, MvccEvent } from './history.js';
export { bytesToKeyString, compareBytes, keyStringToBytes, prefixRangeEnd } from './key-bytes.js';
export { MvccStore } from './mvcc-store.js';
export { SNAPSHOT_FORMAT_VERSION } from './snapshot-codec.js';
export {
  checkDeleteRequest,
  checkPutRequest,
  checkRangeRequest,
  checkTxnRequest,
  DEFAULT_MAX_TXN_OPS,
} from './txn.js';
export {
  type CompactResponse,
  type Compare,
  CompareResult,
  CompareTarget,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type KeyValue,
  type LeaseChange,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type RequestOp,
  type ResponseOp,
  SortOrder,
  SortTarget,
  type TxnOptions,
  type TxnRequest,
  type TxnResponse,
} from './types.js';
