import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import {
  CLUSTER_SERVICE,
  type CompactionResponse,
  type DeleteRangeResponse,
  type HashKVResponse,
  KV_SERVICE,
  LEASE_SERVICE,
  type LeaseGrantResponse,
  type LeaseKeepAliveRequest,
  type LeaseKeepAliveResponse,
  type LeaseLeasesResponse,
  type LeaseRevokeResponse,
  type LeaseTimeToLiveResponse,
  MAINTENANCE_SERVICE,
  type MemberAddResponse,
  type MemberListResponse,
  type MemberPromoteResponse,
  type MemberRemoveResponse,
  type MemberUpdateResponse,
  type MoveLeaderResponse,
  type PutResponse,
  type RangeResponse,
  type SnapshotResponse,
  type StatusResponse,
  type TxnRequest,
  type TxnResponse,
  WATCH_SERVICE,
  type WatchRequest,
  type WatchResponse,
} from '@raftkit/rpc/etcd';
import type { KeyInput } from './bytes.js';
import { type Endpoint, parseEndpoint } from './endpoints.js';
import { ETCD_ERRORS, isKvClientError, KvClientError } from './errors.js';
import {
  type LeaseGrantOptions,
  type LeaseTimeToLiveOptions,
  leaseGrantRequest,
  leaseNotFoundTimeToLive,
  leaseTimeToLiveRequest,
  toLeaseId,
} from './lease.js';
import {
  type KeepAliveStream,
  type KeepAliveStreams,
  LeaseKeepAlive,
  type LeaseKeepAliveOptions,
} from './lease-keep-alive.js';
import {
  type DeleteOptions,
  deleteRequest,
  type GetOptions,
  type IntInput,
  isWriteOp,
  type PutOptions,
  putRequest,
  rangeRequest,
  toInt64,
} from './ops.js';
import { checkPeerUrls, toMemberId } from './peer-urls.js';
import { backoffMs, classifyFailure, decideRetry, type RetryClass } from './retry.js';
import { TxnBuilder } from './txn.js';
import { Watch, type WatchStream, type WatchStreams } from './watch.js';
import { type WatchOptions, watchCreateRequest } from './watch-request.js';

/** REQUEST_ID_HEADER is the gRPC metadata key carrying a write's request id; raftkit servers deduplicate on it. */
export const REQUEST_ID_HEADER = 'raftkit-request-id';

/**
 * RAFTKIT_SERVER_HEADER is the response metadata key by which a raftkit server says it
 * deduplicates request ids; once seen on an endpoint, writes to it are retried safely.
 */
export const RAFTKIT_SERVER_HEADER = 'raftkit-server';

/**
 * REQUIRE_LEADER_HEADER is etcd's metadata key for clientv3's `WithRequireLeader`: a
 * stream carrying `hasleader: true` is ended by a member that knows no leader.
 */
export const REQUIRE_LEADER_HEADER = 'hasleader';

/** TlsOptions configure TLS to the endpoints (PEM contents, not file names). */
export interface TlsOptions {
  /** ca verifies the server's certificate (default: the system roots). */
  readonly ca?: string | Uint8Array;
  /** cert is the client certificate for mutual TLS. */
  readonly cert?: string | Uint8Array;
  /** key is the client certificate's private key. */
  readonly key?: string | Uint8Array;
  /** serverName overrides the name checked against the server certificate. */
  readonly serverName?: string;
  /** insecureSkipVerify skips certificate verification (testing only). */
  readonly insecureSkipVerify?: boolean;
}

/** KvClientOptions configure a KvClient. */
export interface KvClientOptions {
  /** endpoints are `host:port` or `http(s)://host:port` client URLs of the members. */
  readonly endpoints: readonly string[];
  /** dialTimeoutMs bounds connecting to one endpoint. Default 2000 (etcdctl's). */
  readonly dialTimeoutMs?: number;
  /** requestTimeoutMs bounds one call, retries included (plus one dial). Default 5000. */
  readonly requestTimeoutMs?: number;
  /** retries is how many times a failed call may be retried. Default 3. */
  readonly retries?: number;
  /** tls enables TLS for every endpoint (`https://` endpoints use TLS regardless). */
  readonly tls?: TlsOptions;
  /**
   * raftkitServer says whether the endpoints deduplicate `raftkit-request-id`: `true`
   * trusts that for all, `false` never does, unset (default) learns it per endpoint from
   * the `raftkit-server` response header. It decides whether a write that may have
   * been applied is retried.
   */
  readonly raftkitServer?: boolean;
}

