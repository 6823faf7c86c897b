import type { ClusterInfo, MemberSpec, ServerConfig } from '@raftkit/config';
import { toNodeId } from '@raftkit/config';
import type {
  ConfChange,
  ConfChangeSingle,
  ConfState,
  LogStore,
  NodeId,
  SnapshotPolicy,
  SoftState,
  StateMachine,
} from '@raftkit/core';
import { RaftNode } from '@raftkit/core';
import type { TlsOptions } from '@raftkit/rpc';
import { GrpcTransport, RaftServer } from '@raftkit/rpc';
import { IntervalTicker } from '@raftkit/timer';
import type { ServerLogger } from './logger.js';
import { toCoreLogger } from './logger.js';
import type { MemberIdentity } from './member-identity.js';

/** MAX_ANNOUNCED_PEERS bounds the peers dialled only because they announced themselves. */
const MAX_ANNOUNCED_PEERS = 16;
/** ANNOUNCED_SWEEP_MS is how often announced peers are checked (see sweepAnnounced). */
const ANNOUNCED_SWEEP_MS = 10_000;
/** ANNOUNCED_MISSES is how many sweeps an announced non-member may be unreachable. */
const ANNOUNCED_MISSES = 3;

/** PEER_REDIAL_MAX_MS caps the peer transport's reconnect backoff. */
const PEER_REDIAL_MAX_MS = 250;

/** RaftHostOptions are what a member needs to run Raft: its config, store and state machine. */
export interface RaftHostOptions<Result> {
  readonly config: ServerConfig;
  readonly identity: MemberIdentity;
  readonly store: LogStore;
  readonly stateMachine: StateMachine<Result>;
  /**
   * cluster is the replicated membership (kept current by the state machine as it
   * applies the log): the host keeps the peer transport and the peer server's admission
   * list in step with it.
   */
  readonly cluster: ClusterInfo;
  /**
   * seedMembers give the peers' addresses until the membership is known (a joining
   * member, before the leader's snapshot arrives, knows the cluster only from the
   * member it asked).
   */
  readonly seedMembers: readonly MemberSpec[];
  readonly logger: ServerLogger;
  readonly onSoftState?: (softState: SoftState) => void;
  readonly onConfChange?: (cc: ConfChange, confState: ConfState) => void;
  /** skipConfChange is RaftNode's: single changes the membership refuses at apply. */
  readonly skipConfChange?: (change: ConfChangeSingle, context: Uint8Array) => boolean;
  /** onRemoved is called when a peer tells this member it was removed from the cluster. */
  readonly onRemoved?: () => void;
  readonly onFatal?: (error: unknown) => void;
  /** Snapshot policy handed to the RaftNode (see RaftNodeOptions.snapshot). */
  readonly snapshot?: SnapshotPolicy;
}

