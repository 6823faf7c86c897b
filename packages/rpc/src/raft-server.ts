import * as grpc from '@grpc/grpc-js';
import { type Logger, type MsgSnap, type NodeId, SILENT_LOGGER } from '@raftkit/core';
import { type Clock, MAX_TIMEOUT_MS, realClock } from '@raftkit/timer';
import { formatClusterId, validClusterId } from './cluster-id.js';
import {
  decodeBatch,
  decodeSnapshotChunk,
  encodeSnapshotResponse,
  encodeStreamAck,
  type PeerMessage,
} from './codec.js';
import { DecodeError, RpcConfigError, SnapshotRejectedError } from './errors.js';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  type KeepaliveOptions,
  keepaliveChannelOptions,
  RAFT_SERVICE,
  REMOVED_METADATA_KEY,
} from './grpc-service.js';
import { encodeMembersResponse, type PeerMembership } from './membership.js';
import { toGrpcTarget } from './peer-address.js';
import { SnapshotAssembler } from './snapshot-stream.js';
import { serverCredentials, type TlsOptions } from './tls.js';

/** RaftServerOptions configure a RaftServer. */
export interface RaftServerOptions {
  /** clusterId must match every sender's; other clusters are refused (FAILED_PRECONDITION). */
  readonly clusterId: bigint;
  /** selfId is this node's id; messages addressed to another node are dropped. */
  readonly selfId: NodeId;
  /** members are the node ids allowed to send; others are refused (PERMISSION_DENIED). */
  readonly members: Iterable<NodeId>;
  /**
   * admitNonMembers admits every sender of this cluster that was not removed
   * (`markRemoved`), members or not (etcd's pipeline handler takes such a sender's messages
   * too, and learns its peer URLs to answer it): a member cut off while
   * others were added must still hear a leader it does not know yet. Default false
   * (only `members`); `setAdmitNonMembers` changes it.
   */
  readonly admitNonMembers?: boolean;
  /**
   * onStreamAdmitted is called when a peer stream is admitted, with the sender's
   * announced peer URL (GrpcTransportOptions.selfUrl) if it sent one. A receiver that
   * has no address for the sender can dial it there. A throw is logged.
   */
  readonly onStreamAdmitted?: (id: NodeId, peerUrl: string | undefined) => void;
  /**
   * onMessage receives every admitted peer message, in arrival order per sender; wire
   * it to `RaftNode.step`. It must not block; a throw is logged and the stream goes on.
   */
  readonly onMessage: (message: PeerMessage) => void;
  /**
   * onSnapshot receives each complete, checksum-verified MsgSnap (never a partial one).
   * Defaults to `onMessage`.
   */
  readonly onSnapshot?: (message: MsgSnap) => void;
  readonly logger?: Logger;
  readonly tls?: TlsOptions;
  /** maxMessageBytes caps one received batch or chunk. Default 4 MiB. */
  readonly maxMessageBytes?: number;
  /** maxSnapshotBytes caps one received snapshot. Default 1 GiB. */
  readonly maxSnapshotBytes?: number;
  readonly keepalive?: KeepaliveOptions;
  /**
   * membership answers the Members rpc (a joining member asks it for the cluster id and
   * its own id). Without it, Members answers UNIMPLEMENTED.
   */
  readonly membership?: () => PeerMembership;
  /**
   * clock runs the forced-shutdown timeout of `close` and rate-limits refusal logs.
   * Default `realClock`; a `ManualClock` in tests.
   */
  readonly clock?: Clock;
}

/** RaftServerStats are a RaftServer's counters. */
export interface RaftServerStats {
  /** streams is the number of admitted peer streams open now. */
  readonly streams: number;
  /** batches counts received batches that carried messages (not the opening one). */
  readonly batches: number;
  readonly messages: number;
  /** droppedMessages counts messages addressed to another node or with a spoofed sender. */
  readonly droppedMessages: number;
  /** refusedStreams counts streams refused (wrong cluster, non-member, malformed). */
  readonly refusedStreams: number;
  readonly snapshotsReceived: number;
  readonly snapshotsRefused: number;
}

