import { existsSync } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import type { Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ClusterInfo, type MemberSpec, type ServerConfig, toNodeId } from '@raftkit/config';
import type { LogStore, LogUpdate, NodeId, SoftState } from '@raftkit/core';
import { NONE } from '@raftkit/core';
import {
  channelCredentials,
  checkTlsOptions,
  fetchMembers,
  serverCredentials,
  TlsConfigError,
  type TlsOptions,
} from '@raftkit/rpc';
import type * as pb from '@raftkit/rpc/etcd';
import {
  CLUSTER_SERVICE,
  encodeEtcdMessage,
  LEASE_SERVICE,
  MAINTENANCE_SERVICE,
  WATCH_SERVICE,
} from '@raftkit/rpc/etcd';
import { LevelLogStore } from '@raftkit/storage';
import { IntervalTicker, realClock, type TimerHandle } from '@raftkit/timer';
import { BACKUP_CHUNK_BYTES, BackupError, readBackup, sealBackup } from './backup.js';
import { Membership } from './cluster-service.js';
import { type Compactor, startAutoCompaction } from './compactor.js';
import { toEtcdError } from './etcd-errors.js';
import type { HeaderSource } from './etcd-mapping.js';
import { encodeKvCommand } from './kv-command.js';
import { createKvService, kvServiceDefinition, withServerHeader } from './kv-service.js';
import { type KvResult, KvStateMachine } from './kv-state-machine.js';
import { LeaderClients } from './leader-forward.js';
import { LeaderWait } from './leader-wait.js';
import { LeaseClock } from './lease/lease-clock.js';
import { createLeaseService, minLeaseTtl } from './lease/lease-service.js';
import type { ServerLogger } from './logger.js';
import {
  discoverJoin,
  MEMBER_FILE,
  type MemberIdentity,
  MemberIdentityError,
  readMemberIdentity,
  writeMemberIdentity,
} from './member-identity.js';
import { ServerMetrics, startMetricsServer } from './metrics.js';
import { peerTlsOptions, RaftHost } from './raft-host.js';
import { RequireLeader } from './require-leader.js';
import { WatchHub } from './watch/watch-hub.js';
import { createWatchService } from './watch/watch-service.js';

/** SERVER_VERSION is what Maintenance.Status reports; clients check it against the API they speak. */
export const SERVER_VERSION = '3.5.0';

/** gRPC allows this much framing on top of --max-request-bytes, as etcd does. */
const GRPC_OVERHEAD_BYTES = 512 * 1024;

/**
 * KvServer is one kv-server member: a LevelLogStore in the data dir, the MVCC state
 * machine, the Raft host (node, peer transport and server, ticker), the etcd v3 gRPC API
 * on the client URLs, and /metrics and /health on the metrics URLs.
 */
export class KvServer {
  private grpcServer: grpc.Server | undefined;
  private metricsServers: HttpServer[] = [];
  private stopping: Promise<void> | undefined;
  private leaderWait: LeaderWait | undefined;
  private compactor: Compactor | undefined;
  private membership: Membership | undefined;
  private leaseClock: LeaseClock | undefined;
  private leaderClients: LeaderClients | undefined;
  private requireLeader: RequireLeader | undefined;
  private readonly watchHub = new WatchHub({ store: () => this.stateMachine.store });
  clientPorts: number[] = [];

  private constructor(
    readonly config: ServerConfig,
    readonly logger: ServerLogger,
    readonly store: LevelLogStore,
    readonly stateMachine: KvStateMachine,
    readonly host: RaftHost<KvResult>,
    readonly metrics: ServerMetrics,
  ) {}

