import type { ServerConfig } from '@raftkit/config';
import { ClusterInfo } from '@raftkit/config';
import type { LogStore, NodeId, SoftState, StateMachine } from '@raftkit/core';
import { RaftError, RaftNode } from '@raftkit/core';
import type { TlsOptions } from '@raftkit/rpc';
import { GrpcTransport, RaftServer } from '@raftkit/rpc';
import { IntervalTicker } from '@raftkit/timer';
import type { ServerLogger } from './logger.js';
import { toCoreLogger } from './logger.js';

/** PEER_REDIAL_MAX_MS caps the peer transport's reconnect backoff. */
const PEER_REDIAL_MAX_MS = 250;

/** RaftHostOptions are what a member needs to run Raft: its config, store and state machine. */
export interface RaftHostOptions<Result> {
  readonly config: ServerConfig;
  readonly store: LogStore;
  readonly stateMachine: StateMachine<Result>;
  readonly logger: ServerLogger;
  readonly onSoftState?: (softState: SoftState) => void;
  readonly onFatal?: (error: unknown) => void;
  /** Snapshot policy handed to the RaftNode (see RaftNodeOptions.snapshot). */
  readonly snapshot?: { readonly everyEntries: number; readonly keepEntries: number };
}

/** peerTlsOptions maps the `--peer-*` TLS settings to the transport's options (undefined: plaintext). */
export function peerTlsOptions(config: ServerConfig): TlsOptions | undefined {
  const tls = config.peerTls;
  if (tls.certFile === undefined && tls.trustedCaFile === undefined) return undefined;
  return {
    ...(tls.certFile !== undefined ? { certFile: tls.certFile } : {}),
    ...(tls.keyFile !== undefined ? { keyFile: tls.keyFile } : {}),
    ...(tls.trustedCaFile !== undefined ? { caFile: tls.trustedCaFile } : {}),
    clientCertAuth: tls.clientCertAuth,
  };
}

/**
 * RaftHost is one member's Raft machinery, composed the way hashicorp/raft's `NewRaft`
 * composes it: a RaftNode over the store and state machine, a GrpcTransport to the
 * peers, a RaftServer that feeds peer messages to `step`, and an IntervalTicker at the
 * heartbeat interval. Cluster and member ids come from the config (etcd's recipe), so
 * every peer message is checked against the cluster id.
 */
export class RaftHost<Result> {
  readonly node: RaftNode<Result>;
  readonly transport: GrpcTransport;
  readonly server: RaftServer;
  readonly cluster: ClusterInfo;
  readonly nodeId: NodeId;
  readonly clusterId: bigint;
  readonly memberId: bigint;

  private constructor(parts: {
    node: RaftNode<Result>;
    transport: GrpcTransport;
    server: RaftServer;
    cluster: ClusterInfo;
    nodeId: NodeId;
    clusterId: bigint;
    memberId: bigint;
  }) {
    this.node = parts.node;
    this.transport = parts.transport;
    this.server = parts.server;
    this.cluster = parts.cluster;
    this.nodeId = parts.nodeId;
    this.clusterId = parts.clusterId;
    this.memberId = parts.memberId;
  }

  /** start binds the peer port, connects to the peers and starts ticking. */
  static async start<Result>(options: RaftHostOptions<Result>): Promise<RaftHost<Result>> {
    const { config, logger } = options;
    const bootstrap = config.bootstrap;
    if (bootstrap === undefined) {
      throw new RaftError(
        'UNSUPPORTED_CLUSTER_STATE',
        "--initial-cluster-state existing is not supported yet (membership changes are not finished); start every member with 'new'",
      );
    }
    const cluster = ClusterInfo.fromServerConfig(config);
    const peers = new Map<NodeId, string>();
    for (const member of bootstrap.members) {
      if (member.nodeId !== bootstrap.nodeId) peers.set(member.nodeId, member.peerUrls[0]!);
    }
    const tls = peerTlsOptions(config);
    const listenUrl = new URL(config.listenPeerUrls[0]!);
    let node: RaftNode<Result> | undefined;
    const server = await RaftServer.listen(listenUrl.host, {
      clusterId: bootstrap.clusterId,
      selfId: bootstrap.nodeId,
      members: bootstrap.members.map((member) => member.nodeId),
      onMessage: (message) => node?.step(message),
      logger: toCoreLogger(logger, 'peer-server'),
      ...(tls !== undefined ? { tls } : {}),
    });
    const transport = new GrpcTransport({
      clusterId: bootstrap.clusterId,
      selfId: bootstrap.nodeId,
      peers,
      logger: toCoreLogger(logger, 'peer-transport'),
      ...(tls !== undefined ? { tls } : {}),
      // Redial a lost peer at least every PEER_REDIAL_MAX_MS (rpc's default backs off to
      // 2 s, in both its own timer and grpc-js's subchannel): messages to a peer in backoff
      // are dropped, so after a partition heals the link stayed dark for up to ~4 s and a
      // healed member could not learn the leader. etcd's rafthttp redials every 100 ms.
      backoff: { baseMs: 50, maxMs: PEER_REDIAL_MAX_MS },
      onUnreachable: (id) => node?.reportUnreachable(id),
      onSnapshotStatus: (id, status) => node?.reportSnapshot(id, status),
    });
    const raftLogger = toCoreLogger(logger, 'raft');
    node = new RaftNode<Result>({
      config: {
        id: bootstrap.nodeId,
        peers: bootstrap.members.map((member) => member.nodeId),
        electionTicks: config.electionTicks,
        heartbeatTicks: config.heartbeatTicks,
        logger: raftLogger,
      },
      store: options.store,
      stateMachine: options.stateMachine,
      transport,
      ticker: new IntervalTicker({
        intervalMs: config.tickIntervalMs,
        onSkipped: (count, lateMs) =>
          raftLogger.warn('ticker stalled; ticks skipped', { count, lateMs }),
      }),
      logger: raftLogger,
      onSoftState: (softState) => {
        cluster.updateFromStatus({
          id: bootstrap.nodeId,
          leader: softState.leader,
          role: softState.role,
        });
        options.onSoftState?.(softState);
      },
      ...(options.onFatal !== undefined ? { onFatal: options.onFatal } : {}),
      ...(options.snapshot !== undefined ? { snapshot: options.snapshot } : {}),
    });
    node.start();
    // etcd's --initial-election-tick-advance: a (re)starting member has already waited
    // for its process to come up, so it campaigns after a couple of ticks of silence
    // rather than a whole election timeout. Pre-vote and the followers' leader lease keep
    // this from disturbing a cluster that still has a leader.
    for (let i = 0; i < config.electionTicks - 2; i++) node.tick();
    logger.info(
      {
        clusterId: bootstrap.clusterId.toString(16),
        memberId: bootstrap.memberId.toString(16),
        peerPort: server.port,
      },
      'raft host started',
    );
    return new RaftHost({
      node,
      transport,
      server,
      cluster,
      nodeId: bootstrap.nodeId,
      clusterId: bootstrap.clusterId,
      memberId: bootstrap.memberId,
    });
  }

  /** stop stops the node (failing pending requests), then closes the transport and server. */
  async stop(): Promise<void> {
    await this.node.stop();
    await this.transport.close();
    await this.server.close();
  }
}