type StreamCall = grpc.ServerDuplexStream<Buffer, Buffer>;
type SnapshotCall = grpc.ServerReadableStream<Buffer, Buffer>;

interface Refusal {
  readonly code: grpc.status;
  readonly details: string;
  /** removed marks the refusal of a removed member (trailing metadata tells it so). */
  readonly removed?: boolean;
}

/**
 * RaftServer serves raft.proto's `Raft` service: it admits peer streams after checking
 * cluster id and membership, decodes batches and hands each message to `onMessage`, and
 * reassembles snapshot transfers, handing only verified ones to `onSnapshot`. Malformed
 * input is refused with a gRPC status and a logged reason; it never throws out of a
 * handler.
 *
 * ```ts
 * const server = await RaftServer.listen('0.0.0.0:2380', { clusterId, selfId: 1,
 *   members: [1, 2, 3], onMessage: (message) => node.step(message), logger });
 * ```
 */
export class RaftServer {
  private readonly members: Set<NodeId>;
  // Removed members are refused with a refusal that tells them they were removed.
  private readonly removed = new Set<NodeId>();
  private admitNonMembers = false;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly onSnapshot: (message: MsgSnap) => void;
  private readonly maxSnapshotBytes: number;
  // Admitted streams by sender, so that removing a member cuts its streams.
  private readonly streams = new Map<NodeId, Set<StreamCall>>();
  private closing = false;
  // Refusal reason → when it was last logged at warn level.
  private readonly refusalsLogged = new Map<string, number>();
  private batches = 0;
  private messages = 0;
  private droppedMessages = 0;
  private refusedStreams = 0;
  private snapshotsReceived = 0;
  private snapshotsRefused = 0;

  private constructor(
    private readonly server: grpc.Server,
    /** port is the TCP port the server is bound to (the real one when listening on port 0). */
    readonly port: number,
    private readonly options: RaftServerOptions,
  ) {
    this.members = new Set(options.members);
    this.admitNonMembers = options.admitNonMembers === true;
    this.logger = options.logger ?? SILENT_LOGGER;
    this.clock = options.clock ?? realClock;
    this.onSnapshot = options.onSnapshot ?? options.onMessage;
    this.maxSnapshotBytes = options.maxSnapshotBytes ?? 1 << 30;
  }

  /**
   * listen binds `address` (`host:port`, port 0 for any free port, or an
   * `http(s)://host:port` peer URL) and starts serving. Rejects if the address cannot be
   * bound or the TLS options are incomplete.
   */
  static async listen(address: string, options: RaftServerOptions): Promise<RaftServer> {
    validClusterId(options.clusterId);
    if (!(Number.isSafeInteger(options.selfId) && options.selfId > 0)) {
      throw new RpcConfigError(`selfId must be a positive safe integer, got ${options.selfId}`);
    }
    const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    const credentials = serverCredentials(options.tls);
    const server = new grpc.Server({
      ...keepaliveChannelOptions(options.keepalive),
      'grpc.max_receive_message_length': maxMessageBytes,
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(toGrpcTarget(address), credentials, (error, boundPort) => {
        if (error) reject(error);
        else resolve(boundPort);
      });
    });
    const raftServer = new RaftServer(server, port, options);
    server.addService(RAFT_SERVICE, {
      stream: (call: StreamCall) => raftServer.handleStream(call),
      sendSnapshot: (call: SnapshotCall, callback: grpc.sendUnaryData<Buffer>) =>
        raftServer.handleSnapshot(call, callback),
      members: (_call: unknown, callback: grpc.sendUnaryData<Buffer>) =>
        raftServer.handleMembers(callback),
    });
    raftServer.logger.info('raft peer server listening', {
      address,
      port,
      tls: options.tls !== undefined,
      clientCertAuth: options.tls?.clientCertAuth === true,
    });
    return raftServer;
  }

  /** addMember admits a node's future streams. */
  addMember(id: NodeId): void {
    this.members.add(id);
  }