  /**
   * start opens the data dir, joins the cluster and serves clients. A new member of a
   * `new` cluster starts from the cluster's initial snapshot (the initial members, at
   * index 1, the same on every member); a member started with `--initial-cluster-state
   * existing` asks the running members who it is and waits for the leader's snapshot.
   */
  static async start(config: ServerConfig, logger: ServerLogger): Promise<KvServer> {
    checkTlsFiles(config);
    await mkdir(config.dataDir, { recursive: true });
    const plan = await planStart(config, logger);
    const { identity } = plan;
    const store = await LevelLogStore.open({
      dir: config.dataDir,
      identity: { clusterId: identity.clusterId.toString(16), nodeId: identity.nodeId },
    });
    let host: RaftHost<KvResult>;
    let server: KvServer | undefined;
    const cluster = new ClusterInfo({
      clusterId: identity.clusterId,
      localNodeId: identity.nodeId,
      members: [],
    });
    const stateMachine = new KvStateMachine({
      cluster,
      awaitingSnapshot: true,
      onMembershipError: (error, what) =>
        logger.error({ error: String(error), change: what }, 'membership change refused'),
    });
    const metrics = new ServerMetrics();
    try {
      const seedMembers = await prepareStore(store, plan, config, logger);
      host = await RaftHost.start<KvResult>({
        config,
        identity,
        store: timedStore(store, metrics),
        stateMachine,
        cluster,
        seedMembers,
        logger,
        onSoftState: (softState) => server?.onSoftState(softState),
        // etcd: a removed member id never returns — a change adding it back (a proposal
        // delayed until after the removal) is skipped by every member alike, as etcd's
        // server turns it into a no-op before raft applies it.
        skipConfChange: (change) =>
          change.type !== 'removeNode' && cluster.isRemoved(change.nodeId),
        onConfChange: (cc) => {
          stateMachine.applyConfChange(cc);
          if (cc.changes.some((c) => c.type === 'removeNode' && c.nodeId === identity.nodeId)) {
            server?.removedFromCluster('this member applied its own removal');
          }
        },
        onRemoved: () => server?.removedFromCluster('a peer refused this member as removed'),
        // etcd's policy: snapshot every --snapshot-count applied entries, keep
        // --experimental-snapshot-catchup-entries (5,000) behind it so slightly-behind
        // followers catch up from the log.
        // Each member's schedule has its own phase (from its id), so the members of a
        // cluster do not all spend CPU and disk on a snapshot at the same index.
        snapshot: {
          everyEntries: config.snapshotCount,
          keepEntries: config.snapshotCatchUpEntries,
          phase: identity.nodeId % config.snapshotCount,
        },
        onFatal: (error) => {
          logger.fatal(
            { error: String(error) },
            'raft node stopped on a fatal error; shutting down',
          );
          void server?.stop().finally(() => process.exit(1));
        },
      });
    } catch (error) {
      await store.close();
      throw error;
    }
    server = new KvServer(config, logger, store, stateMachine, host, metrics);
    server.refreshPeersWhileBehind();
    if (cluster.isRemoved(identity.memberId)) {
      server.removedFromCluster('the membership in its data says so');
    }
    await server.serveClients();
    for (const url of config.listenMetricsUrls) {
      server.metricsServers.push(await startMetricsServer(url, metrics, () => server!.health()));
    }
    server.startMetricsUpdates();
    server.compactor = startAutoCompaction({ config, node: host.node, stateMachine, logger });
    logger.info(
      {
        clientUrls: config.listenClientUrls,
        metricsUrls: config.listenMetricsUrls,
        dataDir: config.dataDir,
      },
      'kv-server ready to serve client requests',
    );
    return server;
  }

  /** header builds etcd's response header for a revision. */
  readonly header: HeaderSource = (revision) => ({
    clusterId: this.host.clusterId,
    memberId: this.host.memberId,
    revision: BigInt(revision),
    raftTerm: BigInt(this.host.node.term()),
  });