interface Connection {
  readonly endpoint: Endpoint;
  readonly client: grpc.Client;
  raftkit: boolean;
}

interface CallPolicy {
  readonly idempotent: boolean;
  readonly pinned?: Connection;
  /**
   * noRequestId sends a non-idempotent request without a `raftkit-request-id`, so it is
   * retried only when it provably was not sent: membership changes and leadership
   * transfers, which no server is known to deduplicate.
   */
  readonly noRequestId?: boolean;
}

/** MemberAddOptions shape a Cluster.MemberAdd. */
export interface MemberAddOptions {
  /** isLearner adds the member as a non-voting learner (promote it with `memberPromote`). */
  readonly isLearner?: boolean;
}

/** LeaderEndpoint is the configured endpoint that is the leader, with its status. */
export interface LeaderEndpoint {
  /** endpoint is the endpoint as configured. */
  readonly endpoint: string;
  /** id is the leader's member id. */
  readonly id: bigint;
  /** status is what the endpoint answered to Maintenance.Status. */
  readonly status: StatusResponse;
}

/** MoveLeaderResult is the MoveLeaderResponse, plus which member led before and where it was asked. */
export interface MoveLeaderResult extends MoveLeaderResponse {
  /** previousLeader is the member id of the leader the transfer was asked of. */
  readonly previousLeader: bigint;
  /** leaderEndpoint is the endpoint the request was sent to (the previous leader's). */
  readonly leaderEndpoint: string;
}

type Method<Req, Res> = grpc.MethodDefinition<Req, Res>;

// grpc-js's connection messages carry noise ("Error: " twice, an empty resolution note).
function tidyConnectionMessage(text: string): string {
  return text.replace(/Last error: Error: /, 'Last error: ').replace(/\.? Resolution note: ?$/, '');
}

// Errors raised before anything was sent (dial timeout), so any request may be retried.
const notSent = new WeakSet<KvClientError>();

function sleep(ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));
}

function toBuffer(value: string | Uint8Array | undefined): Buffer | null {
  if (value === undefined) return null;
  return typeof value === 'string' ? Buffer.from(value) : Buffer.from(value);
}

/**
 * KvClient is a typed client of the etcd v3 KV, Watch, Lease, Cluster and Maintenance
 * APIs, for raftkit kv-server and stock etcd alike. It fails over between endpoints,
 * bounds every call with a deadline, retries reads, and retries writes only when that
 * cannot apply them twice: when the request provably never left, or when the server
 * deduplicates the request id every write carries in the `raftkit-request-id` header.
 */
export class KvClient {
  readonly #connections: Connection[];
  readonly #extra = new Map<string, Connection>();
  readonly #dialTimeoutMs: number;
  readonly #requestTimeoutMs: number;
  readonly #retries: number;
  readonly #options: KvClientOptions;
  readonly #keepAlives = new Set<LeaseKeepAlive>();
  readonly #watches = new Set<Watch>();
  #current = 0;
  #closed = false;

  constructor(options: KvClientOptions) {
    if (options.endpoints.length === 0) throw new TypeError('KvClient needs at least one endpoint');
    this.#options = options;
    this.#dialTimeoutMs = options.dialTimeoutMs ?? 2000;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 5000;
    this.#retries = options.retries ?? 3;
    this.#connections = options.endpoints.map((text) => this.#connect(parseEndpoint(text)));
  }

  /** endpoints lists the configured endpoints as given. */
  get endpoints(): string[] {
    return this.#connections.map((connection) => connection.endpoint.text);
  }

  /** put writes one key (KV.Put). */
  put(key: KeyInput, value: KeyInput, options: PutOptions = {}): Promise<PutResponse> {
    return this.#unary(KV_SERVICE.put, putRequest(key, value, options), { idempotent: false });
  }

  /** get reads one key or a range (KV.Range); linearizable unless `serializable`. */
  get(key: KeyInput, options: GetOptions = {}): Promise<RangeResponse> {
    return this.#unary(KV_SERVICE.range, rangeRequest(key, options), { idempotent: true });
  }

