import { status as grpcStatus, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import type { WatchResponse } from '@raftkit/rpc/etcd';

const codeNames = new Map<number, string>(
  Object.entries(grpcStatus)
    .filter(([, value]) => typeof value === 'number')
    .map(([name, value]) => [value as number, name]),
);

/** grpcCodeName names a gRPC status code, e.g. 14 → `UNAVAILABLE`. */
export function grpcCodeName(code: number): string {
  return codeNames.get(code) ?? `CODE_${code}`;
}

/**
 * ETCD_ERRORS are the messages etcd's v3 API answers with, by reason (and the one
 * raftkit's kv-server adds, `confChangePending`). A server error is
 * recognised by its message alone, as etcd's own client does: the gRPC code of one
 * error differs between etcd versions (etcd 3.4 sends `not enough started members`
 * as UNKNOWN, later versions as FAILED_PRECONDITION). etcd reports a removed member id
 * as `memberNotFound`, and a member that exists already as `memberExists`.
 */
export const ETCD_ERRORS = {
  // KV
  emptyKey: 'etcdserver: key is not provided',
  keyNotFound: 'etcdserver: key not found',
  valueProvided: 'etcdserver: value is provided',
  leaseProvided: 'etcdserver: lease is provided',
  tooManyOps: 'etcdserver: too many operations in txn request',
  duplicateKey: 'etcdserver: duplicate key given in txn request',
  compacted: 'etcdserver: mvcc: required revision has been compacted',
  futureRevision: 'etcdserver: mvcc: required revision is a future revision',
  noSpace: 'etcdserver: mvcc: database space exceeded',
  // Lease
  leaseNotFound: 'etcdserver: requested lease not found',
  leaseExists: 'etcdserver: lease already exists',
  leaseTtlTooLarge: 'etcdserver: too large lease TTL',
  // Cluster
  memberExists: 'etcdserver: member ID already exist',
  peerUrlExists: 'etcdserver: Peer URLs already exists',
  notEnoughStartedMembers: 'etcdserver: re-configuration failed due to not enough started members',
  memberBadUrls: 'etcdserver: given member URLs are invalid',
  memberNotFound: 'etcdserver: member not found',
  memberNotLearner: 'etcdserver: can only promote a learner member',
  learnerNotReady: 'etcdserver: can only promote a learner member which is in sync with leader',
  tooManyLearners: 'etcdserver: too many learner members in cluster',
  // Requests
  requestTooLarge: 'etcdserver: request is too large',
  tooManyRequests: 'etcdserver: too many requests',
  permissionDenied: 'etcdserver: permission denied',
  invalidAuthToken: 'etcdserver: invalid auth token',
  // Leadership and availability
  noLeader: 'etcdserver: no leader',
  notLeader: 'etcdserver: not leader',
  leaderChanged: 'etcdserver: leader changed',
  notCapable: 'etcdserver: not capable',
  stopped: 'etcdserver: server stopped',
  timeout: 'etcdserver: request timed out',
  timeoutDueToLeaderFail: 'etcdserver: request timed out, possibly due to previous leader failure',
  timeoutDueToConnectionLost: 'etcdserver: request timed out, possibly due to connection lost',
  unhealthy: 'etcdserver: unhealthy cluster',
  corrupt: 'etcdserver: corrupt cluster',
  notSupportedForLearner: 'etcdserver: rpc not supported for learner',
  badLeaderTransferee: 'etcdserver: bad leader transferee',
  leaderTransferTimeout: 'etcdserver: request timed out, leader transfer took too long',
  // raftkit's own: its kv-server runs one membership change at a time.
  confChangePending: 'raftkit: another membership change is in progress; retry when it is done',
} as const;

/** EtcdErrorReason names an error etcd's API answers with (see ETCD_ERRORS). */
export type EtcdErrorReason = keyof typeof ETCD_ERRORS;

/**
 * KvErrorReason is what a KvClientError is about, when known: an etcd server error
 * (EtcdErrorReason), or `noLeaderEndpoint` — raised by the client itself when a call
 * that must reach the leader (`moveLeader`) finds no configured endpoint that is it.
 */
export type KvErrorReason = EtcdErrorReason | 'noLeaderEndpoint';

const reasonsByMessage = new Map<string, EtcdErrorReason>(
  Object.entries(ETCD_ERRORS).map(([reason, message]) => [message, reason as EtcdErrorReason]),
);

/** etcdErrorReason recognises one of etcd's error messages (exactly as sent), or returns undefined. */
export function etcdErrorReason(details: string): EtcdErrorReason | undefined {
  return reasonsByMessage.get(details);
}

/**
 * KvClientError is every failure KvClient reports: the gRPC status `code` (and its
 * `codeName`), the server's message as etcd words it in `details` (e.g. `etcdserver:
 * mvcc: required revision has been compacted`), the `reason` when the message is one
 * of etcd's known errors (e.g. `memberNotFound`), the `endpoint` that answered last and
 * how many `attempts` were made. `message` is `details` plus, for connection failures,
 * what was tried.
 */
export class KvClientError extends Error {
  override readonly name: string = 'KvClientError';
  /** code is the gRPC status code (see `@grpc/grpc-js`'s `status`). */
  readonly code: number;
  /** codeName is the status code's name, e.g. `OUT_OF_RANGE`. */
  readonly codeName: string;
  /** details is the server's error message, unchanged (etcd's wording). */
  readonly details: string;
  /** reason names the error when it is a known one (see ETCD_ERRORS), else undefined. */
  readonly reason: KvErrorReason | undefined;
  /** endpoint is the endpoint of the last attempt, if any was made. */
  readonly endpoint: string | undefined;
  /** attempts is how many times the request was sent or tried. */
  readonly attempts: number;

  constructor(
    code: number,
    details: string,
    options: {
      endpoint?: string;
      attempts?: number;
      message?: string;
      cause?: unknown;
      reason?: KvErrorReason;
    } = {},
  ) {
    super(options.message ?? details, options.cause === undefined ? {} : { cause: options.cause });
    this.code = code;
    this.codeName = grpcCodeName(code);
    this.details = details;
    this.reason = options.reason ?? etcdErrorReason(details);
    this.endpoint = options.endpoint;
    this.attempts = options.attempts ?? 1;
  }

  /** fromServiceError wraps a grpc-js ServiceError from one attempt. */
  static fromServiceError(error: ServiceError, endpoint: string, attempts: number): KvClientError {
    return new KvClientError(error.code, error.details || error.message, {
      endpoint,
      attempts,
      cause: error,
    });
  }
}

/**
 * isKvClientError tells whether a value is a KvClientError, and with a `reason`,
 * whether it is that error: `isKvClientError(e, 'memberNotFound')`.
 */
export function isKvClientError(value: unknown, reason?: KvErrorReason): value is KvClientError {
  return value instanceof KvClientError && (reason === undefined || value.reason === reason);
}

/**
 * WatchCanceledError is how a watch ends when the server cancels it. When its start
 * revision (or, after a reconnect, its resume revision) has been compacted away,
 * `compactRevision` is the oldest revision still available, `reason` is `compacted` and
 * `details` etcd's `etcdserver: mvcc: required revision has been compacted` (code
 * OUT_OF_RANGE). Otherwise `details` is the server's `cancelReason` (code
 * FAILED_PRECONDITION; `reason` when it is a known etcd error) and `compactRevision` 0.
 * `response` is the server's cancel response, as received.
 */
export class WatchCanceledError extends KvClientError {
  override readonly name = 'WatchCanceledError';
  /** compactRevision is the compacted revision that made the server cancel, or 0. */
  readonly compactRevision: bigint;
  /** cancelReason is the server's reason, as sent (may be empty). */
  readonly cancelReason: string;
  /** response is the WatchResponse that canceled the watch. */
  readonly response: WatchResponse;

  constructor(response: WatchResponse, endpoint: string | undefined) {
    const compacted = response.compactRevision !== 0n;
    // clientv3 reads a cancel without compaction or reason as "future revision".
    const unexplained = !compacted && response.cancelReason === '';
    let details: string = response.cancelReason;
    if (compacted) details = ETCD_ERRORS.compacted;
    else if (unexplained) details = ETCD_ERRORS.futureRevision;
    const code =
      compacted || unexplained ? grpcStatus.OUT_OF_RANGE : grpcStatus.FAILED_PRECONDITION;
    super(code, details, endpoint === undefined ? {} : { endpoint });
    this.compactRevision = response.compactRevision;
    this.cancelReason = response.cancelReason;
    this.response = response;
  }
}

/**
 * streamEndError is the error the final status of a long-lived stream (a watch, a lease
 * keep-alive) stands for: the server's own status, or UNAVAILABLE when it ended the
 * stream cleanly — a stream that is meant to last never ends well.
 */
export function streamEndError(
  status: StatusObject,
  endpoint: string,
  what: string,
): KvClientError {
  return status.code === grpcStatus.OK
    ? new KvClientError(grpcStatus.UNAVAILABLE, `the server ended the ${what} stream`, { endpoint })
    : new KvClientError(status.code, status.details, { endpoint });
}

/**
 * streamRetryable tells whether a long-lived stream (a watch, a lease keep-alive) is
 * reopened after failing with `error`: clientv3 reopens on these codes and gives up on
 * any other.
 */
export function streamRetryable(error: KvClientError): boolean {
  return error.code === grpcStatus.UNAVAILABLE || error.code === grpcStatus.INTERNAL;
}

/** asKvClientError passes a KvClientError through and wraps anything else (UNKNOWN). */
export function asKvClientError(error: unknown): KvClientError {
  return error instanceof KvClientError
    ? error
    : new KvClientError(grpcStatus.UNKNOWN, String(error), { cause: error });
}