  private async serveClients(): Promise<void> {
    const node = this.host.node;
    // Two election timeouts: long enough for a healthy majority to elect a leader
    // (randomized timeout in [T, 2T) plus a vote round), short enough that a member cut
    // off from the majority answers `no leader` instead of holding requests for long.
    this.leaderWait = new LeaderWait(
      () => node.leader() !== NONE || node.isLeader(),
      2 * this.config.electionTimeoutMs,
    );
    this.requireLeader = new RequireLeader(
      () => node.leader() !== NONE || node.isLeader(),
      this.config.electionTimeoutMs,
    );
    const server = new grpc.Server({
      'grpc.max_receive_message_length': this.config.maxRequestBytes + GRPC_OVERHEAD_BYTES,
      'grpc.max_send_message_length': 2 ** 31 - 1,
    });
    server.addService(
      kvServiceDefinition(),
      withServerHeader(
        createKvService({
          node: this.host.node,
          stateMachine: this.stateMachine,
          header: this.header,
          maxRequestBytes: this.config.maxRequestBytes,
          maxTxnOps: this.config.maxTxnOps,
          leaderWait: this.leaderWait,
          observe: (method, code, seconds) =>
            this.metrics.requestDuration.observe({ method, code: String(code) }, seconds),
        }),
        SERVER_VERSION,
      ),
    );
    this.leaderClients = new LeaderClients(
      () => this.host.cluster.leader()?.clientUrls[0],
      // A MemberPromote forwarded to the leader's client API presents this member's own
      // client certificate when client TLS is on.
      () => channelCredentials(clientTlsOptions(this.config)),
    );
    this.leaseClock = new LeaseClock({
      table: this.stateMachine.leases,
      extendMs: this.config.electionTimeoutMs,
      revoke: (id) => {
        this.metrics.leasesExpired.inc();
        return node.propose(
          encodeKvCommand(
            'leaseRevoke',
            undefined,
            encodeEtcdMessage('LeaseRevokeRequest', { ID: id }),
          ),
        );
      },
      onStall: (lateMs) =>
        this.logger.warn(
          { lateMs: Math.round(lateMs) },
          'lease expiry check ran late; lease deadlines moved by the stall',
        ),
      onError: (id, error) =>
        this.logger.debug(
          { lease: id.toString(16), error: String(error) },
          'lease revocation failed; retrying',
        ),
    });
    // The member may have become leader before this server object existed.
    if (node.isLeader()) this.leaseClock.promote();
    server.addService(
      LEASE_SERVICE,
      withServerHeader(
        createLeaseService({
          node,
          table: this.stateMachine.leases,
          clock: this.leaseClock,
          header: this.header,
          revision: () => this.stateMachine.store.revision,
          minTtl: minLeaseTtl(this.config.electionTicks, this.config.tickIntervalMs),
          leader: this.leaderClients,
          forwardTimeoutMs: 5 * this.config.electionTimeoutMs,
          leaderWait: this.leaderWait,
          requireLeader: this.requireLeader,
        }),
        SERVER_VERSION,
      ),
    );
    this.membership = new Membership({
      node,
      cluster: this.host.cluster,
      nodeId: this.host.nodeId,
      header: this.header,
      revision: () => this.stateMachine.store.revision,
      token: this.config.initialClusterToken,
      nowSeconds: () => Math.floor(realClock.now() / 1000),
      isPeerConnected: (id) => this.host.transport.peerStats(id)?.state === 'ready',
      waitForLeader: (id, timeoutMs) => this.waitForLeader(id, timeoutMs),
      electionTimeoutMs: this.config.electionTimeoutMs,
      leader: this.leaderClients,
    });
    server.addService(CLUSTER_SERVICE, this.membership.service());
    const watch = {
      hub: this.watchHub,
      header: this.header,
      version: SERVER_VERSION,
      requireLeader: this.requireLeader,
      maxFragmentBytes: this.config.maxRequestBytes,
    };
    server.addService(WATCH_SERVICE, createWatchService(watch));
    server.addService(MAINTENANCE_SERVICE, this.maintenanceService());
    const credentials = serverCredentials(clientTlsOptions(this.config));
    for (const url of this.config.listenClientUrls) {
      const { host } = new URL(url);
      const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync(host, credentials, (error, bound) =>
          error ? reject(error) : resolve(bound),
        ),
      );
      this.clientPorts.push(port);
    }
    this.grpcServer = server;
  }

  private maintenanceService(): grpc.UntypedServiceImplementation {
    const unimplemented =
      (what: string) => (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
        callback({
          code: grpc.status.UNIMPLEMENTED,
          details: `raftkit: ${what} is not supported`,
        } as grpc.ServiceError);
    return {
      status: (_call: unknown, callback: grpc.sendUnaryData<pb.StatusResponse>) => {
        this.status().then(
          (response) => callback(null, response),
          (error: unknown) => callback(toEtcdError(error) as grpc.ServiceError),
        );
      },
      // raftkit has no space quota, so no alarm is ever raised: GET and DEACTIVATE
      // answer an empty list (etcdctl alarm list/disarm), ACTIVATE is refused.
      alarm: (
        call: grpc.ServerUnaryCall<pb.AlarmRequest, pb.AlarmResponse>,
        callback: grpc.sendUnaryData<pb.AlarmResponse>,
      ) => {
        if ((call.request.action ?? 0) === 1) {
          callback({
            code: grpc.status.UNIMPLEMENTED,
            details: 'raftkit: alarms cannot be raised (there is no space quota)',
          } as grpc.ServiceError);
          return;
        }
        callback(null, { header: this.header(this.stateMachine.store.revision), alarms: [] });
      },
      // The MVCC store lives in memory; what takes disk space is the log's LevelDB,
      // which is compacted now.
      defragment: (_call: unknown, callback: grpc.sendUnaryData<pb.DefragmentResponse>) => {
        this.store.compactDisk().then(
          () => callback(null, { header: this.header(this.stateMachine.store.revision) }),
          (error: unknown) => callback(toEtcdError(error) as grpc.ServiceError),
        );
      },
      hash: (_call: unknown, callback: grpc.sendUnaryData<pb.HashResponse>) => {
        try {
          const hash = this.stateMachine.hash();
          callback(null, { header: this.header(this.stateMachine.store.revision), hash });
        } catch (error) {
          callback(toEtcdError(error) as grpc.ServiceError);
        }
      },
      snapshot: (call: grpc.ServerWritableStream<pb.SnapshotRequest, pb.SnapshotResponse>) =>
        this.streamBackup(call),
      hashKV: (
        call: grpc.ServerUnaryCall<pb.HashKVRequest, pb.HashKVResponse>,
        callback: grpc.sendUnaryData<pb.HashKVResponse>,
      ) => {
        try {
          const store = this.stateMachine.store;
          const result = store.hashKV(Number(call.request.revision ?? 0n));
          callback(null, {
            header: this.header(store.revision),
            hash: result.hash,
            compactRevision: BigInt(result.compactRevision),
            hashRevision: BigInt(result.revision),
          });
        } catch (error) {
          callback(toEtcdError(error) as grpc.ServiceError);
        }
      },
      moveLeader: this.membership!.moveLeaderHandler(),
      downgrade: unimplemented('Downgrade'),
    };
  }

  /**
   * streamBackup answers Maintenance.Snapshot (`etcdctl snapshot save`): the state
   * machine image captured now, sealed with its SHA-256 (see backup.ts), in blobs of
   * 32 KiB with the bytes remaining after each, waiting for the client to drain.
   */
  private streamBackup(call: grpc.ServerWritableStream<pb.SnapshotRequest, pb.SnapshotResponse>) {
    const revision = this.stateMachine.store.revision;
    const produce = this.stateMachine.captureSnapshot();
    const send = async () => {
      const sealed = sealBackup(await produce());
      for (let offset = 0; offset < sealed.length && !call.cancelled; ) {
        const blob = sealed.subarray(offset, offset + BACKUP_CHUNK_BYTES);
        offset += blob.length;
        const more = call.write({
          header: this.header(revision),
          remainingBytes: BigInt(sealed.length - offset),
          blob,
          version: SERVER_VERSION,
        });
        if (!more && !call.cancelled) {
          await new Promise<void>((resolve) => {
            const done = () => {
              call.off('drain', done);
              call.off('cancelled', done);
              resolve();
            };
            call.on('drain', done);
            call.on('cancelled', done);
          });
        }
      }
      this.logger.info({ bytes: sealed.length, revision }, 'backup streamed to a client');
      call.end();
    };
    send().catch((error: unknown) => {
      if (!call.cancelled) call.emit('error', toEtcdError(error));
    });
  }

  /** status answers Maintenance.Status. */
  async status(): Promise<pb.StatusResponse> {
    const status = this.host.node.status();
    const leader = status.softState.leader;
    const leaderMember = leader === NONE ? undefined : this.host.cluster.member(leader);
    const size = await directorySize(this.config.dataDir);
    return {
      header: this.header(this.stateMachine.store.revision),
      version: SERVER_VERSION,
      dbSize: BigInt(size),
      leader: leaderMember?.id ?? 0n,
      raftIndex: BigInt(status.hardState.commit),
      raftTerm: BigInt(status.hardState.term),
      raftAppliedIndex: BigInt(this.host.node.applied()),
      errors: [],
      dbSizeInUse: BigInt(size),
      isLearner: this.host.cluster.local()?.isLearner ?? false,
      storageVersion: '',
      dbSizeQuota: 0n,
      downgradeInfo: null,
    };
  }

  /** health is what /health reports: healthy once a leader is known. */
  health(): { healthy: boolean; reason: string } {
    if (this.removed) return { healthy: false, reason: 'removed from the cluster' };
    const leader = this.host.node.leader();
    return leader === NONE
      ? { healthy: false, reason: 'no leader' }
      : { healthy: true, reason: '' };
  }

  private published = false;

  private onSoftState(softState: SoftState): void {
    this.metrics.hasLeader.set(softState.leader === NONE ? 0 : 1);
    this.metrics.isLeader.set(softState.role === 'leader' ? 1 : 0);
    if (softState.leader !== NONE) this.metrics.leaderChanges.inc();
    this.logger.info({ leader: softState.leader, role: softState.role }, 'raft role changed');
    if (softState.leader !== NONE && !this.published) this.publish();
    if (softState.role === 'leader') this.leaseClock?.promote();
    else this.leaseClock?.demote();
    this.leaderWait?.notify();
    for (const waiter of [...this.leaderWaiters]) waiter();
  }

  private readonly leaderWaiters = new Set<() => void>();

  /** waitForLeader resolves true once `nodeId` is the leader, false after `timeoutMs`. */
  private waitForLeader(nodeId: NodeId, timeoutMs: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const done = (result: boolean) => {
        this.leaderWaiters.delete(check);
        realClock.clearTimeout(timer);
        resolve(result);
      };
      const check = () => {
        if (this.host.node.leader() === nodeId) done(true);
      };
      const timer = realClock.setTimeout(() => done(false), timeoutMs, { unref: true });
      this.leaderWaiters.add(check);
      check();
    });
  }

  private removed = false;
  private behindTimer: TimerHandle | undefined;

  /**
   * refreshPeersWhileBehind: while this member's membership does not include itself (it
   * joined, or restarted from a snapshot taken before it was added), ask the members it
   * knows of — and those of `--initial-cluster` — for the current membership every two
   * seconds, and dial the members it did not know: the leader may be one of them, and
   * only the leader's entries bring this member's membership up to date.
   */
  private refreshPeersWhileBehind(): void {
    if (!this.host.behind || this.stopping !== undefined) return;
    const urls = new Set<string>();
    for (const member of this.host.cluster.members()) {
      if (member.nodeId !== this.host.nodeId) for (const url of member.peerUrls) urls.add(url);
    }
    const own = new Set(this.config.initialAdvertisePeerUrls);
    for (const member of this.config.initialCluster) {
      for (const url of member.peerUrls) if (!own.has(url)) urls.add(url);
    }
    const tls = peerTlsOptions(this.config);
    void (async () => {
      for (const url of urls) {
        try {
          const membership = await fetchMembers(url, {
            timeoutMs: 2000,
            ...(tls !== undefined ? { tls } : {}),
          });
          if (membership.clusterId !== this.host.clusterId) continue;
          this.host.addSeeds(membership.members);
          break;
        } catch {
          // Try the next one; the whole round is repeated while behind.
        }
      }
      if (this.stopping !== undefined || !this.host.behind) return;
      this.behindTimer = realClock.setTimeout(
        () => {
          this.behindTimer = undefined;
          this.refreshPeersWhileBehind();
        },
        2000,
        { unref: true },
      );
    })();
  }

  /**
   * removedFromCluster stops a member that was removed from the cluster (etcd: "the
   * member has been permanently removed from the cluster"): it answers no more requests
   * and the process exits. Answers already on their way (the MemberRemove that removed
   * it) get a moment to leave.
   */
  removedFromCluster(why: string): void {
    if (this.removed) return;
    this.removed = true;
    this.logger.error(
      { memberId: this.host.memberId.toString(16), why },
      'the member has been permanently removed from the cluster; shutting down',
    );
    realClock.setTimeout(
      () => {
        void this.stop().finally(() => process.exit(0));
      },
      500,
      { unref: false },
    );
  }

  /** publish announces this member's name and client URLs through the log (etcd's publish). */
  private publish(): void {
    const member = encodeEtcdMessage('Member', {
      ID: this.host.memberId,
      name: this.config.name,
      peerURLs: [...this.config.initialAdvertisePeerUrls],
      clientURLs: [...this.config.advertiseClientUrls],
      isLearner: false,
    });
    this.published = true;
    this.host.node.propose(encodeKvCommand('publish', undefined, member)).then(
      () =>
        this.logger.info(
          { clientUrls: this.config.advertiseClientUrls },
          'published member attributes',
        ),
      (error: unknown) => {
        this.published = false;
        this.logger.warn(
          { error: String(error) },
          'could not publish member attributes; will retry',
        );
      },
    );
  }

  private readonly metricsTicker = new IntervalTicker({ intervalMs: 1000, unref: true });

  private startMetricsUpdates(): void {
    // A cheap once-a-second copy of the raft gauges keeps metrics.ts free of raft types.
    const update = () => {
      const status = this.host.node.status();
      this.metrics.term.set(status.hardState.term);
      this.metrics.commitIndex.set(status.hardState.commit);
      this.metrics.appliedIndex.set(this.host.node.applied());
      this.metrics.leases.set(this.stateMachine.leases.size);
      this.metrics.watchStreams.set(this.watchHub.streamCount);
      this.metrics.watchers.set(this.watchHub.watchers);
      this.metrics.watchQueuedEvents.set(this.watchHub.queuedEvents);
      const stats = this.host.transport.stats();
      this.metrics.peerSendFailures.set(
        stats.peers.reduce((sum, peer) => sum + peer.droppedQueueFull + peer.droppedUnreachable, 0),
      );
    };
    update();
    this.metricsTicker.start(update);
  }

  /**
   * stop shuts down in order: stop accepting client requests (in-flight ones finish or
   * fail), stop Raft (pending proposals fail with "server stopped"), close storage.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.metricsTicker.stop();
      if (this.behindTimer !== undefined) realClock.clearTimeout(this.behindTimer);
      this.compactor?.stop();
      this.leaseClock?.close();
      this.leaderClients?.close();
      this.requireLeader?.close();
      // Requests waiting for a leader go on (and fail fast) rather than hold the shutdown.
      this.leaderWait?.close();
      this.watchHub.close(); // watch streams end (clients resume elsewhere)
      const grpcServer = this.grpcServer;
      if (grpcServer !== undefined) {
        await new Promise<void>((resolve) => {
          const force = realClock.setTimeout(() => {
            grpcServer.forceShutdown();
            resolve();
          }, 3000);
          grpcServer.tryShutdown(() => {
            realClock.clearTimeout(force);
            resolve();
          });
        });
      }
      await this.host.stop();
      await this.store.close();
      for (const server of this.metricsServers)
        await new Promise((resolve) => server.close(resolve));
      this.logger.info('kv-server stopped');
    })();
    return this.stopping;
  }
}

/** StartPlan is who this member is and where its first state comes from. */
interface StartPlan {
  readonly identity: MemberIdentity;
  /** initialMembers are a new cluster's members (its initial snapshot), or undefined. */
  readonly initialMembers: readonly MemberSpec[] | undefined;
  /** seedMembers are peers to dial before the membership is known. */
  readonly seedMembers: readonly MemberSpec[];
}