  /** delete removes one key or a range (KV.DeleteRange). */
  delete(key: KeyInput, options: DeleteOptions = {}): Promise<DeleteRangeResponse> {
    return this.#unary(KV_SERVICE.deleteRange, deleteRequest(key, options), { idempotent: false });
  }

  /** txn starts a transaction builder; `commit()` (or `await`) sends it (KV.Txn). */
  txn(): TxnBuilder {
    return new TxnBuilder((request) => this.txnRequest(request));
  }

  /** txnRequest sends a prepared TxnRequest; a transaction without writes is retried like a read. */
  txnRequest(request: TxnRequest): Promise<TxnResponse> {
    const writes = [...(request.success ?? []), ...(request.failure ?? [])].some(isWriteOp);
    return this.#unary(KV_SERVICE.txn, request, { idempotent: !writes });
  }

  /** compact discards history before `revision` (KV.Compact); `physical` waits until it is on disk. */
  compact(revision: IntInput, options: { physical?: boolean } = {}): Promise<CompactionResponse> {
    const request = {
      revision: toInt64(revision, 'revision'),
      physical: options.physical === true,
    };
    // Compacting twice to the same revision changes nothing more, so it is retried.
    return this.#unary(KV_SERVICE.compact, request, { idempotent: true });
  }

  /**
   * memberList lists the cluster's members (Cluster.MemberList). `linearizable` asks the
   * server to answer from a linearizable read (etcd 3.5+; etcd 3.4 ignores it).
   */
  memberList(options: { linearizable?: boolean } = {}): Promise<MemberListResponse> {
    const request = options.linearizable === true ? { linearizable: true } : {};
    return this.#unary(CLUSTER_SERVICE.memberList, request, { idempotent: true });
  }