  /** removeMember refuses a node's future streams and cuts its open ones. */
  removeMember(id: NodeId): void {
    this.members.delete(id);
    for (const call of this.streams.get(id) ?? []) {
      this.refuse(call, id, {
        code: grpc.status.PERMISSION_DENIED,
        details: `node ${id} was removed from the cluster`,
      });
    }
    this.streams.delete(id);
  }

  /**
   * markRemoved records that `id` was removed from the cluster: its streams are cut and
   * refused from now on with trailing metadata `raftkit-member-removed`, so that the
   * removed member learns it and stops (etcd answers such a member 410 Gone).
   */
  markRemoved(id: NodeId): void {
    this.removed.add(id);
    this.members.delete(id);
    for (const call of this.streams.get(id) ?? []) this.refuse(call, id, removedRefusal(id));
    this.streams.delete(id);
  }

  /**
   * setAdmitNonMembers makes the server admit streams from nodes outside the member set
   * (removed ones stay refused): a member whose own view of the membership is behind —
   * a new member restored from a snapshot taken before it and others were added — must
   * hear the leader it does not know yet, as etcd's pipeline handler does.
   */
  setAdmitNonMembers(admit: boolean): void {
    this.admitNonMembers = admit;
  }

  /** setMembers replaces the member set, cutting streams of nodes no longer in it. */
  setMembers(ids: Iterable<NodeId>): void {
    const next = new Set(ids);
    for (const id of [...this.members]) if (!next.has(id)) this.removeMember(id);
    for (const id of next) this.members.add(id);
  }

  /** isMember reports whether `id` may send to this server. */
  isMember(id: NodeId): boolean {
    return this.members.has(id);
  }

  /** stats returns the server's counters. */
  stats(): RaftServerStats {
    let streams = 0;
    for (const set of this.streams.values()) streams += set.size;
    return {
      streams,
      batches: this.batches,
      messages: this.messages,
      droppedMessages: this.droppedMessages,
      refusedStreams: this.refusedStreams,
      snapshotsReceived: this.snapshotsReceived,
      snapshotsRefused: this.snapshotsRefused,
    };
  }