/**
 * planStart finds out who this member is: from `member.json` in the data dir when it
 * was started before (the `--initial-cluster*` flags are then ignored, as etcd ignores
 * them), from the bootstrap ids of `--initial-cluster-state new`, or by asking the
 * running cluster for `existing`. The identity is recorded before any other state.
 */
async function planStart(config: ServerConfig, logger: ServerLogger): Promise<StartPlan> {
  const bootstrap = config.bootstrap;
  const bootstrapMembers = bootstrap?.members.map((member) => ({
    id: member.id,
    name: member.name,
    peerUrls: member.peerUrls,
  }));
  const recorded = await readMemberIdentity(config.dataDir);
  if (recorded !== undefined) {
    if (recorded.name !== config.name) {
      logger.warn(
        { recorded: recorded.name, flag: config.name },
        '--name differs from the name this data dir was created with; the data dir wins',
      );
    }
    const sameBootstrap =
      bootstrap !== undefined &&
      bootstrap.clusterId === recorded.clusterId &&
      bootstrap.memberId === recorded.memberId;
    return {
      identity: recorded,
      initialMembers: sameBootstrap ? bootstrapMembers : undefined,
      seedMembers: sameBootstrap ? (bootstrapMembers ?? []) : [],
    };
  }
  if (existsSync(join(config.dataDir, 'log', 'CURRENT'))) {
    throw new MemberIdentityError(
      `${config.dataDir} holds a raft log but no ${MEMBER_FILE}: it was created by an older raftkit (before membership changes) or the file was lost; start this member with an empty data dir`,
    );
  }
  if (bootstrap !== undefined) {
    const identity: MemberIdentity = {
      clusterId: bootstrap.clusterId,
      memberId: bootstrap.memberId,
      nodeId: bootstrap.nodeId,
      name: config.name,
    };
    await writeMemberIdentity(config.dataDir, identity);
    return { identity, initialMembers: bootstrapMembers, seedMembers: bootstrapMembers ?? [] };
  }
  const joining = await discoverJoin(config, peerTlsOptions(config));
  logger.info(
    {
      clusterId: joining.identity.clusterId.toString(16),
      memberId: joining.identity.memberId.toString(16),
    },
    'joining an existing cluster',
  );
  await writeMemberIdentity(config.dataDir, joining.identity);
  return { identity: joining.identity, initialMembers: undefined, seedMembers: joining.members };
}