  /**
   * memberAdd adds a member with these peer URLs (Cluster.MemberAdd), as a learner with
   * `isLearner`. The URLs are checked first as etcd's client checks them (scheme http,
   * https, unix or unixs; `host:port`; no path): a bad one throws a TypeError. The
   * response carries the new member (its `ID`) and the members after the change.
   */
  memberAdd(
    peerUrls: readonly string[],
    options: MemberAddOptions = {},
  ): Promise<MemberAddResponse> {
    const request = {
      peerURLs: checkPeerUrls(peerUrls),
      ...(options.isLearner === true ? { isLearner: true } : {}),
    };
    return this.#unary(CLUSTER_SERVICE.memberAdd, request, {
      idempotent: false,
      noRequestId: true,
    });
  }

  /** memberRemove removes a member by id (Cluster.MemberRemove). */
  memberRemove(id: bigint | number): Promise<MemberRemoveResponse> {
    const request = { ID: toMemberId(id) };
    return this.#unary(CLUSTER_SERVICE.memberRemove, request, {
      idempotent: false,
      noRequestId: true,
    });
  }

  /**
   * memberUpdate replaces a member's peer URLs (Cluster.MemberUpdate), checked as in
   * `memberAdd`. Setting the same URLs twice changes nothing more, so it is retried.
   */
  memberUpdate(id: bigint | number, peerUrls: readonly string[]): Promise<MemberUpdateResponse> {
    const request = { ID: toMemberId(id), peerURLs: checkPeerUrls(peerUrls) };
    return this.#unary(CLUSTER_SERVICE.memberUpdate, request, { idempotent: true });
  }

  /** memberPromote makes a learner that has caught up with the leader a voter (Cluster.MemberPromote). */
  memberPromote(id: bigint | number): Promise<MemberPromoteResponse> {
    const request = { ID: toMemberId(id) };
    return this.#unary(CLUSTER_SERVICE.memberPromote, request, {
      idempotent: false,
      noRequestId: true,
    });
  }

  /**
   * findLeader asks every configured endpoint for its status (Maintenance.Status, in
   * parallel) and returns the first, in configured order, that says it is the leader
   * (`header.memberId === leader`). Endpoints that fail are skipped. When none is the
   * leader it throws a KvClientError with reason `noLeaderEndpoint`: code
   * FAILED_PRECONDITION when every endpoint answered; otherwise the failures are in the
   * message, and the code is the last failure's when none answered, else UNAVAILABLE.
   * Each status call has its own deadline (see KvClientOptions).
   */
  async findLeader(): Promise<LeaderEndpoint> {
    const endpoints = this.endpoints;
    const results = await Promise.allSettled(endpoints.map((endpoint) => this.status(endpoint)));
    const failures: string[] = [];
    let lastError: KvClientError | undefined;
    for (const [index, result] of results.entries()) {
      const endpoint = endpoints[index] as string;
      if (result.status === 'rejected') {
        const error = result.reason as unknown;
        lastError = error instanceof KvClientError ? error : undefined;
        const message = (error as Error).message;
        failures.push(message.includes(endpoint) ? message : `${endpoint}: ${message}`);
        continue;
      }
      const status = result.value;
      const id = status.header?.memberId ?? 0n;
      if (status.leader !== 0n && status.leader === id) return { endpoint, id, status };
    }
    const given = `no leader endpoint given at [${endpoints.join(' ')}]`;
    if (failures.length === 0) {
      throw new KvClientError(grpc.status.FAILED_PRECONDITION, given, {
        reason: 'noLeaderEndpoint',
        attempts: endpoints.length,
      });
    }
    const code =
      failures.length === endpoints.length && lastError !== undefined
        ? lastError.code
        : grpc.status.UNAVAILABLE;
    throw new KvClientError(code, given, {
      reason: 'noLeaderEndpoint',
      attempts: endpoints.length,
      message: `${given} (${failures.join('; ')})`,
      ...(lastError === undefined ? {} : { cause: lastError }),
    });
  }

  /**
   * moveLeader transfers leadership to the member `targetId` (Maintenance.MoveLeader).
   * As with etcd's client, only the leader accepts the request, so it first finds the
   * leader among the configured endpoints (`findLeader`) and sends it there, with a
   * deadline of its own. Moving the leadership to the current leader succeeds and
   * changes nothing. It is not resent once it may have reached the leader.
   */
  async moveLeader(targetId: bigint | number): Promise<MoveLeaderResult> {
    const request = { targetID: toMemberId(targetId, 'target member id') };
    const leader = await this.findLeader();
    const connection = this.#connectionFor(leader.endpoint);
    const response = await this.#unary(MAINTENANCE_SERVICE.moveLeader, request, {
      idempotent: false,
      noRequestId: true,
      pinned: connection,
    });
    return { ...response, previousLeader: leader.id, leaderEndpoint: leader.endpoint };
  }

  /** status asks one endpoint (not necessarily a configured one) for its status (Maintenance.Status). */
  status(endpoint: string): Promise<StatusResponse> {
    const connection = this.#connectionFor(endpoint);
    return this.#unary(MAINTENANCE_SERVICE.status, {}, { idempotent: true, pinned: connection });
  }

  /**
   * hashKV asks one endpoint for the hash of its key-value history up to `revision`
   * (Maintenance.HashKV; 0: its current revision). Members that applied the same log
   * answer the same hash at the same revision (`compactRevision` must match too).
   */
  hashKV(endpoint: string, revision: IntInput = 0): Promise<HashKVResponse> {
    const connection = this.#connectionFor(endpoint);
    const request = { revision: toInt64(revision, 'revision') };
    return this.#unary(MAINTENANCE_SERVICE.hashKV, request, {
      idempotent: true,
      pinned: connection,
    });
  }

  /**
   * snapshot streams one endpoint's backup of its state (Maintenance.Snapshot), blob by
   * blob — what `etcdctl snapshot save` writes to a file. Throws KvClientError when the
   * endpoint cannot be reached or the stream fails; stopping the iteration cancels it.
   */
  async *snapshot(endpoint: string): AsyncGenerator<Uint8Array, void, undefined> {
    if (this.#closed) throw new KvClientError(grpc.status.CANCELLED, 'client is closed');
    const connection = this.#connectionFor(endpoint);
    const unreachable = await this.#dial(connection, Date.now() + this.#dialTimeoutMs);
    if (unreachable !== undefined) throw unreachable;
    const method = MAINTENANCE_SERVICE.snapshot;
    const call = connection.client.makeServerStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      {},
      new grpc.Metadata(),
      {},
    ) as grpc.ClientReadableStream<SnapshotResponse>;
    try {
      for await (const response of call as AsyncIterable<SnapshotResponse>) yield response.blob;
    } catch (error) {
      throw error instanceof KvClientError
        ? error
        : KvClientError.fromServiceError(error as grpc.ServiceError, connection.endpoint.text, 1);
    } finally {
      call.cancel();
    }
  }

  /**
   * leaseGrant creates a lease of `ttlSeconds` (Lease.LeaseGrant); the server may raise a
   * short TTL to its minimum. With `id` it asks for that id (`leaseExists` when taken),
   * else the server picks one. The response carries `ID` and `TTL`. A grant is a write:
   * it is resent after it may have been applied only to a server that deduplicates.
   */
  leaseGrant(ttlSeconds: IntInput, options: LeaseGrantOptions = {}): Promise<LeaseGrantResponse> {
    const request = leaseGrantRequest(ttlSeconds, options);
    return this.#unary(LEASE_SERVICE.leaseGrant, request, { idempotent: false });
  }

  /**
   * leaseRevoke ends a lease now and deletes the keys attached to it (Lease.LeaseRevoke);
   * an unknown or expired lease throws reason `leaseNotFound`. It is retried like a write.
   */
  leaseRevoke(id: IntInput): Promise<LeaseRevokeResponse> {
    const request = { ID: toLeaseId(id) };
    return this.#unary(LEASE_SERVICE.leaseRevoke, request, { idempotent: false });
  }

  /**
   * leaseTimeToLive reads a lease's remaining `TTL` and `grantedTTL` (Lease.LeaseTimeToLive),
   * with the attached `keys` when asked. As etcd answers, a lease that does not exist
   * (expired, revoked, never granted) has `TTL` −1 and `grantedTTL` 0; a server that
   * reports it as `leaseNotFound` instead gets the same answer.
   */
  async leaseTimeToLive(
    id: IntInput,
    options: LeaseTimeToLiveOptions = {},
  ): Promise<LeaseTimeToLiveResponse> {
    const request = leaseTimeToLiveRequest(id, options);
    try {
      return await this.#unary(LEASE_SERVICE.leaseTimeToLive, request, { idempotent: true });
    } catch (error) {
      if (isKvClientError(error, 'leaseNotFound')) return leaseNotFoundTimeToLive(request.ID ?? 0n);
      throw error;
    }
  }

  /** leaseLeases lists the ids of every live lease (Lease.LeaseLeases), in the server's order. */
  leaseLeases(): Promise<LeaseLeasesResponse> {
    return this.#unary(LEASE_SERVICE.leaseLeases, {}, { idempotent: true });
  }

  /**
   * leaseKeepAliveOnce renews a lease once (one request on a LeaseKeepAlive stream of its
   * own) and returns the response, whose `TTL` is the renewed TTL. A lease the server
   * does not know (it answers TTL 0) throws reason `leaseNotFound` with code NOT_FOUND, as
   * etcd's client does. Renewing is idempotent, so it is retried like a read.
   */
  leaseKeepAliveOnce(id: IntInput): Promise<LeaseKeepAliveResponse> {
    const request = { ID: toLeaseId(id) };
    return this.#withRetries({ idempotent: true }, (connection, _requestId, deadline) =>
      this.#keepAliveOnce(connection, request, deadline),
    );
  }

  /**
   * leaseKeepAlive keeps a lease alive until closed, as etcd's client does: over one
   * LeaseKeepAlive stream it renews the lease a third of its TTL after each answer,
   * resends an unanswered request every 500 ms, and reopens a broken stream (UNAVAILABLE
   * or INTERNAL) after 500 ms on the next endpoint. It stops when the server answers TTL 0
   * (the lease expired or was revoked), when no answer renews the lease within its TTL
   * (the first answer must come within the dial timeout plus 1 s), on any other stream
   * error, or on `close()`; `done` says why (LeaseKeepAliveEnd). Renewals go to
   * `options.onResponse` and to async iterators of the handle. `KvClient.close()` closes
   * it too. The id is checked at once (TypeError/RangeError).
   */
  leaseKeepAlive(id: IntInput, options: LeaseKeepAliveOptions = {}): LeaseKeepAlive {
    const leaseId = toLeaseId(id);
    const streams: KeepAliveStreams = {
      open: (deadline) => this.#openKeepAlive(deadline),
      failed: (endpoint) => this.#moveOn(endpoint),
    };
    const keepAlive = new LeaseKeepAlive(leaseId, streams, this.#dialTimeoutMs + 1000, options);
    this.#keepAlives.add(keepAlive);
    void keepAlive.done.then(() => this.#keepAlives.delete(keepAlive));
    if (this.#closed) keepAlive.close();
    return keepAlive;
  }

  /**
   * watch watches a key, or a range (`prefix`, `fromKey`, `rangeEnd`), for changes
   * (Watch.Watch), as etcd's clientv3 does, over a Watch stream of its own. It returns a
   * Watch at once: iterate it (`for await (const batch of watch)`) for WatchBatches —
   * the server's responses, in order, each with its `events` (`type` PUT or DELETE,
   * `kv`, and `prevKv` with `prevKv`). With `revision` the history from that revision on
   * is replayed first. A stream that breaks with UNAVAILABLE or INTERNAL (or that the
   * server ends) is reopened on the next endpoint, with pauses as for calls (see
   * `backoffMs`), for as long as it takes, and the watch resumes at the revision after
   * the last one delivered: no event is lost or repeated. When the server cancels the
   * watch — its revision was compacted (reason `compacted`, with `compactRevision`), or
   * another reason — the iteration throws a WatchCanceledError; any other stream error
   * ends it with that KvClientError. `close()` (or leaving the loop, or
   * `KvClient.close()`) sends a WatchCancelRequest. The options are checked at once
   * (TypeError).
   */
  watch(key: KeyInput, options: WatchOptions = {}): Watch {
    const request = watchCreateRequest(key, options);
    const requireLeader = options.requireLeader === true;
    const streams: WatchStreams = {
      open: () => this.#openWatch(requireLeader),
      failed: (endpoint) => this.#moveOn(endpoint),
      retryDelayMs: (attempt) => backoffMs(attempt, this.#connections.length),
    };
    const watch = new Watch(request, streams, { createdNotify: options.createdNotify === true });
    this.#watches.add(watch);
    void watch.done.then(() => this.#watches.delete(watch));
    if (this.#closed) watch.close();
    return watch;
  }

  /**
   * close stops every lease keep-alive and every watch, and releases every connection;
   * calls made afterwards fail.
   */
  close(): void {
    this.#closed = true;
    for (const keepAlive of this.#keepAlives) keepAlive.close();
    for (const watch of this.#watches) watch.close();
    for (const connection of [...this.#connections, ...this.#extra.values()]) {
      connection.client.close();
    }
  }

  #connectionFor(endpoint: string): Connection {
    const parsed = parseEndpoint(endpoint);
    let connection =
      this.#connections.find((c) => c.endpoint.target === parsed.target) ??
      this.#extra.get(parsed.target);
    if (connection === undefined) {
      connection = this.#connect(parsed);
      this.#extra.set(parsed.target, connection);
    }
    return connection;
  }

  #connect(endpoint: Endpoint): Connection {
    const tls = this.#options.tls;
    const channelOptions: grpc.ChannelOptions = {
      // etcd's own client accepts responses of any size; grpc-js's default is 4 MiB.
      'grpc.max_receive_message_length': -1,
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 6_000,
      // Ping only while calls are in flight: etcd's default enforcement (no pings without
      // active streams) answers idle pings with GOAWAY too_many_pings.
      'grpc.keepalive_permit_without_calls': 0,
    };
    let credentials = grpc.credentials.createInsecure();
    if (tls !== undefined || endpoint.secure) {
      credentials = grpc.credentials.createSsl(
        toBuffer(tls?.ca),
        toBuffer(tls?.key),
        toBuffer(tls?.cert),
        tls?.insecureSkipVerify === true ? { rejectUnauthorized: false } : {},
      );
      if (tls?.serverName !== undefined) {
        channelOptions['grpc.ssl_target_name_override'] = tls.serverName;
        channelOptions['grpc.default_authority'] = tls.serverName;
      }
    }
    return {
      endpoint,
      client: new grpc.Client(endpoint.target, credentials, channelOptions),
      raftkit: this.#options.raftkitServer === true,
    };
  }

  #deduplicates(connection: Connection): boolean {
    if (this.#options.raftkitServer !== undefined) return this.#options.raftkitServer;
    return connection.raftkit;
  }

  #unary<Req, Res>(method: Method<Req, Res>, request: Req, policy: CallPolicy): Promise<Res> {
    return this.#withRetries(policy, (connection, requestId, deadline) =>
      this.#call(connection, method, request, requestId, deadline),
    );
  }

  // One call under the client's rules: a deadline over all attempts, failover between
  // endpoints, and retries as the policy and the failure allow (see retry.ts).
  async #withRetries<Res>(
    policy: CallPolicy,
    attempt: (
      connection: Connection,
      requestId: string | undefined,
      deadline: number,
    ) => Promise<Res>,
  ): Promise<Res> {
    if (this.#closed) throw new KvClientError(grpc.status.CANCELLED, 'client is closed');
    const deadline = Date.now() + this.#dialTimeoutMs + this.#requestTimeoutMs;
    const requestId = policy.idempotent || policy.noRequestId ? undefined : randomUUID();
    const count = policy.pinned === undefined ? this.#connections.length : 1;
    const failures: string[] = [];
    for (let attempts = 1; ; attempts++) {
      const connection = policy.pinned ?? (this.#connections[this.#current] as Connection);
      let kind: RetryClass;
      let error: KvClientError;
      try {
        const sent = await this.#dial(connection, deadline);
        if (sent !== undefined) throw sent;
        return await attempt(connection, requestId, deadline);
      } catch (caught) {
        error =
          caught instanceof KvClientError
            ? caught
            : new KvClientError(grpc.status.UNKNOWN, String(caught), { cause: caught });
        kind = notSent.has(error) ? 'not-sent' : classifyFailure(error.code, error.details);
      }
      failures.push(`${connection.endpoint.text}: ${error.details}`);
      const decision = decideRetry(kind, {
        idempotent: policy.idempotent,
        deduplicated: requestId !== undefined && this.#deduplicates(connection),
      });
      const remaining = deadline - Date.now();
      if (!decision.retry || attempts > this.#retries || remaining <= 0) {
        throw this.#finalError(error, connection, attempts, kind, failures);
      }
      if (decision.nextEndpoint && policy.pinned === undefined) {
        this.#current = (this.#current + 1) % this.#connections.length;
      }
      await sleep(Math.min(backoffMs(attempts, count), remaining));
    }
  }

  #keepAliveStream(
    connection: Connection,
    options: grpc.CallOptions,
  ): grpc.ClientDuplexStream<LeaseKeepAliveRequest, LeaseKeepAliveResponse> {
    const method = LEASE_SERVICE.leaseKeepAlive;
    return connection.client.makeBidiStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      new grpc.Metadata(),
      options,
    );
  }

  async #openKeepAlive(deadline: number): Promise<KeepAliveStream> {
    if (this.#closed) throw new KvClientError(grpc.status.CANCELLED, 'client is closed');
    const connection = this.#connections[this.#current] as Connection;
    const unreachable = await this.#dial(connection, deadline);
    if (unreachable !== undefined) throw unreachable;
    return { endpoint: connection.endpoint.text, call: this.#keepAliveStream(connection, {}) };
  }

  async #openWatch(requireLeader: boolean): Promise<WatchStream> {
    if (this.#closed) throw new KvClientError(grpc.status.CANCELLED, 'client is closed');
    const connection = this.#connections[this.#current] as Connection;
    const unreachable = await this.#dial(connection, Date.now() + this.#dialTimeoutMs);
    if (unreachable !== undefined) throw unreachable;
    if (this.#closed) throw new KvClientError(grpc.status.CANCELLED, 'client is closed');
    const metadata = new grpc.Metadata();
    if (requireLeader) metadata.set(REQUIRE_LEADER_HEADER, 'true');
    const method = WATCH_SERVICE.watch;
    const call = connection.client.makeBidiStreamRequest<WatchRequest, WatchResponse>(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      metadata,
      {},
    );
    return { endpoint: connection.endpoint.text, call };
  }

  // A stream to `endpoint` failed: what is opened next goes to the next endpoint.
  #moveOn(endpoint: string | undefined): void {
    const current = this.#connections[this.#current];
    if (endpoint !== undefined && current?.endpoint.text === endpoint) {
      this.#current = (this.#current + 1) % this.#connections.length;
    }
  }

  // One request on a stream of its own; the first answer settles it.
  #keepAliveOnce(
    connection: Connection,
    request: LeaseKeepAliveRequest,
    deadline: number,
  ): Promise<LeaseKeepAliveResponse> {
    const endpoint = connection.endpoint.text;
    return new Promise((resolve, reject) => {
      const call = this.#keepAliveStream(connection, { deadline: new Date(deadline) });
      let settled = false;
      call.on('data', (response: LeaseKeepAliveResponse) => {
        if (settled) return;
        settled = true;
        call.cancel();
        if (response.TTL <= 0n) {
          reject(new KvClientError(grpc.status.NOT_FOUND, ETCD_ERRORS.leaseNotFound, { endpoint }));
        } else {
          resolve(response);
        }
      });
      call.on('error', (error: grpc.ServiceError) => {
        if (settled) return;
        settled = true;
        reject(KvClientError.fromServiceError(error, endpoint, 1));
      });
      call.on('status', (status: grpc.StatusObject) => {
        if (settled) return;
        settled = true;
        reject(
          new KvClientError(grpc.status.UNAVAILABLE, 'the server ended the keep-alive stream', {
            endpoint,
            cause: status,
          }),
        );
      });
      call.write(request);
    });
  }

  #finalError(
    error: KvClientError,
    connection: Connection,
    attempts: number,
    kind: RetryClass,
    failures: string[],
  ): KvClientError {
    const unreachable = kind === 'not-sent' && error.code === grpc.status.UNAVAILABLE;
    const distinct = [...new Set(failures.map(tidyConnectionMessage))];
    const message = unreachable
      ? `cannot reach ${distinct.length > 1 ? 'any endpoint' : 'the endpoint'} (${distinct.join('; ')})`
      : error.details;
    const final = new KvClientError(error.code, error.details, {
      ...(error.reason === undefined ? {} : { reason: error.reason }),
      endpoint: connection.endpoint.text,
      attempts,
      message,
      cause: error.cause ?? error,
    });
    if (kind === 'not-sent') notSent.add(final);
    return final;
  }

  /** Waits until the channel has connected or failed; undefined means "go ahead and call". */
  async #dial(connection: Connection, deadline: number): Promise<KvClientError | undefined> {
    const channel = connection.client.getChannel();
    const dialDeadline = Math.min(deadline, Date.now() + this.#dialTimeoutMs);
    let state = channel.getConnectivityState(true);
    while (state === grpc.connectivityState.IDLE || state === grpc.connectivityState.CONNECTING) {
      if (Date.now() >= dialDeadline) {
        const error = new KvClientError(
          grpc.status.UNAVAILABLE,
          `no connection within the dial timeout (${this.#dialTimeoutMs} ms)`,
          { endpoint: connection.endpoint.text },
        );
        notSent.add(error);
        return error;
      }
      const from = state;
      await new Promise<void>((resolve) =>
        channel.watchConnectivityState(from, dialDeadline, () => resolve()),
      );
      state = channel.getConnectivityState(true);
    }
    // READY: call. TRANSIENT_FAILURE: call anyway — grpc-js then fails at once with
    // UNAVAILABLE "No connection established. Last error: …", which names the cause.
    return undefined;
  }

  #call<Req, Res>(
    connection: Connection,
    method: Method<Req, Res>,
    request: Req,
    requestId: string | undefined,
    deadline: number,
  ): Promise<Res> {
    const metadata = new grpc.Metadata();
    if (requestId !== undefined) metadata.set(REQUEST_ID_HEADER, requestId);
    const noteServer = (received: grpc.Metadata | undefined): void => {
      if (received !== undefined && received.get(RAFTKIT_SERVER_HEADER).length > 0) {
        connection.raftkit = true;
      }
    };
    return new Promise<Res>((resolve, reject) => {
      const call = connection.client.makeUnaryRequest<Req, Res>(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        metadata,
        { deadline: new Date(deadline) },
        (error, response) => {
          if (error) {
            noteServer(error.metadata);
            reject(KvClientError.fromServiceError(error, connection.endpoint.text, 1));
          } else {
            resolve(response as Res);
          }
        },
      );
      call.on('metadata', noteServer);
    });
  }
}
