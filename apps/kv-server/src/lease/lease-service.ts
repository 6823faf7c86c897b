import { createHash, randomBytes } from 'node:crypto';
import {
  type ClientDuplexStream,
  Metadata,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServiceError,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { NONE, type RaftNode } from '@raftkit/core';
import type * as pb from '@raftkit/rpc/etcd';
import { encodeWith, etcdType, LEASE_SERVICE, type LeaseHandlers } from '@raftkit/rpc/etcd';
import {
  duplicateError,
  ETCD_ERRORS,
  type EtcdServiceError,
  resultError,
  toEtcdError,
} from '../etcd-errors.js';
import type { HeaderSource } from '../etcd-mapping.js';
import { encodeKvCommand } from '../kv-command.js';
import { requestIdOf } from '../kv-service.js';
import type { KvResult } from '../kv-state-machine.js';
import { LeaderClients } from '../leader-forward.js';
import { deadlineMsOf, type LeaderWait } from '../leader-wait.js';
import { keyStringToBytes } from '../mvcc/index.js';
import { type RequireLeader, requiresLeader } from '../require-leader.js';
import type { LeaseClock } from './lease-clock.js';
import { LeaseError, type LeaseTable, MAX_LEASE_TTL } from './lease-table.js';

const LEASE_GRANT_REQUEST = etcdType('LeaseGrantRequest');
const LEASE_REVOKE_REQUEST = etcdType('LeaseRevokeRequest');

/** LeaseServiceOptions are what the Lease handlers need from the member. */
export interface LeaseServiceOptions {
  readonly node: RaftNode<KvResult>;
  readonly table: LeaseTable;
  readonly clock: LeaseClock;
  readonly header: HeaderSource;
  /** revision is the store's current revision, for response headers. */
  readonly revision: () => number;
  /** minTtl is the smallest TTL granted, in seconds (etcd: 1.5 election timeouts, rounded up). */
  readonly minTtl: number;
  /** leader reaches the leader's client API, for what only the leader answers. */
  readonly leader: LeaderClients;
  /** forwardTimeoutMs bounds a forwarded unary call. */
  readonly forwardTimeoutMs: number;
  readonly leaderWait?: LeaderWait;
  /** requireLeader serves etcd's `WithRequireLeader` on keep-alive streams. */
  readonly requireLeader?: RequireLeader;
}

/** minLeaseTtl is etcd's minimum lease TTL: ⌈(3 × electionTicks / 2) × tick⌉ in seconds. */
export function minLeaseTtl(electionTicks: number, tickIntervalMs: number): number {
  return Math.ceil((Math.floor((3 * electionTicks) / 2) * tickIntervalMs) / 1000);
}

/**
 * leaseIdFor is the lease id a grant without an id gets when it carries a request id: a
 * positive 63-bit hash of it, so a retried grant (same request id) names the same lease
 * and the state machine answers it with the first grant's result instead of granting a
 * second lease.
 */
export function leaseIdFor(requestId: string): bigint {
  const digest = createHash('sha256').update(`lease:${requestId}`).digest();
  const id = digest.readBigUInt64BE(0) & 0x7fff_ffff_ffff_ffffn;
  return id === 0n ? 1n : id;
}

/** newLeaseId is a random positive 63-bit lease id (etcd's ids are positive too). */
export function newLeaseId(): bigint {
  for (;;) {
    const id = randomBytes(8).readBigUInt64BE() & 0x7fff_ffff_ffff_ffffn;
    if (id !== 0n) return id;
  }
}

function errorOf(error: unknown): EtcdServiceError {
  if (typeof error === 'object' && error !== null && 'code' in error && 'details' in error) {
    return error as EtcdServiceError;
  }
  return toEtcdError(error);
}

function asServiceError(error: EtcdServiceError): ServiceError {
  return { ...error, metadata: new Metadata() } as ServiceError;
}

/**
 * createLeaseService implements etcd's Lease service. Grants and revocations go through
 * the log (any member proposes them; the proposer picks the id and raises the TTL to the
 * minimum, so the entry decides everything). Keep-alives and TimeToLive need the lease
 * deadlines, which only the leader keeps: a follower forwards them to the leader's
 * client API (a keep-alive stream through one forwarding stream), and the leader first
 * waits for a ReadIndex so it has applied every committed grant and revocation (etcd
 * waits for its applied index likewise). LeaseLeases answers from this member's table.
 */
export function createLeaseService(options: LeaseServiceOptions): LeaseHandlers {
  const { node, table, clock, header, leader, leaderWait } = options;

  function awaitLeader(deadline: Date | number | undefined): Promise<void> {
    if (leaderWait === undefined || node.leader() !== NONE || node.isLeader()) {
      return Promise.resolve();
    }
    return leaderWait.wait(deadlineMsOf(deadline));
  }

  /**
   * propose puts a grant or revocation in the log with the call's request id, so a retry
   * is applied once (the state machine answers it with the first result).
   */
  async function propose(
    call: ServerUnaryCall<unknown, unknown>,
    kind: 'leaseGrant' | 'leaseRevoke',
    request: Uint8Array,
  ): Promise<KvResult> {
    const requestId = requestIdOf(call.metadata);
    if (requestId === null) throw ETCD_ERRORS.badRequestId;
    await awaitLeader(call.getDeadline());
    return node.propose(encodeKvCommand(kind, requestId, request));
  }

  /** primaryRead waits until this member, as the leader, has applied all it committed. */
  async function primaryRead(): Promise<void> {
    await node.read();
    if (!clock.isPrimary) throw ETCD_ERRORS.leaderChanged;
  }

  /** keepAliveOnce renews one lease on the leader: TTL 0 when it does not exist (etcd). */
  async function keepAliveOnce(id: bigint): Promise<pb.LeaseKeepAliveResponse> {
    await primaryRead();
    let ttl = 0;
    try {
      ttl = clock.renew(id);
    } catch (error) {
      if (!(error instanceof LeaseError)) throw error;
    }
    return { header: header(options.revision()), ID: id, TTL: BigInt(ttl) };
  }

  return {
    leaseGrant: (
      call: ServerUnaryCall<pb.LeaseGrantRequest, pb.LeaseGrantResponse>,
      callback: sendUnaryData<pb.LeaseGrantResponse>,
    ) => {
      const requested = call.request.TTL ?? 0n;
      if (requested > BigInt(MAX_LEASE_TTL)) {
        callback(asServiceError(ETCD_ERRORS.leaseTtlTooLarge));
        return;
      }
      const ttl = requested < BigInt(options.minTtl) ? options.minTtl : Number(requested);
      const requestId = requestIdOf(call.metadata);
      const id =
        call.request.ID !== undefined && call.request.ID !== 0n
          ? call.request.ID
          : typeof requestId === 'string'
            ? leaseIdFor(requestId)
            : newLeaseId();
      propose(
        call,
        'leaseGrant',
        encodeWith(LEASE_GRANT_REQUEST, { ID: id, TTL: BigInt(ttl) }),
      ).then(
        (result) => {
          if (result.kind === 'leaseGrant') {
            callback(null, {
              header: header(result.revision),
              ID: result.id,
              TTL: BigInt(result.ttl),
              error: '',
            });
          } else if (result.kind === 'duplicate' && result.revision === 0) {
            // The first attempt was refused (its error is not kept in a snapshot).
            callback(asServiceError(duplicateError(0)));
          } else if (result.kind === 'duplicate') {
            // A retry of a grant applied before the snapshot this member restored: the
            // lease is the one the request id names.
            callback(null, {
              header: header(result.revision),
              ID: id,
              TTL: BigInt(table.get(id)?.ttl ?? ttl),
              error: '',
            });
          } else {
            callback(asServiceError(resultError(result)));
          }
        },
        (error: unknown) => callback(asServiceError(errorOf(error))),
      );
    },

    leaseRevoke: (
      call: ServerUnaryCall<pb.LeaseRevokeRequest, pb.LeaseRevokeResponse>,
      callback: sendUnaryData<pb.LeaseRevokeResponse>,
    ) => {
      const id = call.request.ID ?? 0n;
      propose(call, 'leaseRevoke', encodeWith(LEASE_REVOKE_REQUEST, { ID: id })).then(
        (result) => {
          if (
            result.kind === 'leaseRevoke' ||
            (result.kind === 'duplicate' && result.revision > 0)
          ) {
            callback(null, { header: header(result.revision) });
          } else if (result.kind === 'duplicate') {
            callback(asServiceError(duplicateError(0)));
          } else {
            callback(asServiceError(resultError(result)));
          }
        },
        (error: unknown) => callback(asServiceError(errorOf(error))),
      );
    },

    leaseTimeToLive: (
      call: ServerUnaryCall<pb.LeaseTimeToLiveRequest, pb.LeaseTimeToLiveResponse>,
      callback: sendUnaryData<pb.LeaseTimeToLiveResponse>,
    ) => {
      const id = call.request.ID ?? 0n;
      const answer = async (): Promise<pb.LeaseTimeToLiveResponse> => {
        await awaitLeader(call.getDeadline());
        if (!node.isLeader()) {
          if (LeaderClients.isForwarded(call.metadata)) throw ETCD_ERRORS.leaderChanged;
          return leader.unary(
            LEASE_SERVICE.leaseTimeToLive,
            { ID: id, keys: call.request.keys === true },
            options.forwardTimeoutMs,
            ETCD_ERRORS.noLeader,
          );
        }
        await primaryRead();
        const lease = table.get(id);
        if (lease === undefined) {
          // etcd answers an unknown lease with TTL -1 rather than an error.
          return { header: header(options.revision()), ID: id, TTL: -1n, grantedTTL: 0n, keys: [] };
        }
        return {
          header: header(options.revision()),
          ID: id,
          TTL: BigInt(clock.remainingSeconds(id)),
          grantedTTL: BigInt(lease.ttl),
          keys:
            call.request.keys === true
              ? [...lease.keys].map((key) => Buffer.from(keyStringToBytes(key)))
              : [],
        };
      };
      answer().then(
        (response) => callback(null, response),
        (error: unknown) => callback(asServiceError(errorOf(error))),
      );
    },

    leaseLeases: (
      _call: ServerUnaryCall<pb.LeaseLeasesRequest, pb.LeaseLeasesResponse>,
      callback: sendUnaryData<pb.LeaseLeasesResponse>,
    ) => {
      callback(null, {
        header: header(options.revision()),
        leases: table.ids().map((ID) => ({ ID })),
      });
    },

    leaseKeepAlive: (
      call: ServerDuplexStream<pb.LeaseKeepAliveRequest, pb.LeaseKeepAliveResponse>,
    ) => {
      const forwarded = LeaderClients.isForwarded(call.metadata);
      const monitor =
        options.requireLeader !== undefined && requiresLeader(call.metadata)
          ? options.requireLeader
          : undefined;
      if (monitor !== undefined && !monitor.leaderKnown()) {
        call.emit('error', asServiceError(ETCD_ERRORS.noLeader));
        return;
      }
      let ended = false;
      // Requests are answered in order: each waits for the one before it.
      let chain: Promise<void> = Promise.resolve();
      let forward:
        | {
            url: string;
            stream: ClientDuplexStream<pb.LeaseKeepAliveRequest, pb.LeaseKeepAliveResponse>;
          }
        | undefined;
      const fail = (error: EtcdServiceError) => {
        if (ended) return;
        ended = true;
        forward?.stream.cancel();
        forward = undefined;
        call.emit('error', asServiceError(error));
      };
      const forwardOne = (request: pb.LeaseKeepAliveRequest) => {
        const target = leader.target();
        if (target === undefined) return fail(ETCD_ERRORS.noLeader);
        if (forward !== undefined && forward.url !== target.url) {
          forward.stream.cancel();
          forward = undefined;
        }
        if (forward === undefined) {
          const method = LEASE_SERVICE.leaseKeepAlive;
          const stream = target.client.makeBidiStreamRequest(
            method.path,
            method.requestSerialize,
            method.responseDeserialize,
            LeaderClients.metadata(),
          ) as ClientDuplexStream<pb.LeaseKeepAliveRequest, pb.LeaseKeepAliveResponse>;
          const mine = { url: target.url, stream };
          forward = mine;
          stream.on('data', (response: pb.LeaseKeepAliveResponse) => {
            if (!ended) call.write(response);
          });
          stream.on('error', (error: ServiceError) => {
            if (forward !== mine) return;
            forward = undefined;
            fail({ code: error.code, details: error.details || ETCD_ERRORS.leaderChanged.details });
          });
          stream.on('end', () => {
            // The leader ended it (shutting down, say): requests written to it may go
            // unanswered, so the client is told to reconnect rather than left waiting.
            if (forward !== mine) return;
            forward = undefined;
            fail(ETCD_ERRORS.leaderChanged);
          });
        }
        forward.stream.write(request);
      };
      call.on('data', (request: pb.LeaseKeepAliveRequest) => {
        if (ended) return;
        const id = request.ID ?? 0n;
        chain = chain.then(async () => {
          if (ended) return;
          if (!node.isLeader()) {
            if (forwarded) return fail(ETCD_ERRORS.leaderChanged);
            await awaitLeader(undefined).catch(() => undefined);
            if (!node.isLeader()) return forwardOne({ ID: id });
          }
          try {
            const response = await keepAliveOnce(id);
            if (!ended) call.write(response);
          } catch (error) {
            fail(errorOf(error));
          }
        });
      });
      const unwatch = monitor?.watch(() => fail(ETCD_ERRORS.noLeader));
      const finish = () => {
        ended = true;
        unwatch?.();
        forward?.stream.cancel();
        forward = undefined;
      };
      call.on('end', () => {
        // The client half-closed: answer what is pending, then close our side.
        chain = chain.then(() => {
          if (!ended) call.end();
          finish();
        });
      });
      call.on('cancelled', finish);
      call.on('error', finish);
      call.on('close', finish);
    },
  };
}