/** INITIAL_INDEX and INITIAL_TERM place a new cluster's initial snapshot. */
const INITIAL_INDEX = 1;
const INITIAL_TERM = 1;

/**
 * prepareStore gives a brand-new member of a new cluster its initial snapshot — the
 * initial members at index 1, term 1, the same on every member — so that the log proper
 * starts at index 2 and a member that joins later is always caught up from a snapshot,
 * which carries the membership, never from a log whose first configuration it cannot
 * know. It returns the peers to dial before the membership is restored.
 */
async function prepareStore(
  store: LevelLogStore,
  plan: StartPlan,
  config: ServerConfig,
  logger: ServerLogger,
): Promise<readonly MemberSpec[]> {
  // No snapshot and no log: a brand-new store, or a joining member that has heard the
  // leader (it may have saved a term and a vote) but not received its snapshot yet.
  const noState = store.snapshotMetadata().index === 0 && store.lastIndex() === 0;
  if (!noState) {
    if (store.snapshotMetadata().index === 0) {
      throw new MemberIdentityError(
        `${config.dataDir} was created by an older raftkit (its log has no initial snapshot); start this member with an empty data dir`,
      );
    }
    return plan.seedMembers;
  }
  const brandNew = store.initialState().hardState.term === 0;
  if (plan.initialMembers !== undefined && brandNew) {
    const voters = plan.initialMembers.map((member) => toNodeId(member.id));
    await store.save({
      hardState: { term: INITIAL_TERM, vote: NONE, commit: INITIAL_INDEX },
      entries: [],
      snapshot: {
        metadata: {
          index: INITIAL_INDEX,
          term: INITIAL_TERM,
          confState: {
            voters,
            learners: [],
            votersOutgoing: [],
            learnersNext: [],
            autoLeave: false,
          },
        },
        data: await initialImage(plan.initialMembers, config.initialSnapshotFile),
      },
    });
    logger.info(
      {
        members: voters.length,
        ...(config.initialSnapshotFile !== undefined ? { backup: config.initialSnapshotFile } : {}),
      },
      config.initialSnapshotFile === undefined
        ? 'wrote the cluster’s initial snapshot'
        : 'wrote the cluster’s initial snapshot from the backup',
    );
    return plan.seedMembers;
  }
  // A member that joined but has not received the leader's snapshot yet.
  if (plan.seedMembers.length > 0) return plan.seedMembers;
  if (config.initialClusterState !== 'existing') {
    throw new MemberIdentityError(
      `${config.dataDir} has an identity but no state, and this is not a join (--initial-cluster-state new); start it with --initial-cluster-state existing and the current members in --initial-cluster`,
    );
  }
  const joining = await discoverJoin(config, peerTlsOptions(config));
  if (joining.identity.memberId !== plan.identity.memberId) {
    throw new MemberIdentityError(
      `the cluster knows this member's peer URLs as member ${joining.identity.memberId.toString(16)}, but the data dir is member ${plan.identity.memberId.toString(16)}; start with an empty data dir`,
    );
  }
  return joining.members;
}

