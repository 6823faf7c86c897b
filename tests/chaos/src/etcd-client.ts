// Minimal etcd v3 clients over grpc-js generic clients built from @raftkit/rpc/etcd's
// service definitions, every call with its own deadline.
import * as grpc from '@grpc/grpc-js';
import {
  CLUSTER_SERVICE,
  CompareResult,
  CompareTarget,
  type HashKVResponse,
  type HashResponse,
  KV_SERVICE,
  LEASE_SERVICE,
  type LeaseGrantResponse,
  MAINTENANCE_SERVICE,
  type MemberAddResponse,
  type MemberListResponse,
  type MemberPromoteResponse,
  type MemberRemoveResponse,
  type MoveLeaderResponse,
  type RangeResponse,
  type StatusResponse,
  type TxnResponse,
} from '@raftkit/rpc/etcd';
import type { Outcome } from './history.js';

type UnaryMethod = (
  request: object,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response?: unknown) => void,
) => grpc.ClientUnaryCall;

const KvClient = grpc.makeGenericClientConstructor(KV_SERVICE, 'KV');
const MaintenanceClient = grpc.makeGenericClientConstructor(MAINTENANCE_SERVICE, 'Maintenance');
const ClusterClient = grpc.makeGenericClientConstructor(CLUSTER_SERVICE, 'Cluster');
const LeaseClient = grpc.makeGenericClientConstructor(LEASE_SERVICE, 'Lease');

// Reconnect quickly after a member restarts; the defaults back off for up to 2 minutes.
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
};

function unary<T>(client: grpc.Client, method: string, request: object, timeoutMs: number) {
  const fn = (client as unknown as Record<string, UnaryMethod>)[method];
  if (fn === undefined) throw new Error(`etcd client: no method ${method}`);
  return new Promise<T>((resolve, reject) => {
    fn.call(
      client,
      request,
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (error, response) => {
        if (error !== null) reject(error);
        else resolve(response as T);
      },
    );
  });
}

const encode = (text: string) => Buffer.from(text, 'utf8');
const decode = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

/** CasResult is a compare-and-set's answer: whether it applied, else the value it saw. */
export interface CasResult {
  readonly succeeded: boolean;
  readonly observed: string | null;
}

/** EtcdEndpoint talks to one member's client URL. */
export class EtcdEndpoint {
  private readonly kv: grpc.Client;
  private readonly maintenance: grpc.Client;
  private readonly cluster: grpc.Client;
  private readonly lease: grpc.Client;

  /** Creates clients for `address` (host:port); `name` is the member's name. */
  constructor(
    readonly name: string,
    address: string,
  ) {
    const credentials = grpc.credentials.createInsecure();
    this.kv = new KvClient(address, credentials, CHANNEL_OPTIONS);
    this.maintenance = new MaintenanceClient(address, credentials, CHANNEL_OPTIONS);
    this.cluster = new ClusterClient(address, credentials, CHANNEL_OPTIONS);
    this.lease = new LeaseClient(address, credentials, CHANNEL_OPTIONS);
  }

  /** get is a linearizable Range of one key: its value, or null if absent. */
  async get(key: string, timeoutMs: number): Promise<string | null> {
    const response = await unary<RangeResponse>(
      this.kv,
      'range',
      { key: encode(key), serializable: false },
      timeoutMs,
    );
    const kv = response.kvs[0];
    return kv === undefined ? null : decode(kv.value);
  }

  /** put writes one key, attached to `lease` when given (etcd's Put `lease`). */
  async put(key: string, value: string, timeoutMs: number, lease?: bigint): Promise<void> {
    await unary(
      this.kv,
      'put',
      { key: encode(key), value: encode(value), ...(lease !== undefined ? { lease } : {}) },
      timeoutMs,
    );
  }

  /** leaseGrant is Lease.LeaseGrant of a lease the server names (ID 0); its id. */
  async leaseGrant(ttlSec: number, timeoutMs: number): Promise<bigint> {
    const response = await unary<LeaseGrantResponse>(
      this.lease,
      'leaseGrant',
      { TTL: BigInt(ttlSec), ID: 0n },
      timeoutMs,
    );
    // The response also carries an `error` string: a non-empty one is a refusal.
    if (response.error) throw new Error(`LeaseGrant: ${response.error}`);
    return response.ID;
  }

  /** leaseRevoke is Lease.LeaseRevoke: it deletes every key still attached to `id`. */
  async leaseRevoke(id: bigint, timeoutMs: number): Promise<void> {
    await unary(this.lease, 'leaseRevoke', { ID: id }, timeoutMs);
  }

  /**
   * cas sets `key` to `value` if it currently holds `expect` (a Txn with a value
   * compare); when the compare fails, the failure branch reads the key atomically.
   */
  async cas(key: string, expect: string, value: string, timeoutMs: number): Promise<CasResult> {
    const response = await unary<TxnResponse>(
      this.kv,
      'txn',
      {
        compare: [
          {
            result: CompareResult.EQUAL,
            target: CompareTarget.VALUE,
            key: encode(key),
            value: encode(expect),
          },
        ],
        success: [{ requestPut: { key: encode(key), value: encode(value) } }],
        failure: [{ requestRange: { key: encode(key) } }],
      },
      timeoutMs,
    );
    if (response.succeeded) return { succeeded: true, observed: null };
    const first = response.responses[0];
    const kv =
      first !== undefined && 'responseRange' in first ? first.responseRange.kvs[0] : undefined;
    return { succeeded: false, observed: kv === undefined ? null : decode(kv.value) };
  }

