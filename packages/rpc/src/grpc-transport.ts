import * as grpc from '@grpc/grpc-js';
import {
  isLocalMessage,
  type Logger,
  type Message,
  type MsgSnap,
  type NodeId,
  SILENT_LOGGER,
  type Transport,
} from '@raftkit/core';
import { type BackoffOptions, type Clock, realClock } from '@raftkit/timer';
import { validClusterId } from './cluster-id.js';
import { MAX_PEER_URL_BYTES, type SnapshotResponse } from './codec.js';
import { RpcConfigError, SnapshotTransferError } from './errors.js';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  type KeepaliveOptions,
  keepaliveChannelOptions,
} from './grpc-service.js';
import { toGrpcTarget } from './peer-address.js';
import { type PeerStats, PeerStream } from './peer-stream.js';
import { DEFAULT_SNAPSHOT_CHUNK_BYTES, sendSnapshotChunks } from './snapshot-stream.js';
import { channelCredentials, type TlsOptions } from './tls.js';

/** SnapshotStatus is the outcome of a snapshot transfer, as core's `reportSnapshot` takes it. */
export type SnapshotStatus = 'finish' | 'failure';

/** GrpcTransportOptions configure a GrpcTransport. */
export interface GrpcTransportOptions {
  /** clusterId is stamped on every batch; receivers of another cluster refuse it. */
  readonly clusterId: bigint;
  /** selfId is this node's id, the `from` of every batch. */
  readonly selfId: NodeId;
  /**
   * selfUrl is this node's own peer URL, announced when a stream opens, so that a peer
   * whose view of the membership does not list this node yet can answer it (RaftServer's
   * `onStreamAdmitted`). At most 1024 bytes.
   */
  readonly selfUrl?: string;
  /** peers maps every other member to its peer address (`host:port` or `http(s)://host:port`). */
  readonly peers: ReadonlyMap<NodeId, string>;
  /** tls enables TLS (and, with client certificates, mutual TLS); plaintext without it. */
  readonly tls?: TlsOptions;
  readonly logger?: Logger;
  /** maxMessageBytes caps one batch on the wire. Default 4 MiB; match the receivers' limit. */
  readonly maxMessageBytes?: number;
  /** queueLimit caps the messages waiting for one peer. Default 4096. */
  readonly queueLimit?: number;
  /** queueByteLimit caps their approximate payload bytes. Default 64 MiB. */
  readonly queueByteLimit?: number;
  /**
   * backoff shapes reconnect delays, as `@raftkit/timer`'s `backoffDelay`: full jitter,
   * uniform in `[0, min(maxMs, baseMs × 2^attempt)]`. Default `baseMs` 50, `maxMs` 2 000.
   */
  readonly backoff?: Partial<BackoffOptions>;
  readonly keepalive?: KeepaliveOptions;
  /** handshakeTimeoutMs bounds how long a new stream may wait to be admitted. Default 5 s. */
  readonly handshakeTimeoutMs?: number;
  /** snapshotChunkBytes is the chunk size of snapshot transfers. Default 1 MiB. */
  readonly snapshotChunkBytes?: number;
  /** snapshotTimeoutMs bounds one snapshot transfer. Default 10 minutes. */
  readonly snapshotTimeoutMs?: number;
  /** onUnreachable is called when a peer's stream fails; wire it to `RaftNode.reportUnreachable`. */
  readonly onUnreachable?: (peerId: NodeId) => void;
  /** onSnapshotStatus reports each MsgSnap sent through `send`; wire it to `RaftNode.reportSnapshot`. */
  readonly onSnapshotStatus?: (peerId: NodeId, status: SnapshotStatus) => void;
  /**
   * onRemoved is called when a peer refuses this node because it was removed from the
   * cluster (the peer's RaftServer `markRemoved`); the node should stop.
   */
  readonly onRemoved?: (peerId: NodeId) => void;
  /**
   * clock runs the handshake and reconnect timeouts. Default `realClock`; pass a
   * `ManualClock` to drive them from a test.
   */
  readonly clock?: Clock;
}