/**
 * initialImage is a new cluster's initial state machine image: empty, or the backup's
 * data (`--initial-snapshot-file`) with the initial members as the membership.
 */
async function initialImage(
  members: readonly MemberSpec[],
  backupFile: string | undefined,
): Promise<Uint8Array> {
  if (backupFile === undefined) return KvStateMachine.initialImage(members);
  const image = await readBackup(backupFile);
  try {
    return KvStateMachine.imageForNewCluster(image, members);
  } catch (error) {
    throw new BackupError(backupFile, `its image does not restore (${String(error)})`);
  }
}

/**
 * clientTlsOptions maps `--cert-file`, `--key-file`, `--trusted-ca-file` and
 * `--client-cert-auth` to TLS options (undefined: the client API is plaintext).
 */
function clientTlsOptions(config: ServerConfig): TlsOptions | undefined {
  const tls = config.clientTls;
  if (tls.certFile === undefined || tls.keyFile === undefined) return undefined;
  return {
    certFile: tls.certFile,
    keyFile: tls.keyFile,
    ...(tls.trustedCaFile !== undefined ? { caFile: tls.trustedCaFile } : {}),
    clientCertAuth: tls.clientCertAuth,
  };
}

/**
 * checkTlsFiles refuses unreadable or mismatched certificates and keys (client and peer)
 * with a TlsConfigError naming the file, before the data dir is opened.
 */
