import { status } from '@grpc/grpc-js';
import {
  NodeStoppedError,
  ProposalDroppedError,
  ProposalLostError,
  ProposalTimeoutError,
  ReadIndexError,
} from '@raftkit/core';
import { MvccError } from './mvcc/index.js';

/** EtcdServiceError is a gRPC status with etcd's message, as etcd's `rpctypes` sends it. */
export interface EtcdServiceError {
  readonly code: status;
  readonly details: string;
}

/** ETCD_ERRORS are etcd's server-side errors raftkit answers with (etcd's exact text). */
export const ETCD_ERRORS = {
  noLeader: { code: status.UNAVAILABLE, details: 'etcdserver: no leader' },
  leaderChanged: { code: status.UNAVAILABLE, details: 'etcdserver: leader changed' },
  timeout: { code: status.UNAVAILABLE, details: 'etcdserver: request timed out' },
  stopped: { code: status.UNAVAILABLE, details: 'etcdserver: server stopped' },
  tooManyRequests: { code: status.RESOURCE_EXHAUSTED, details: 'etcdserver: too many requests' },
  requestTooLarge: { code: status.INVALID_ARGUMENT, details: 'etcdserver: request is too large' },
  emptyKey: { code: status.INVALID_ARGUMENT, details: 'etcdserver: key is not provided' },
  badRequestId: {
    code: status.INVALID_ARGUMENT,
    details: 'raftkit: raftkit-request-id is longer than 128 bytes',
  },
} as const satisfies Record<string, EtcdServiceError>;

/** toEtcdError maps anything a request can fail with to etcd's status and message. */
export function toEtcdError(error: unknown): EtcdServiceError {
  if (error instanceof MvccError) return { code: error.grpcCode as status, details: error.message };
  if (error instanceof ProposalDroppedError) {
    switch (error.reason) {
      case 'noLeader':
      case 'notMember':
        return ETCD_ERRORS.noLeader;
      case 'leadershipTransfer':
        return ETCD_ERRORS.leaderChanged;
      case 'uncommittedSizeExceeded':
        return ETCD_ERRORS.tooManyRequests;
      default:
        return ETCD_ERRORS.timeout;
    }
  }
  if (error instanceof ProposalLostError) return ETCD_ERRORS.leaderChanged;
  if (error instanceof ProposalTimeoutError) return ETCD_ERRORS.timeout;
  if (error instanceof ReadIndexError) {
    return /no leader/.test(error.message) ? ETCD_ERRORS.noLeader : ETCD_ERRORS.timeout;
  }
  if (error instanceof NodeStoppedError) return ETCD_ERRORS.stopped;
  return { code: status.INTERNAL, details: `raftkit: ${String(error)}` };
}