  /**
   * close ends every peer stream with UNAVAILABLE (peers then back off and redial),
   * stops accepting, and waits up to `graceMs` for calls to finish before forcing the
   * rest. Idempotent.
   */
  async close(graceMs = 1_000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const [id, calls] of this.streams) {
      for (const call of calls) {
        this.endStream(call, {
          code: grpc.status.UNAVAILABLE,
          details: `node ${this.options.selfId} is shutting down`,
        });
      }
      this.streams.delete(id);
    }
    await new Promise<void>((resolve) => {
      // unref: the grace period alone must not keep the process alive.
      const force = this.clock.setTimeout(
        () => {
          this.server.forceShutdown();
          resolve();
        },
        // A Clock refuses delays past MAX_TIMEOUT_MS; close must still close.
        Math.min(graceMs, MAX_TIMEOUT_MS),
        { unref: true },
      );
      this.server.tryShutdown(() => {
        this.clock.clearTimeout(force);
        resolve();
      });
    });
  }

  private handleStream(call: StreamCall): void {
    if (this.closing) {
      this.endStream(call, { code: grpc.status.UNAVAILABLE, details: 'shutting down' });
      return;
    }
    const peer = call.getPeer();
    // Invariant: sender is undefined until the first batch passed the checks.
    let sender: NodeId | undefined;
    let done = false;
    const finish = (refusal: Refusal): void => {
      done = true;
      this.refusedStreams++;
      this.refuse(call, sender, refusal, peer);
    };
    call.on('data', (bytes: Buffer) => {
      if (done) return;
      let batch: ReturnType<typeof decodeBatch>;
      try {
        batch = decodeBatch(bytes);
      } catch (error) {
        finish({
          code: grpc.status.INVALID_ARGUMENT,
          details:
            error instanceof DecodeError ? error.message : `undecodable batch: ${String(error)}`,
        });
        return;
      }
      const refusal = this.admit(batch.clusterId, batch.from, sender);
      if (refusal !== undefined) {
        finish(refusal);
        return;
      }
      if (sender === undefined) {
        sender = batch.from;
        const calls = this.streams.get(sender) ?? new Set<StreamCall>();
        this.streams.set(sender, calls);
        calls.add(call);
        call.write(encodeStreamAck({ accepted: true, nodeId: this.options.selfId }));
        this.logger.info('peer stream admitted', {
          peer: sender,
          remote: peer,
          ...(this.members.has(sender) ? {} : { member: false, peerUrl: batch.peerUrl }),
        });
        try {
          this.options.onStreamAdmitted?.(sender, batch.peerUrl);
        } catch (error) {
          this.logger.error('onStreamAdmitted threw', {
            peer: sender,
            error: error instanceof Error ? error.message : String(error),
          });
        }
      }
      if (batch.messages.length > 0) this.batches++;
      for (const message of batch.messages) this.deliver(sender, message);
    });
    const forget = (): void => {
      done = true;
      if (sender !== undefined) this.streams.get(sender)?.delete(call);
    };
    call.on('end', () => {
      forget();
      call.end();
    });
    call.on('cancelled', forget);
    call.on('error', (error: Error) => {
      forget();
      this.logger.debug('peer stream error', { peer: sender, error: error.message });
    });
  }

  private deliver(sender: NodeId, message: PeerMessage): void {
    if (message.from !== sender) {
      this.droppedMessages++;
      this.logger.warn('dropping a message whose sender differs from its stream’s', {
        stream: sender,
        from: message.from,
        type: message.type,
      });
      return;
    }
    if (message.to !== this.options.selfId) {
      this.droppedMessages++;
      this.logger.warn('dropping a message addressed to another node', {
        from: sender,
        to: message.to,
        self: this.options.selfId,
        type: message.type,
      });
      return;
    }
    this.messages++;
    try {
      if (message.type === 'MsgSnap') this.onSnapshot(message);
      else this.options.onMessage(message);
    } catch (error) {
      this.logger.error('message handler threw', {
        from: sender,
        type: message.type,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  private handleSnapshot(call: SnapshotCall, callback: grpc.sendUnaryData<Buffer>): void {
    const peer = call.getPeer();
    const assembler = new SnapshotAssembler(this.maxSnapshotBytes);
    let complete: MsgSnap | undefined;
    let done = false;
    const refuse = (refusal: Refusal): void => {
      if (done) return;
      done = true;
      this.snapshotsRefused++;
      this.logger.warn('snapshot refused', {
        from: assembler.sender || undefined,
        remote: peer,
        code: grpc.status[refusal.code],
        reason: refusal.details,
      });
      callback({ code: refusal.code, details: refusal.details });
      // Stop reading: whatever else the sender pushes is discarded with the call.
      call.destroy();
    };
    call.on('data', (bytes: Buffer) => {
      if (done) return;
      try {
        const chunk = decodeSnapshotChunk(bytes);
        if (chunk.offset === 0 && chunk.message !== undefined) {
          const refusal = this.admit(chunk.clusterId, chunk.from, undefined);
          if (refusal !== undefined) return refuse(refusal);
          if (chunk.to !== this.options.selfId) {
            return refuse({
              code: grpc.status.FAILED_PRECONDITION,
              details: `snapshot is for node ${chunk.to}, this is node ${this.options.selfId}`,
            });
          }
        } else if (chunk.clusterId !== this.options.clusterId) {
          return refuse({ code: grpc.status.FAILED_PRECONDITION, details: 'cluster id changed' });
        }
        complete = assembler.add(chunk);
      } catch (error) {
        refuse(snapshotRefusal(error));
      }
    });
    call.on('end', () => {
      if (done) return;
      done = true;
      if (complete === undefined) {
        this.snapshotsRefused++;
        const details = `the transfer ended after ${assembler.bytesReceived} bytes, before its last chunk`;
        this.logger.warn('snapshot refused', {
          from: assembler.sender,
          remote: peer,
          reason: details,
        });
        callback({ code: grpc.status.DATA_LOSS, details });
        return;
      }
      this.snapshotsReceived++;
      this.logger.info('snapshot received', {
        from: complete.from,
        index: complete.snapshot.metadata.index,
        bytes: complete.snapshot.data.byteLength,
      });
      callback(null, encodeSnapshotResponse({ received: complete.snapshot.data.byteLength }));
      try {
        this.onSnapshot(complete);
      } catch (error) {
        this.logger.error('snapshot handler threw', {
          from: complete.from,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    });
    call.on('error', (error: Error) => {
      // A cancelled or broken transfer: its partial data dies with the assembler.
      done = true;
      this.logger.debug('snapshot stream error', { remote: peer, error: error.message });
    });
  }

  private admit(clusterId: bigint, from: NodeId, sender: NodeId | undefined): Refusal | undefined {
    if (clusterId !== this.options.clusterId) {
      return {
        code: grpc.status.FAILED_PRECONDITION,
        details: `cluster id mismatch: node ${from} belongs to cluster ${hex(clusterId)}, this node (${this.options.selfId}) to ${hex(this.options.clusterId)}; check --initial-cluster-token and --initial-cluster`,
      };
    }
    if (sender !== undefined && from !== sender) {
      return {
        code: grpc.status.INVALID_ARGUMENT,
        details: `stream sender changed from ${sender} to ${from}`,
      };
    }
    if (this.removed.has(from)) return removedRefusal(from);
    if (!this.members.has(from) && !this.admitNonMembers) {
      return {
        code: grpc.status.PERMISSION_DENIED,
        details: `node ${from} is not a member of cluster ${hex(this.options.clusterId)}`,
      };
    }
    return undefined;
  }

  private refuse(
    call: StreamCall,
    sender: NodeId | undefined,
    refusal: Refusal,
    remote?: string,
  ): void {
    const fields = {
      peer: sender,
      remote: remote ?? safePeer(call),
      code: grpc.status[refusal.code],
      reason: refusal.details,
    };
    // A refused peer redials every few seconds; say why once a minute, not every time.
    const now = this.clock.now();
    const last = this.refusalsLogged.get(refusal.details);
    if (last === undefined || now - last > 60_000) {
      if (this.refusalsLogged.size > 1000) this.refusalsLogged.clear();
      this.refusalsLogged.set(refusal.details, now);
      this.logger.warn('peer stream refused', fields);
    } else {
      this.logger.debug('peer stream refused again', fields);
    }
    this.endStream(call, refusal);
  }

  private handleMembers(callback: grpc.sendUnaryData<Buffer>): void {
    const membership = this.options.membership;
    if (membership === undefined) {
      callback({
        code: grpc.status.UNIMPLEMENTED,
        details: 'this member does not serve its membership',
      } as grpc.ServiceError);
      return;
    }
    try {
      callback(null, encodeMembersResponse(membership()));
    } catch (error) {
      callback({ code: grpc.status.INTERNAL, details: String(error) } as grpc.ServiceError);
    }
  }

  private endStream(call: StreamCall, refusal: Refusal): void {
    // grpc-js turns an 'error' event on a server stream into the call's status (and its
    // `metadata` into the trailers).
    const metadata = new grpc.Metadata();
    if (refusal.removed === true) metadata.set(REMOVED_METADATA_KEY, 'true');
    const error = Object.assign(new Error(refusal.details), {
      code: refusal.code,
      details: refusal.details,
      metadata,
    });
    call.emit('error', error);
  }
}

function removedRefusal(id: NodeId): Refusal {
  return {
    code: grpc.status.PERMISSION_DENIED,
    details: `node ${id} has been permanently removed from the cluster`,
    removed: true,
  };
}

function snapshotRefusal(error: unknown): Refusal {
  if (error instanceof SnapshotRejectedError) {
    const code =
      error.reason === 'tooLarge'
        ? grpc.status.RESOURCE_EXHAUSTED
        : error.reason === 'checksumMismatch'
          ? grpc.status.DATA_LOSS
          : grpc.status.INVALID_ARGUMENT;
    return { code, details: error.message };
  }
  return {
    code: grpc.status.INVALID_ARGUMENT,
    details: error instanceof Error ? error.message : String(error),
  };
}

function hex(id: bigint): string {
  return formatClusterId(id);
}

function safePeer(call: StreamCall): string {
  try {
    return call.getPeer();
  } catch {
    return 'unknown';
  }
}