/** TransportStats are a GrpcTransport's counters. */
export interface TransportStats {
  readonly peers: readonly PeerStats[];
  /** droppedUnknownPeer counts messages addressed to no known peer (or to ourselves). */
  readonly droppedUnknownPeer: number;
  /** droppedLocal counts local message kinds handed to `send` by mistake. */
  readonly droppedLocal: number;
  readonly snapshotsSent: number;
  readonly snapshotsFailed: number;
}

function positive(name: string, value: number): number {
  if (!(Number.isInteger(value) && value > 0)) {
    throw new RpcConfigError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}

function validNodeId(name: string, id: NodeId): NodeId {
  if (!(Number.isSafeInteger(id) && id > 0)) {
    throw new RpcConfigError(`${name} must be a positive safe integer, got ${id}`);
  }
  return id;
}

/**
 * GrpcTransport is core's `Transport` over gRPC: one long-lived `Raft.Stream` per peer,
 * the messages of one event-loop turn coalesced into one batch write per peer, a
 * bounded queue per peer (overflow is dropped and counted: Raft tolerates loss), and
 * reconnection with jittered exponential backoff. MsgSnap messages go through a
 * separate chunked `Raft.SendSnapshot` call on their own connection, so a large
 * snapshot never delays heartbeats. `send` never throws and never blocks.
 *
 * ```ts
 * const transport = new GrpcTransport({ clusterId, selfId: 1, peers, logger,
 *   onUnreachable: (id) => node.reportUnreachable(id),
 *   onSnapshotStatus: (id, status) => node.reportSnapshot(id, status) });
 * ```
 */
export class GrpcTransport implements Transport {
  private readonly selfId: NodeId;
  private readonly clusterId: bigint;
  private readonly logger: Logger;
  private readonly peers = new Map<NodeId, PeerStream>();
  private readonly addresses = new Map<NodeId, string>();
  private readonly snapshots = new Map<NodeId, AbortController>();
  private readonly credentials: grpc.ChannelCredentials;
  private readonly channelOptions: grpc.ChannelOptions;
  private readonly options: GrpcTransportOptions;
  private readonly clock: Clock;
  private readonly backoff: BackoffOptions;
  private readonly maxMessageBytes: number;
  private readonly snapshotChunkBytes: number;
  private closed = false;
  private droppedUnknownPeer = 0;
  private droppedLocal = 0;
  private snapshotsSent = 0;
  private snapshotsFailed = 0;

  constructor(options: GrpcTransportOptions) {
    this.options = options;
    this.clusterId = validClusterId(options.clusterId);
    this.selfId = validNodeId('selfId', options.selfId);
    this.logger = options.logger ?? SILENT_LOGGER;
    this.clock = options.clock ?? realClock;
    this.maxMessageBytes = positive(
      'maxMessageBytes',
      options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    );
    this.snapshotChunkBytes = positive(
      'snapshotChunkBytes',
      options.snapshotChunkBytes ?? DEFAULT_SNAPSHOT_CHUNK_BYTES,
    );
    // A chunk also carries its header (ids, offset, checksum, the MsgSnap envelope).
    if (this.snapshotChunkBytes + 64 * 1024 > this.maxMessageBytes) {
      throw new RpcConfigError(
        `snapshotChunkBytes (${this.snapshotChunkBytes}) must leave 64 KiB of room under maxMessageBytes (${this.maxMessageBytes})`,
      );
    }
    positive('queueLimit', options.queueLimit ?? 1);
    positive('queueByteLimit', options.queueByteLimit ?? 1);
    positive('handshakeTimeoutMs', options.handshakeTimeoutMs ?? 1);
    this.backoff = { baseMs: 50, maxMs: 2_000, ...options.backoff };
    positive('backoff.baseMs', this.backoff.baseMs);
    if (!(Number.isInteger(this.backoff.maxMs) && this.backoff.maxMs >= this.backoff.baseMs)) {
      throw new RpcConfigError(
        `backoff.maxMs must be an integer ≥ backoff.baseMs (${this.backoff.baseMs}), got ${this.backoff.maxMs}`,
      );
    }
    if (
      options.selfUrl !== undefined &&
      Buffer.byteLength(options.selfUrl, 'utf8') > MAX_PEER_URL_BYTES
    ) {
      throw new RpcConfigError(`selfUrl must be at most ${MAX_PEER_URL_BYTES} bytes`);
    }
    this.credentials = channelCredentials(options.tls);
    this.channelOptions = {
      ...keepaliveChannelOptions(options.keepalive),
      // Every peer gets its own connection: one slow or dead peer shares nothing.
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_send_message_length': this.maxMessageBytes,
      // Align grpc-js's own reconnect backoff with ours, or its longer default (1 s
      // growing to 120 s) would keep a restarted peer unreachable long after we retry.
      'grpc.initial_reconnect_backoff_ms': this.backoff.baseMs,
      'grpc.max_reconnect_backoff_ms': this.backoff.maxMs,
      ...(options.tls?.serverNameOverride !== undefined
        ? { 'grpc.ssl_target_name_override': options.tls.serverNameOverride }
        : {}),
    };
    for (const [peerId, address] of options.peers) this.addPeer(peerId, address);
  }

  /**
   * send queues each message for its recipient's stream and returns at once. Local
   * kinds, unknown recipients and overflow are dropped and counted, never thrown.
   * MsgSnap starts a snapshot transfer whose outcome goes to `onSnapshotStatus`.
   */
  send(messages: readonly Message[]): void {
    if (this.closed) return;
    for (const message of messages) {
      if (isLocalMessage(message.type)) {
        this.droppedLocal++;
        this.logger.warn('dropping a local message handed to the transport', {
          type: message.type,
        });
        continue;
      }
      if (message.type === 'MsgSnap') {
        this.sendSnapshotInBackground(message);
        continue;
      }
      const peer = this.peers.get(message.to);
      if (peer === undefined) {
        this.droppedUnknownPeer++;
        this.logger.debug('dropping a message to an unknown peer', {
          type: message.type,
          to: message.to,
        });
        continue;
      }
      peer.enqueue(message);
    }
  }

  /**
   * sendSnapshot transfers a MsgSnap to `message.to` in chunks and resolves once the
   * receiver verified it. One transfer per peer at a time; a second one rejects with
   * reason 'busy'. Rejects with SnapshotTransferError on any failure; retry by sending
   * the snapshot again, from the start.
   */
  async sendSnapshot(message: MsgSnap): Promise<SnapshotResponse> {
    if (this.closed) throw new SnapshotTransferError('closed', 'the transport is closed');
    const address = this.addresses.get(message.to);
    if (address === undefined) {
      throw new SnapshotTransferError('unknownPeer', `no address for node ${message.to}`);
    }
    if (this.snapshots.has(message.to)) {
      throw new SnapshotTransferError('busy', `a snapshot to node ${message.to} is in flight`);
    }
    const controller = new AbortController();
    this.snapshots.set(message.to, controller);
    // Its own channel, hence its own TCP connection: megabytes of snapshot never queue
    // ahead of heartbeats on the peer stream's connection.
    const client = new grpc.Client(address, this.credentials, this.channelOptions);
    const started = this.clock.now();
    try {
      const response = await sendSnapshotChunks(client, message, {
        clusterId: this.clusterId,
        chunkBytes: this.snapshotChunkBytes,
        timeoutMs: this.options.snapshotTimeoutMs ?? 10 * 60_000,
        signal: controller.signal,
      });
      this.snapshotsSent++;
      this.logger.info('snapshot sent', {
        peer: message.to,
        index: message.snapshot.metadata.index,
        bytes: message.snapshot.data.byteLength,
        ms: Math.round(this.clock.now() - started),
      });
      return response;
    } catch (error) {
      this.snapshotsFailed++;
      throw error;
    } finally {
      if (this.snapshots.get(message.to) === controller) this.snapshots.delete(message.to);
      client.close();
    }
  }

  /** addPeer starts streaming to a new member. Replaces the address of a known one. */
  addPeer(peerId: NodeId, address: string): void {
    if (this.closed) return;
    validNodeId('peerId', peerId);
    if (peerId === this.selfId) return; // a node never dials itself
    const target = toGrpcTarget(address);
    const existing = this.peers.get(peerId);
    this.addresses.set(peerId, target);
    if (existing !== undefined) {
      existing.updateAddress(target);
      return;
    }
    this.peers.set(
      peerId,
      new PeerStream(peerId, target, {
        clusterId: this.clusterId,
        selfId: this.selfId,
        ...(this.options.selfUrl !== undefined ? { selfUrl: this.options.selfUrl } : {}),
        credentials: this.credentials,
        channelOptions: this.channelOptions,
        maxMessageBytes: this.maxMessageBytes,
        queueLimit: this.options.queueLimit ?? 4096,
        queueByteLimit: this.options.queueByteLimit ?? 64 << 20,
        backoff: this.backoff,
        handshakeTimeoutMs: this.options.handshakeTimeoutMs ?? 5_000,
        clock: this.clock,
        logger: this.logger,
        onUnreachable: this.options.onUnreachable ?? (() => {}),
        ...(this.options.onRemoved !== undefined ? { onRemoved: this.options.onRemoved } : {}),
      }),
    );
  }

  /** updatePeer changes a member's address (redialling it); adds it if unknown. */
  updatePeer(peerId: NodeId, address: string): void {
    this.addPeer(peerId, address);
  }

  /** removePeer stops streaming to a member and cancels a snapshot transfer to it. */
  removePeer(peerId: NodeId): void {
    this.peers.get(peerId)?.close();
    this.peers.delete(peerId);
    this.addresses.delete(peerId);
    this.snapshots.get(peerId)?.abort();
  }

  /** hasPeer reports whether `peerId` is a known peer. */
  hasPeer(peerId: NodeId): boolean {
    return this.peers.has(peerId);
  }

  /** stats returns per-peer and transport-wide counters. */
  stats(): TransportStats {
    return {
      peers: [...this.peers.values()].map((peer) => peer.stats()),
      droppedUnknownPeer: this.droppedUnknownPeer,
      droppedLocal: this.droppedLocal,
      snapshotsSent: this.snapshotsSent,
      snapshotsFailed: this.snapshotsFailed,
    };
  }

  /** peerStats returns one peer's counters, or undefined for an unknown peer. */
  peerStats(peerId: NodeId): PeerStats | undefined {
    return this.peers.get(peerId)?.stats();
  }

  /**
   * close cancels every stream and snapshot transfer and closes every channel; queued
   * messages are dropped and later sends are ignored. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const controller of this.snapshots.values()) controller.abort();
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
    this.addresses.clear();
  }

  private sendSnapshotInBackground(message: MsgSnap): void {
    if (this.snapshots.has(message.to)) {
      // Core is already waiting for this transfer's report; a second copy adds nothing.
      this.logger.debug('snapshot already in flight; dropping the duplicate', {
        peer: message.to,
      });
      return;
    }
    this.sendSnapshot(message).then(
      () => this.reportSnapshot(message.to, 'finish'),
      (error: unknown) => {
        this.logger.warn('snapshot transfer failed', {
          peer: message.to,
          error: error instanceof Error ? error.message : String(error),
        });
        this.reportSnapshot(message.to, 'failure');
      },
    );
  }

  private reportSnapshot(peerId: NodeId, status: SnapshotStatus): void {
    if (this.closed) return;
    try {
      this.options.onSnapshotStatus?.(peerId, status);
    } catch (error) {
      this.logger.error('onSnapshotStatus threw', { peer: peerId, error: String(error) });
    }
  }
}