function checkTlsFiles(config: ServerConfig): void {
  const settings = [
    {
      options: clientTlsOptions(config),
      flags: '--cert-file, --key-file, --trusted-ca-file, --client-cert-auth',
    },
    {
      options: peerTlsOptions(config),
      flags: '--peer-cert-file, --peer-key-file, --peer-trusted-ca-file, --peer-client-cert-auth',
    },
  ];
  for (const { options, flags } of settings) {
    if (options === undefined) continue;
    try {
      checkTlsOptions(options);
    } catch (error) {
      if (!(error instanceof TlsConfigError)) throw error;
      throw new TlsConfigError(
        `${error.message.replace(/^invalid TLS configuration: /, '')} (check ${flags})`,
      );
    }
  }
}

/** timedStore wraps a LogStore so every save is timed into the fsync histogram. */
function timedStore(store: LogStore, metrics: ServerMetrics): LogStore {
  return {
    initialState: () => store.initialState(),
    entries: (lo, hi, maxBytes) => store.entries(lo, hi, maxBytes),
    term: (index) => store.term(index),
    firstIndex: () => store.firstIndex(),
    lastIndex: () => store.lastIndex(),
    snapshot: () => store.snapshot(),
    compact: (index) => store.compact(index),
    createSnapshot: (index, confState, data) => store.createSnapshot(index, confState, data),
    save: async (update: LogUpdate) => {
      const end = metrics.fsyncDuration.startTimer();
      try {
        await store.save(update);
      } finally {
        end();
      }
    },
  };
}

async function directorySize(dir: string): Promise<number> {
  let total = 0;
  const walk = async (path: string) => {
    for (const entry of await readdir(path, { withFileTypes: true }).catch(() => [])) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) await walk(full);
      else total += (await stat(full).catch(() => ({ size: 0 }))).size;
    }
  };
  await walk(dir);
  return total;
}
