import {
  Metadata,
  type MethodDefinition,
  type ServerUnaryCall,
  type ServiceDefinition,
  type sendUnaryData,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { NONE, type RaftNode } from '@raftkit/core';
import type * as pb from '@raftkit/rpc/etcd';
import { decodeWith, etcdType, KV_SERVICE } from '@raftkit/rpc/etcd';
import {
  duplicateError,
  ETCD_ERRORS,
  type EtcdServiceError,
  resultError,
  toEtcdError,
} from './etcd-errors.js';
import {
  fromMvccDelete,
  fromMvccPut,
  fromMvccRange,
  fromMvccTxn,
  type HeaderSource,
  isReadOnlyTxn,
  toMvccDelete,
  toMvccPut,
  toMvccRange,
  toMvccTxn,
} from './etcd-mapping.js';
import { encodeKvCommand, type KvCommandKind, MAX_REQUEST_ID_BYTES } from './kv-command.js';
import type { KvResult, KvStateMachine } from './kv-state-machine.js';
import { deadlineMsOf, type LeaderWait } from './leader-wait.js';
import * as mvcc from './mvcc/index.js';

/** REQUEST_ID_HEADER is the gRPC metadata key of raftkit's exactly-once request id. */
export const REQUEST_ID_HEADER = 'raftkit-request-id';

/**
 * RAFTKIT_SERVER_HEADER is the response metadata key by which a raftkit server tells
 * clients that it deduplicates request ids, so a write may be retried safely.
 */
export const RAFTKIT_SERVER_HEADER = 'raftkit-server';

/**
 * withServerHeader wraps unary handlers so every response announces raftkit. The header
 * goes out when the call starts (before the result is known), so a client learns it is
 * talking to raftkit even when the call then times out; one Metadata serves every call
 * (grpc-js only reads it).
 */
export function withServerHeader(
  handlers: UntypedServiceImplementation,
  version: string,
): UntypedServiceImplementation {
  const wrapped: UntypedServiceImplementation = {};
  const metadata = new Metadata();
  metadata.set(RAFTKIT_SERVER_HEADER, version);
  for (const [name, handler] of Object.entries(handlers)) {
    wrapped[name] = ((
      call: ServerUnaryCall<unknown, unknown>,
      callback: sendUnaryData<unknown>,
    ) => {
      call.sendMetadata(metadata);
      (handler as (call: unknown, callback: unknown) => void)(call, callback);
    }) as UntypedServiceImplementation[string];
  }
  return wrapped;
}

/**
 * requestIdOf is a call's `raftkit-request-id` (undefined: none; null: longer than
 * MAX_REQUEST_ID_BYTES, refused with `badRequestId`).
 */
export function requestIdOf(metadata: Metadata): string | undefined | null {
  const value = metadata.get(REQUEST_ID_HEADER)[0];
  if (value === undefined) return undefined;
  const id = typeof value === 'string' ? value : value.toString('utf8');
  return Buffer.byteLength(id) > MAX_REQUEST_ID_BYTES ? null : id;
}

/** RawRequest is a write request as received: its exact bytes and its decoded form. */
interface RawRequest<T> {
  readonly bytes: Buffer;
  readonly request: T;
}

/**
 * kvServiceDefinition is etcd's KV service with the write methods' requests kept as
 * their received bytes next to the decoded object: the bytes go into the Raft log
 * as they are, with no re-encoding on the proposer.
 */
export function kvServiceDefinition(): ServiceDefinition {
  const definition: Record<string, MethodDefinition<object, object>> = {
    ...(KV_SERVICE as Record<string, MethodDefinition<object, object>>),
  };
  const raw = (method: string, typeName: string) => {
    const type = etcdType(typeName);
    const base = definition[method]!;
    definition[method] = {
      ...base,
      requestDeserialize: (bytes: Buffer) => ({ bytes, request: decodeWith<object>(type, bytes) }),
    };
  };
  raw('put', 'PutRequest');
  raw('deleteRange', 'DeleteRangeRequest');
  raw('txn', 'TxnRequest');
  raw('compact', 'CompactionRequest');
  return definition as ServiceDefinition;
}

/** KvServiceOptions are what the KV handlers need from the member. */
export interface KvServiceOptions {
  readonly node: RaftNode<KvResult>;
  readonly stateMachine: KvStateMachine;
  readonly header: HeaderSource;
  readonly maxRequestBytes: number;
  readonly maxTxnOps: number;
  /** Called with each request's method, outcome code and duration, for metrics. */
  readonly observe?: (method: string, code: number, seconds: number) => void;
  /**
   * leaderWait, when given, holds writes and linearizable reads that arrive while no
   * leader is known until one is (bounded by it and by the call's deadline), as etcd
   * does, instead of failing them at once with `no leader`.
   */
  readonly leaderWait?: LeaderWait;
}

type Callback<T> = sendUnaryData<T>;

/**
 * createKvService implements etcd's KV service over a RaftNode and the MVCC store:
 * writes are proposed through Raft (followers forward them) and answered once applied
 * on this member; reads are linearizable by ReadIndex unless `serializable` is set, in
 * which case this member answers from its own state.
 */
export function createKvService(options: KvServiceOptions): UntypedServiceImplementation {
  const { node, stateMachine, header, maxRequestBytes, maxTxnOps, leaderWait } = options;
  const store = () => stateMachine.store;

  /**
   * leaderKnown: no wait is needed (no LeaderWait, or a leader is known now — the same
   * test LeaderWait makes before waiting), so requests go straight to the node.
   */
  function leaderKnown(): boolean {
    return leaderWait === undefined || node.leader() !== NONE || node.isLeader();
  }

  /** awaitLeader resolves at once when a leader is known, else after LeaderWait's wait. */
  function awaitLeader(call: ServerUnaryCall<unknown, unknown>): Promise<void> {
    if (leaderWait === undefined) return Promise.resolve();
    return leaderWait.wait(deadlineMsOf(call.getDeadline()));
  }

  /** read is node.read() after waiting (bounded) for a leader. */
  function read(call: ServerUnaryCall<unknown, unknown>): Promise<number> {
    if (leaderKnown()) return node.read();
    return awaitLeader(call).then(() => node.read());
  }

  function finish<T>(
    method: string,
    started: number,
    callback: Callback<T>,
    error: EtcdServiceError | null,
    value?: T,
  ) {
    options.observe?.(method, error?.code ?? 0, (performance.now() - started) / 1000);
    if (error !== null) callback(error as Parameters<Callback<T>>[0]);
    else callback(null, value);
  }

  function propose(
    kind: KvCommandKind,
    call: ServerUnaryCall<RawRequest<unknown>, unknown>,
  ): Promise<KvResult> {
    const requestId = requestIdOf(call.metadata);
    if (requestId === null) return Promise.reject(ETCD_ERRORS.badRequestId);
    let command: Uint8Array;
    try {
      command = encodeKvCommand(kind, requestId, call.request.bytes);
    } catch (error) {
      return Promise.reject(error);
    }
    if (leaderKnown()) return node.propose(command);
    return awaitLeader(call).then(() => node.propose(command));
  }

  function tooLarge(call: ServerUnaryCall<RawRequest<unknown>, unknown>): boolean {
    return call.request.bytes.length > maxRequestBytes;
  }

  function errorOf(error: unknown): EtcdServiceError {
    if (typeof error === 'object' && error !== null && 'code' in error && 'details' in error) {
      return error as EtcdServiceError;
    }
    return toEtcdError(error);
  }

  return {
    range: (
      call: ServerUnaryCall<pb.RangeRequest, pb.RangeResponse>,
      callback: Callback<pb.RangeResponse>,
    ) => {
      const started = performance.now();
      let request: mvcc.RangeRequest;
      try {
        request = toMvccRange(call.request);
        mvcc.checkRangeRequest(request);
      } catch (error) {
        finish('Range', started, callback, errorOf(error));
        return;
      }
      const serve = () => {
        try {
          finish('Range', started, callback, null, fromMvccRange(store().range(request), header));
        } catch (error) {
          finish('Range', started, callback, errorOf(error));
        }
      };
      // TEST-ONLY planted bug for the chaos suite (tests/chaos): RAFTKIT_UNSAFE_STALE_READS=1
      // serves every read locally without ReadIndex, so a partitioned member answers stale
      // reads. Never set it outside tests; it exists to prove the checker can fail.
      if (request.serializable || process.env.RAFTKIT_UNSAFE_STALE_READS === '1') serve();
      else
        read(call).then(serve, (error: unknown) =>
          finish('Range', started, callback, errorOf(error)),
        );
    },

    put: (
      call: ServerUnaryCall<RawRequest<pb.PutRequest>, pb.PutResponse>,
      callback: Callback<pb.PutResponse>,
    ) => {
      const started = performance.now();
      try {
        if (tooLarge(call)) throw ETCD_ERRORS.requestTooLarge;
        mvcc.checkPutRequest(toMvccPut(call.request.request));
      } catch (error) {
        finish('Put', started, callback, errorOf(error));
        return;
      }
      propose('put', call).then(
        (result) => {
          if (result.kind === 'put')
            finish('Put', started, callback, null, fromMvccPut(result.response, header));
          else if (result.kind === 'duplicate') {
            // A retry of a put applied before this member's snapshot: its revision is
            // its whole response unless the previous value was asked for.
            if (result.revision > 0 && call.request.request.prevKv !== true) {
              finish('Put', started, callback, null, {
                header: header(result.revision),
                prevKv: null,
              });
            } else {
              finish('Put', started, callback, duplicateError(result.revision));
            }
          } else finish('Put', started, callback, resultError(result));
        },
        (error: unknown) => finish('Put', started, callback, errorOf(error)),
      );
    },

    deleteRange: (
      call: ServerUnaryCall<RawRequest<pb.DeleteRangeRequest>, pb.DeleteRangeResponse>,
      callback: Callback<pb.DeleteRangeResponse>,
    ) => {
      const started = performance.now();
      try {
        if (tooLarge(call)) throw ETCD_ERRORS.requestTooLarge;
        mvcc.checkDeleteRequest(toMvccDelete(call.request.request));
      } catch (error) {
        finish('DeleteRange', started, callback, errorOf(error));
        return;
      }
      propose('deleteRange', call).then(
        (result) => {
          if (result.kind === 'deleteRange') {
            finish('DeleteRange', started, callback, null, fromMvccDelete(result.response, header));
          } else if (result.kind === 'duplicate') {
            // How many keys it deleted is not known any more.
            finish('DeleteRange', started, callback, duplicateError(result.revision));
          } else {
            finish('DeleteRange', started, callback, resultError(result));
          }
        },
        (error: unknown) => finish('DeleteRange', started, callback, errorOf(error)),
      );
    },

    txn: (
      call: ServerUnaryCall<RawRequest<pb.TxnRequest>, pb.TxnResponse>,
      callback: Callback<pb.TxnResponse>,
    ) => {
      const started = performance.now();
      let request: mvcc.TxnRequest;
      try {
        if (tooLarge(call)) throw ETCD_ERRORS.requestTooLarge;
        request = toMvccTxn(call.request.request);
        mvcc.checkTxnRequest(request, maxTxnOps);
      } catch (error) {
        finish('Txn', started, callback, errorOf(error));
        return;
      }
      if (isReadOnlyTxn(request)) {
        // A read-only txn needs no log entry: a linearizable read point suffices.
        read(call).then(
          () => {
            try {
              finish(
                'Txn',
                started,
                callback,
                null,
                fromMvccTxn(store().txn(request, { maxTxnOps }), header),
              );
            } catch (error) {
              finish('Txn', started, callback, errorOf(error));
            }
          },
          (error: unknown) => finish('Txn', started, callback, errorOf(error)),
        );
        return;
      }
      propose('txn', call).then(
        (result) => {
          if (result.kind === 'txn')
            finish('Txn', started, callback, null, fromMvccTxn(result.response, header));
          else if (result.kind === 'duplicate')
            finish('Txn', started, callback, duplicateError(result.revision));
          else finish('Txn', started, callback, resultError(result));
        },
        (error: unknown) => finish('Txn', started, callback, errorOf(error)),
      );
    },

    compact: (
      call: ServerUnaryCall<RawRequest<pb.CompactionRequest>, pb.CompactionResponse>,
      callback: Callback<pb.CompactionResponse>,
    ) => {
      const started = performance.now();
      // Its bytes go into the log as received, like every write's: unknown fields could
      // otherwise carry up to the gRPC receive limit past --max-request-bytes.
      if (tooLarge(call)) {
        finish('Compact', started, callback, ETCD_ERRORS.requestTooLarge);
        return;
      }
      propose('compaction', call).then(
        (result) => {
          if (result.kind === 'compaction') {
            finish('Compact', started, callback, null, {
              header: header(result.response.revision),
            });
          } else if (result.kind === 'duplicate' && result.revision > 0) {
            finish('Compact', started, callback, null, { header: header(result.revision) });
          } else if (result.kind === 'duplicate') {
            finish('Compact', started, callback, duplicateError(result.revision));
          } else {
            finish('Compact', started, callback, resultError(result));
          }
        },
        (error: unknown) => finish('Compact', started, callback, errorOf(error)),
      );
    },
  };
}