function isPeerUrl(url: string): boolean {
  try {
    const parsed = new URL(url);
    return (parsed.protocol === 'http:' || parsed.protocol === 'https:') && parsed.port !== '';
  } catch {
    return false;
  }
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
 * heartbeat interval. The membership comes from the log (the state machine keeps it):
 * the host follows it, dialling added members, dropping removed ones and refusing their
 * streams, so every peer message is checked against the cluster id and the membership.
 */
export class RaftHost<Result> {
  readonly node: RaftNode<Result>;
  readonly transport: GrpcTransport;
  readonly server: RaftServer;
  readonly cluster: ClusterInfo;
  readonly nodeId: NodeId;
  readonly clusterId: bigint;
  readonly memberId: bigint;
  private readonly dialled = new Set<NodeId>();
  // Peers known only from the URL they announced on their stream, by id, with how many
  // sweeps in a row found them unreachable.
  private readonly announced = new Map<NodeId, { url: string; misses: number }>();
  private readonly sweepTimer: ReturnType<typeof setInterval>;
  private announcedRefusalLogged = false;
  private readonly stopFollowing: () => void;
  private readonly logger: ServerLogger;

  private constructor(parts: {
    node: RaftNode<Result>;
    transport: GrpcTransport;
    server: RaftServer;
    cluster: ClusterInfo;
    identity: MemberIdentity;
    seedMembers: readonly MemberSpec[];
    logger: ServerLogger;
  }) {
    this.logger = parts.logger;
    this.node = parts.node;
    this.transport = parts.transport;
    this.server = parts.server;
    this.cluster = parts.cluster;
    this.nodeId = parts.identity.nodeId;
    this.clusterId = parts.identity.clusterId;
    this.memberId = parts.identity.memberId;
    for (const member of parts.seedMembers) this.dial(toNodeId(member.id), member.peerUrls);
    this.stopFollowing = this.cluster.onChange(() => this.followMembership());
    this.followMembership();
    this.sweepTimer = setInterval(() => this.sweepAnnounced(), ANNOUNCED_SWEEP_MS);
    this.sweepTimer.unref();
  }

  /** start binds the peer port, connects to the peers and starts ticking. */
  static async start<Result>(options: RaftHostOptions<Result>): Promise<RaftHost<Result>> {
    const { config, logger, identity, cluster } = options;
    const tls = peerTlsOptions(config);
    const listenUrl = new URL(config.listenPeerUrls[0]!);
    let node: RaftNode<Result> | undefined;
    let host: RaftHost<Result> | undefined;
    const server = await RaftServer.listen(listenUrl.host, {
      clusterId: identity.clusterId,
      selfId: identity.nodeId,
      members: options.seedMembers.map((member) => toNodeId(member.id)),
      onMessage: (message) => node?.step(message),
      // Every sender of this cluster that was not removed is heard, members or not: a
      // member cut off while others were added still lists the old members, and must
      // hear the new leader it does not know yet. etcd does the same through its
      // pipeline handler (messages from a sender it does not know are processed) and
      // learns such a sender's peer URLs from its requests to answer it (AddRemote).
      admitNonMembers: true,
      onStreamAdmitted: (id, peerUrl) => host?.learnPeer(id, peerUrl),
      logger: toCoreLogger(logger, 'peer-server'),
      membership: () => ({
        clusterId: identity.clusterId,
        members: cluster.members(),
        removed: cluster.removedIds(),
      }),
      ...(tls !== undefined ? { tls } : {}),
    });
    const transport = new GrpcTransport({
      clusterId: identity.clusterId,
      selfId: identity.nodeId,
      // Announced on every stream we open, so that a peer that does not know us yet can answer.
      selfUrl: config.initialAdvertisePeerUrls[0]!,
      peers: new Map(),
      logger: toCoreLogger(logger, 'peer-transport'),
      ...(tls !== undefined ? { tls } : {}),
      // Redial a lost peer at least every PEER_REDIAL_MAX_MS (rpc's default backs off to
      // 2 s, in both its own timer and grpc-js's subchannel): messages to a peer in backoff
      // are dropped, so after a partition heals the link stayed dark for up to ~4 s and a
      // healed member could not learn the leader. etcd's rafthttp redials every 100 ms.
      backoff: { baseMs: 50, maxMs: PEER_REDIAL_MAX_MS },
      onUnreachable: (id) => node?.reportUnreachable(id),
      onSnapshotStatus: (id, status) => node?.reportSnapshot(id, status),
      onRemoved: () => options.onRemoved?.(),
    });
    const raftLogger = toCoreLogger(logger, 'raft');
    node = new RaftNode<Result>({
      // The membership is the store's (the cluster's initial snapshot, or the one a
      // joining member receives), changed only by configuration entries.
      config: {
        id: identity.nodeId,
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
          id: identity.nodeId,
          leader: softState.leader,
          role: softState.role,
        });
        options.onSoftState?.(softState);
      },
      ...(options.onConfChange !== undefined ? { onConfChange: options.onConfChange } : {}),
      ...(options.skipConfChange !== undefined ? { skipConfChange: options.skipConfChange } : {}),
      ...(options.onFatal !== undefined ? { onFatal: options.onFatal } : {}),
      ...(options.snapshot !== undefined ? { snapshot: options.snapshot } : {}),
    });
    host = new RaftHost({
      node,
      transport,
      server,
      cluster,
      identity,
      seedMembers: options.seedMembers,
      logger,
    });
    node.start();
    // etcd's --initial-election-tick-advance: a (re)starting member has already waited
    // for its process to come up, so it campaigns after a couple of ticks of silence
    // rather than a whole election timeout. Pre-vote and the followers' leader lease keep
    // this from disturbing a cluster that still has a leader.
    for (let i = 0; i < config.electionTicks - 2; i++) node.tick();
    logger.info(
      {
        clusterId: identity.clusterId.toString(16),
        memberId: identity.memberId.toString(16),
        peerPort: server.port,
      },
      'raft host started',
    );
    return host;
  }

  private dial(nodeId: NodeId, peerUrls: readonly string[]): void {
    if (nodeId === this.nodeId || peerUrls.length === 0) return;
    this.transport.addPeer(nodeId, peerUrls[0]!);
    this.server.addMember(nodeId);
    this.dialled.add(nodeId);
  }

  /** addSeeds dials members known from elsewhere (a member asked), without dropping any. */
  addSeeds(members: readonly MemberSpec[]): void {
    for (const member of members) this.dial(toNodeId(member.id), member.peerUrls);
  }

  /**
   * behind reports whether this member's view of the membership does not include
   * itself yet: a joining member before its first snapshot, or one restored from a
   * snapshot taken before it was added (the entries after the snapshot add it).
   */
  get behind(): boolean {
    return !this.cluster.isMember(this.nodeId) && !this.cluster.isRemoved(this.nodeId);
  }

  /**
   * learnPeer is told of every admitted peer stream and the URL its sender announced.
   * A sender this member's membership does not list yet (a member added while this one
   * was cut off — possibly the leader) is dialled there, so that this member can answer
   * it and catch up; the log's membership, once applied, is authoritative.
   */
  learnPeer(id: NodeId, peerUrl: string | undefined): void {
    if (peerUrl === undefined || id === this.nodeId) return;
    if (this.cluster.isMember(id) || this.cluster.isRemoved(id)) return;
    const known = this.announced.get(id);
    if (known !== undefined) known.misses = 0;
    if (this.transport.hasPeer(id) && known?.url === peerUrl) return;
    if (!isPeerUrl(peerUrl)) {
      this.logger.warn({ peer: id, peerUrl }, 'ignoring a peer URL that is not an http(s) URL');
      return;
    }
    if (known === undefined && this.announced.size >= MAX_ANNOUNCED_PEERS) {
      if (!this.announcedRefusalLogged) {
        this.announcedRefusalLogged = true;
        this.logger.warn(
          { peer: id, peerUrl, limit: MAX_ANNOUNCED_PEERS },
          'not dialling another peer the membership does not list: too many already',
        );
      }
      return;
    }
    this.logger.info(
      { peer: id, peerUrl },
      'dialling a peer that the membership known here does not list yet',
    );
    this.announced.set(id, { url: peerUrl, misses: 0 });
    this.dial(id, [peerUrl]);
  }

  /**
   * sweepAnnounced stops dialling an announced peer that is still not a member after
   * ANNOUNCED_MISSES sweeps in a row without a connection to it (a node that was started
   * but never added, or is gone): the announcements of live senders keep theirs, and the
   * membership takes over once it lists one.
   */
  private sweepAnnounced(): void {
    for (const [id, entry] of [...this.announced]) {
      if (this.cluster.isMember(id)) {
        this.announced.delete(id);
        continue;
      }
      if (this.transport.peerStats(id)?.state === 'ready') {
        entry.misses = 0;
        continue;
      }
      entry.misses++;
      if (entry.misses < ANNOUNCED_MISSES) continue;
      this.announced.delete(id);
      if (this.dialled.delete(id)) this.transport.removePeer(id);
      this.logger.info(
        { peer: id, peerUrl: entry.url },
        'stopped dialling an announced peer that is not a member and cannot be reached',
      );
    }
    if (this.announced.size < MAX_ANNOUNCED_PEERS) this.announcedRefusalLogged = false;
  }

  /**
   * followMembership makes the transport and the peer server match the membership:
   * dial every member at its first peer URL, stop dialling removed members and refuse
   * their streams (telling them so). Other peers are never dropped: one this member's
   * membership does not list is a member added since (its view may be behind, and the
   * leader may be among them) or a seed of a joining member.
   */
  private followMembership(): void {
    for (const id of this.cluster.removedIds()) {
      const nodeId = toNodeId(id);
      this.server.markRemoved(nodeId);
      if (this.dialled.delete(nodeId)) this.transport.removePeer(nodeId);
      this.announced.delete(nodeId);
    }
    for (const member of this.cluster.members()) {
      this.announced.delete(member.nodeId);
      this.dial(member.nodeId, member.peerUrls);
    }
  }

  /** stop stops the node (failing pending requests), then closes the transport and server. */
  async stop(): Promise<void> {
    clearInterval(this.sweepTimer);
    this.stopFollowing();
    await this.node.stop();
    await this.transport.close();
    await this.server.close();
  }
}
