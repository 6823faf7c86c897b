import { readdir, readFile, stat } from 'node:fs/promises';
import type { Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { ServerConfig } from '@raftkit/config';
import type { LogStore, LogUpdate, SoftState } from '@raftkit/core';
import { NONE } from '@raftkit/core';
import type * as pb from '@raftkit/rpc/etcd';
import { CLUSTER_SERVICE, encodeEtcdMessage, MAINTENANCE_SERVICE } from '@raftkit/rpc/etcd';
import { LevelLogStore } from '@raftkit/storage';
import { IntervalTicker, realClock } from '@raftkit/timer';
import { toEtcdError } from './etcd-errors.js';
import type { HeaderSource } from './etcd-mapping.js';
import { encodeKvCommand } from './kv-command.js';
import { createKvService, kvServiceDefinition, withServerHeader } from './kv-service.js';
import { type KvResult, KvStateMachine } from './kv-state-machine.js';
import { LeaderWait } from './leader-wait.js';
import type { ServerLogger } from './logger.js';
import { ServerMetrics, startMetricsServer } from './metrics.js';
import { RaftHost } from './raft-host.js';

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
  clientPorts: number[] = [];

  private constructor(
    readonly config: ServerConfig,
    readonly logger: ServerLogger,
    readonly store: LevelLogStore,
    readonly stateMachine: KvStateMachine,
    readonly host: RaftHost<KvResult>,
    readonly metrics: ServerMetrics,
  ) {}

  /** start opens the data dir, joins the cluster and serves clients. */
  static async start(config: ServerConfig, logger: ServerLogger): Promise<KvServer> {
    const bootstrap = config.bootstrap;
    const store = await LevelLogStore.open({
      dir: config.dataDir,
      ...(bootstrap !== undefined
        ? {
            identity: { clusterId: bootstrap.clusterId.toString(16), nodeId: bootstrap.nodeId },
            initialConfState: {
              voters: bootstrap.members.map((member) => member.nodeId),
              learners: [],
              votersOutgoing: [],
              learnersNext: [],
              autoLeave: false,
            },
          }
        : {}),
    });
    const stateMachine = new KvStateMachine();
    const metrics = new ServerMetrics();
    let host: RaftHost<KvResult>;
    let server: KvServer | undefined;
    try {
      host = await RaftHost.start<KvResult>({
        config,
        store: timedStore(store, metrics),
        stateMachine,
        logger,
        onSoftState: (softState) => server?.onSoftState(softState),
        // etcd's policy: snapshot every --snapshot-count applied entries, keep
        // --experimental-snapshot-catchup-entries (5,000) behind it so slightly-behind
        // followers catch up from the log.
        snapshot: {
          everyEntries: config.snapshotCount,
          keepEntries: config.snapshotCatchUpEntries,
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
    await server.serveClients();
    for (const url of config.listenMetricsUrls) {
      server.metricsServers.push(await startMetricsServer(url, metrics, () => server!.health()));
    }
    server.startMetricsUpdates();
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
    server.addService(CLUSTER_SERVICE, this.clusterService());
    server.addService(MAINTENANCE_SERVICE, this.maintenanceService());
    const credentials = await clientCredentials(this.config);
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

  private members(): pb.Member[] {
    return this.host.cluster.members().map((member) => {
      const published = this.stateMachine.members.get(member.id);
      return {
        ID: member.id,
        name: published?.name ?? member.name,
        peerURLs: [...member.peerUrls],
        clientURLs: [
          ...(published?.clientUrls ??
            (member.id === this.host.memberId ? this.config.advertiseClientUrls : [])),
        ],
        isLearner: member.isLearner,
      };
    });
  }

  private clusterService(): grpc.UntypedServiceImplementation {
    const unimplemented =
      (what: string) => (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
        callback({
          code: grpc.status.UNIMPLEMENTED,
          details: `raftkit: ${what} is not supported yet (membership changes are not finished)`,
        } as grpc.ServiceError);
    return {
      memberList: (
        _call: grpc.ServerUnaryCall<pb.MemberListRequest, pb.MemberListResponse>,
        callback: grpc.sendUnaryData<pb.MemberListResponse>,
      ) =>
        callback(null, {
          header: this.header(this.stateMachine.store.revision),
          members: this.members(),
        }),
      memberAdd: unimplemented('MemberAdd'),
      memberRemove: unimplemented('MemberRemove'),
      memberUpdate: unimplemented('MemberUpdate'),
      memberPromote: unimplemented('MemberPromote'),
    };
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
      alarm: unimplemented('Alarm'),
      defragment: unimplemented('Defragment'),
      hash: unimplemented('Hash'),
      hashKV: unimplemented('HashKV'),
      snapshot: unimplemented('Snapshot'),
      moveLeader: unimplemented('MoveLeader'),
      downgrade: unimplemented('Downgrade'),
    };
  }

  /** status answers Maintenance.Status. */
  async status(): Promise<pb.StatusResponse> {
    const status = this.host.node.status();
    const leader = status.softState.leader;
    const leaderMember =
      leader === NONE ? undefined : this.host.cluster.members().find((m) => m.nodeId === leader);
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
      isLearner: false,
      storageVersion: '',
      dbSizeQuota: 0n,
      downgradeInfo: null,
    };
  }

  /** health is what /health reports: healthy once a leader is known. */
  health(): { healthy: boolean; reason: string } {
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
    this.leaderWait?.notify();
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
      // Requests waiting for a leader go on (and fail fast) rather than hold the shutdown.
      this.leaderWait?.close();
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

/**
 * clientCredentials builds the client listener's credentials from `--cert-file`,
 * `--key-file`, `--trusted-ca-file` and `--client-cert-auth` (plaintext without them).
 */
async function clientCredentials(config: ServerConfig): Promise<grpc.ServerCredentials> {
  const tls = config.clientTls;
  if (tls.certFile === undefined || tls.keyFile === undefined)
    return grpc.ServerCredentials.createInsecure();
  const [cert, key, ca] = await Promise.all([
    readFile(tls.certFile),
    readFile(tls.keyFile),
    tls.trustedCaFile === undefined ? Promise.resolve(null) : readFile(tls.trustedCaFile),
  ]);
  return grpc.ServerCredentials.createSsl(
    ca,
    [{ cert_chain: cert, private_key: key }],
    tls.clientCertAuth,
  );
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