  /** status is Maintenance.Status (leader, term, this member's id). */
  status(timeoutMs: number): Promise<StatusResponse> {
    return unary<StatusResponse>(this.maintenance, 'status', {}, timeoutMs);
  }

  /** hashKV is Maintenance.HashKV at `revision`: a hash of the key-value history up to it. */
  hashKV(revision: number, timeoutMs: number): Promise<HashKVResponse> {
    return unary<HashKVResponse>(
      this.maintenance,
      'hashKV',
      { revision: BigInt(revision) },
      timeoutMs,
    );
  }

  /** hash is Maintenance.Hash: a hash of the member's whole state (raftkit: applied state). */
  hash(timeoutMs: number): Promise<HashResponse> {
    return unary<HashResponse>(this.maintenance, 'hash', {}, timeoutMs);
  }

  /** memberList is Cluster.MemberList (the answering member's view). */
  memberList(timeoutMs: number): Promise<MemberListResponse> {
    return unary<MemberListResponse>(this.cluster, 'memberList', {}, timeoutMs);
  }

  /** memberAdd is Cluster.MemberAdd of one peer URL, as a voter or a learner. */
  memberAdd(peerUrl: string, isLearner: boolean, timeoutMs: number): Promise<MemberAddResponse> {
    return unary<MemberAddResponse>(
      this.cluster,
      'memberAdd',
      { peerURLs: [peerUrl], isLearner },
      timeoutMs,
    );
  }

  /** memberRemove is Cluster.MemberRemove. */
  memberRemove(id: bigint, timeoutMs: number): Promise<MemberRemoveResponse> {
    return unary<MemberRemoveResponse>(this.cluster, 'memberRemove', { ID: id }, timeoutMs);
  }

  /** memberPromote is Cluster.MemberPromote (a learner becomes a voter). */
  memberPromote(id: bigint, timeoutMs: number): Promise<MemberPromoteResponse> {
    return unary<MemberPromoteResponse>(this.cluster, 'memberPromote', { ID: id }, timeoutMs);
  }

  /** moveLeader is Maintenance.MoveLeader (only the leader accepts it). */
  moveLeader(targetId: bigint, timeoutMs: number): Promise<MoveLeaderResponse> {
    return unary<MoveLeaderResponse>(
      this.maintenance,
      'moveLeader',
      { targetID: targetId },
      timeoutMs,
    );
  }

  /** close closes the channels. */
  close(): void {
    this.kv.close();
    this.maintenance.close();
    this.cluster.close();
    this.lease.close();
  }
}

/**
 * classifyError decides what an error proves. Only errors showing the request never
 * executed are `fail`: the channel had no connection, so nothing was sent, or the
 * request was rejected as invalid or shed before it was proposed. Everything else —
 * deadlines, UNAVAILABLE after sending, `leader changed`, `no leader` — is `unknown`.
 */
export function classifyError(error: unknown): Outcome {
  const { code, details } = (error ?? {}) as { code?: number; details?: string };
  const text = details ?? '';
  if (code === grpc.status.UNAVAILABLE && text.startsWith('No connection established')) {
    return 'fail';
  }
  if (code === grpc.status.INVALID_ARGUMENT) return 'fail';
  if (code === grpc.status.RESOURCE_EXHAUSTED && /too many requests/.test(text)) return 'fail';
  // etcd refuses client requests to a learner before looking at them.
  if (/rpc not supported for learner/.test(text)) return 'fail';
  return 'unknown';
}

/**
 * classifyMembershipError is classifyError for Cluster API and MoveLeader calls. etcd's
 * reconfiguration checks (`FAILED_PRECONDITION`: not enough started members, too many
 * learners, not in sync, not leader, ...) and `NOT_FOUND` (member not found, also what
 * a change refused when applied gets) prove the change did not happen, as do raftkit's
 * `another membership change is in progress` (the proposal was dropped) and `unhealthy
 * cluster` (a voter is not connected; checked before proposing). The rest, `no leader`
 * included, is `unknown`.
 */
export function classifyMembershipError(error: unknown): Outcome {
  const { code, details } = (error ?? {}) as { code?: number; details?: string };
  if (code === grpc.status.FAILED_PRECONDITION || code === grpc.status.NOT_FOUND) return 'fail';
  // Refused before proposing: raftkit dropped it, or etcd's strict reconfiguration
  // check found a voter not connected (etcd also answers MemberAdd so).
  if (/another membership change is in progress|unhealthy cluster/.test(details ?? '')) {
    return 'fail';
  }
  return classifyError(error);
}

/**
 * isLeaseNotFound is true for etcd's answer to a revoke (or leased put) of a lease that
 * does not exist: `NOT_FOUND: etcdserver: requested lease not found`.
 */
export function isLeaseNotFound(error: unknown): boolean {
  const { code, details } = (error ?? {}) as { code?: number; details?: string };
  return code === grpc.status.NOT_FOUND && /requested lease not found/.test(details ?? '');
}

/** describeError renders a gRPC error as `CODE: details`. */
export function describeError(error: unknown): string {
  const { code, details, message } = (error ?? {}) as {
    code?: number;
    details?: string;
    message?: string;
  };
  const name = code === undefined ? 'ERROR' : (grpc.status[code] ?? String(code));
  return `${name}: ${details ?? message ?? String(error)}`;
}
