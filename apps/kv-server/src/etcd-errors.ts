import { status } from '@grpc/grpc-js';
import { MembershipError } from '@raftkit/config';
import {
  ConfChangeError,
  NodeStoppedError,
  ProposalDroppedError,
  ProposalLostError,
  ProposalTimeoutError,
  ReadIndexError,
} from '@raftkit/core';
import type { KvResult } from './kv-state-machine.js';
import { LeaseError } from './lease/lease-table.js';
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
  memberExist: { code: status.FAILED_PRECONDITION, details: 'etcdserver: member ID already exist' },
  peerUrlExist: {
    code: status.FAILED_PRECONDITION,
    details: 'etcdserver: Peer URLs already exists',
  },
  memberNotEnoughStarted: {
    code: status.FAILED_PRECONDITION,
    details: 'etcdserver: re-configuration failed due to not enough started members',
  },
  memberBadUrls: {
    code: status.INVALID_ARGUMENT,
    details: 'etcdserver: given member URLs are invalid',
  },
  memberNotFound: { code: status.NOT_FOUND, details: 'etcdserver: member not found' },
  memberNotLearner: {
    code: status.FAILED_PRECONDITION,
    details: 'etcdserver: can only promote a learner member',
  },
  learnerNotReady: {
    code: status.FAILED_PRECONDITION,
    details: 'etcdserver: can only promote a learner member which is in sync with leader',
  },
  tooManyLearners: {
    code: status.FAILED_PRECONDITION,
    details: 'etcdserver: too many learner members in cluster',
  },
  notLeader: { code: status.FAILED_PRECONDITION, details: 'etcdserver: not leader' },
  badLeaderTransferee: {
    code: status.FAILED_PRECONDITION,
    details: 'etcdserver: bad leader transferee',
  },
  leaderTransferTimeout: {
    code: status.UNAVAILABLE,
    details: 'etcdserver: request timed out, leader transfer took too long',
  },
  confChangePending: {
    code: status.UNAVAILABLE,
    details: 'raftkit: another membership change is in progress; retry when it is done',
  },
  unhealthy: { code: status.UNAVAILABLE, details: 'etcdserver: unhealthy cluster' },
  leaseNotFound: { code: status.NOT_FOUND, details: 'etcdserver: requested lease not found' },
  leaseExist: { code: status.FAILED_PRECONDITION, details: 'etcdserver: lease already exists' },
  leaseTtlTooLarge: { code: status.OUT_OF_RANGE, details: 'etcdserver: too large lease TTL' },
  badRequestId: {
    code: status.INVALID_ARGUMENT,
    details: 'raftkit: raftkit-request-id is longer than 128 bytes',
  },
} as const satisfies Record<string, EtcdServiceError>;

/**
 * duplicateError answers a write retried under a `raftkit-request-id` that this member
 * only knows from a snapshot: the first attempt was applied exactly once, but the
 * snapshot kept only its revision (0 when it failed), not its response. Definite, so
 * never retried: the client must read the current state instead.
 */
export function duplicateError(revision: number): EtcdServiceError {
  return {
    code: status.FAILED_PRECONDITION,
    details:
      revision === 0
        ? 'raftkit: this request (raftkit-request-id) was applied before and failed; its error is not known here since this member restored a snapshot'
        : `raftkit: this request (raftkit-request-id) was applied before, at revision ${revision}; its full response is not known here since this member restored a snapshot`,
  };
}

/**
 * resultError answers a write whose applied result is not the success its handler
 * expects: the refusal it carries, or — when the result is of another kind of request —
 * a client that sent this `raftkit-request-id` before with a different request (the
 * state machine answered it with that request's result, as it answers any retry).
 */
export function resultError(result: KvResult): EtcdServiceError {
  if (result.kind === 'error') return toEtcdError(result.error);
  if (result.kind === 'ignored') return toEtcdError('unexpected result');
  return {
    code: status.INVALID_ARGUMENT,
    details: `raftkit: this raftkit-request-id was used before by another kind of request (${result.kind}); use a new id for each request`,
  };
}

/** toEtcdError maps anything a request can fail with to etcd's status and message. */
export function toEtcdError(error: unknown): EtcdServiceError {
  if (error instanceof MvccError) return { code: error.grpcCode as status, details: error.message };
  if (error instanceof LeaseError) {
    switch (error.reason) {
      case 'notFound':
        return ETCD_ERRORS.leaseNotFound;
      case 'exists':
        return ETCD_ERRORS.leaseExist;
      default:
        return ETCD_ERRORS.leaseTtlTooLarge;
    }
  }
  if (error instanceof ProposalDroppedError) {
    switch (error.reason) {
      case 'noLeader':
      case 'notMember':
        return ETCD_ERRORS.noLeader;
      case 'leadershipTransfer':
        return ETCD_ERRORS.leaderChanged;
      case 'confChangePending':
        return ETCD_ERRORS.confChangePending;
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
  if (error instanceof MembershipError) {
    switch (error.reason) {
      case 'idExists':
      case 'nodeIdCollision':
        return ETCD_ERRORS.memberExist;
      case 'peerUrlExists':
        return ETCD_ERRORS.peerUrlExist;
      case 'notLearner':
        return ETCD_ERRORS.memberNotLearner;
      default:
        return ETCD_ERRORS.memberNotFound;
    }
  }
  // The leader refused a change that does not fit the configuration it holds (it raced
  // with another change): the same answer etcd gives for a member that is gone.
  if (error instanceof ConfChangeError) return ETCD_ERRORS.memberNotFound;
  return { code: status.INTERNAL, details: `raftkit: ${String(error)}` };
}
