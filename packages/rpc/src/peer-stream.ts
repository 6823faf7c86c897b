import * as grpc from '@grpc/grpc-js';
import type { Logger, Message, NodeId } from '@raftkit/core';
import { type BackoffOptions, backoffDelay, type Clock, type TimerHandle } from '@raftkit/timer';
import { BatchWriter, decodeStreamAck, encodeBatch } from './codec.js';
import { REMOVED_METADATA_KEY, STREAM_PATH, serializeRaw } from './grpc-service.js';

/**
 * PeerState is where a peer stream stands: `connecting` (stream opened, waiting for the
 * receiver to admit us; messages queue), `ready` (messages flow), `backoff` (the last
 * attempt failed; messages are dropped until the next attempt), `closed`.
 */
export type PeerState = 'connecting' | 'ready' | 'backoff' | 'closed';

/** PeerStats are a peer stream's counters, for metrics and tests. */
export interface PeerStats {
  readonly peerId: NodeId;
  readonly address: string;
  readonly state: PeerState;
  /** queued is the number of messages waiting to be written. */
  readonly queued: number;
  /** queuedBytes approximates their payload size. */
  readonly queuedBytes: number;
  readonly sentMessages: number;
  readonly sentBatches: number;
  readonly sentBytes: number;
  /** dropped is the sum of the dropped* counters. */
  readonly dropped: number;
  /** droppedQueueFull counts messages refused because the queue was at its limit. */
  readonly droppedQueueFull: number;
  /** droppedUnreachable counts messages dropped because the stream was down. */
  readonly droppedUnreachable: number;
  /** droppedInvalid counts messages that could not be encoded or exceeded maxMessageBytes. */
  readonly droppedInvalid: number;
  /** connects counts streams the peer admitted. */
  readonly connects: number;
  /** failures counts attempts and streams that failed. */
  readonly failures: number;
  readonly lastError: string | undefined;
}

/** PeerStreamConfig is what a PeerStream shares with its transport. */
export interface PeerStreamConfig {
  readonly clusterId: bigint;
  readonly selfId: NodeId;
  /** selfUrl is announced on each stream's opening batch (see GrpcTransportOptions.selfUrl). */
  readonly selfUrl?: string;
  readonly credentials: grpc.ChannelCredentials;
  readonly channelOptions: grpc.ChannelOptions;
  readonly maxMessageBytes: number;
  readonly queueLimit: number;
  readonly queueByteLimit: number;
  /** backoff shapes the delay before each redial (`backoffDelay`, full jitter). */
  readonly backoff: BackoffOptions;
  readonly handshakeTimeoutMs: number;
  /** clock runs the handshake and retry timeouts; a ManualClock in tests. */
  readonly clock: Clock;
  readonly logger: Logger;
  readonly onUnreachable: (peerId: NodeId) => void;
  /** onRemoved is called when the peer refuses us because we were removed from the cluster. */
  readonly onRemoved?: (peerId: NodeId) => void;
}

// Per-message overhead in the queue's byte estimate: the envelope's fixed fields.
const MESSAGE_OVERHEAD_BYTES = 48;
const ENTRY_OVERHEAD_BYTES = 24;

function approximateBytes(message: Message): number {
  let size = MESSAGE_OVERHEAD_BYTES;
  switch (message.type) {
    case 'MsgApp':
    case 'MsgProp':
      for (const entry of message.entries) size += entry.data.byteLength + ENTRY_OVERHEAD_BYTES;
      break;
    case 'MsgHeartbeat':
    case 'MsgHeartbeatResp':
    case 'MsgReadIndex':
    case 'MsgReadIndexResp':
      size += message.context.byteLength;
      break;
    default:
      break;
  }
  return size;
}

const REFUSAL_CODES = new Set<number>([
  grpc.status.FAILED_PRECONDITION,
  grpc.status.PERMISSION_DENIED,
  grpc.status.INVALID_ARGUMENT,
  grpc.status.UNAUTHENTICATED,
]);

/**
 * PeerStream owns the one long-lived `Raft.Stream` call to one peer: a bounded queue,
 * one write per event-loop turn, and reconnection with jittered backoff.
 *
 * Lifecycle: connecting → (receiver's StreamAck) → ready → (error/end) → backoff →
 * (timer) → connecting … ; close() from any state. Only `ready` writes; `connecting`
 * queues (bounded) so that the first votes of a starting cluster are not lost; `backoff`
 * drops at once, because a Raft message delayed by a whole backoff is stale, and the
 * node has been told the peer is unreachable, so it will probe and resend.
 */
export class PeerStream {
  readonly peerId: NodeId;
  private address: string;
  private client: grpc.Client;
  private call: grpc.ClientDuplexStream<Buffer, Buffer> | undefined;
  private state: PeerState = 'connecting';
  // Invariant: queue[head..] are the waiting messages, sizes[i] their estimates, and
  // queuedBytes their sum; queue.length - head <= queueLimit.
  private queue: (Message | undefined)[] = [];
  private sizes: number[] = [];
  private head = 0;
  private queuedBytes = 0;
  // False after call.write() asked us to wait for 'drain' (HTTP/2 flow control).
  private writable = true;
  private flushScheduled: NodeJS.Immediate | undefined;
  private retryTimer: TimerHandle | undefined;
  private handshakeTimer: TimerHandle | undefined;
  // Invariant: failed attempts since the peer last admitted a stream (or the address
  // changed); the next redial waits `backoffDelay(attempt)`.
  private attempt = 0;
  private readonly batch: BatchWriter;
  private sentMessages = 0;
  private sentBatches = 0;
  private sentBytes = 0;
  private droppedQueueFull = 0;
  private droppedUnreachable = 0;
  private droppedInvalid = 0;
  private connects = 0;
  private failures = 0;
  private lastError: string | undefined;

  constructor(
    peerId: NodeId,
    address: string,
    private readonly config: PeerStreamConfig,
  ) {
    this.peerId = peerId;
    this.address = address;
    this.batch = new BatchWriter(config.clusterId, config.selfId, config.maxMessageBytes);
    this.client = this.newClient();
    this.connect();
  }

  /** enqueue queues `message` for the next write, or drops and counts it. */
  enqueue(message: Message): void {
    if (this.state === 'backoff') {
      this.droppedUnreachable++;
      return;
    }
    if (this.state === 'closed') return;
    const size = approximateBytes(message);
    if (
      this.queue.length - this.head >= this.config.queueLimit ||
      this.queuedBytes + size > this.config.queueByteLimit
    ) {
      if (this.droppedQueueFull === 0 || this.droppedQueueFull % 1000 === 0) {
        this.config.logger.warn('peer queue full; dropping messages', {
          peer: this.peerId,
          queued: this.queue.length - this.head,
          dropped: this.droppedQueueFull + 1,
        });
      }
      this.droppedQueueFull++;
      return;
    }
    this.queue.push(message);
    this.sizes.push(size);
    this.queuedBytes += size;
    this.scheduleFlush();
  }

  /** updateAddress redials the peer at a new address, dropping the current stream. */
  updateAddress(address: string): void {
    if (address === this.address || this.state === 'closed') return;
    this.config.logger.info('peer address changed; redialling', {
      peer: this.peerId,
      from: this.address,
      to: address,
    });
    this.address = address;
    this.detachCall();
    this.clearTimers();
    this.client.close();
    this.client = this.newClient();
    this.attempt = 0;
    this.connect();
  }

  /** stats returns this stream's counters. */
  stats(): PeerStats {
    return {
      peerId: this.peerId,
      address: this.address,
      state: this.state,
      queued: this.queue.length - this.head,
      queuedBytes: this.queuedBytes,
      sentMessages: this.sentMessages,
      sentBatches: this.sentBatches,
      sentBytes: this.sentBytes,
      dropped: this.droppedQueueFull + this.droppedUnreachable + this.droppedInvalid,
      droppedQueueFull: this.droppedQueueFull,
      droppedUnreachable: this.droppedUnreachable,
      droppedInvalid: this.droppedInvalid,
      connects: this.connects,
      failures: this.failures,
      lastError: this.lastError,
    };
  }

  /** close cancels the stream, drops the queue and closes the channel. Idempotent. */
  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.clearTimers();
    this.detachCall();
    this.clearQueue();
    this.client.close();
  }

  private newClient(): grpc.Client {
    return new grpc.Client(this.address, this.config.credentials, this.config.channelOptions);
  }

  private connect(): void {
    this.state = 'connecting';
    this.writable = true;
    const call = this.client.makeBidiStreamRequest<Buffer, Buffer>(
      STREAM_PATH,
      serializeRaw,
      serializeRaw,
      new grpc.Metadata(),
      {},
    );
    this.call = call;
    call.on('data', (bytes: Buffer) => this.handleAck(call, bytes));
    call.on('error', (error: grpc.ServiceError) => this.handleFailure(call, error));
    call.on('end', () => this.handleFailure(call, undefined));
    call.on('drain', () => {
      if (this.call !== call) return;
      this.writable = true;
      this.scheduleFlush();
    });
    // The opening batch carries no messages, only who we are (and where to answer us): the receiver checks
    // cluster id and membership and answers with a StreamAck before anything flows.
    call.write(
      encodeBatch({
        clusterId: this.config.clusterId,
        from: this.config.selfId,
        messages: [],
        ...(this.config.selfUrl !== undefined ? { peerUrl: this.config.selfUrl } : {}),
      }),
    );
    // unref: a pending handshake must not keep the process alive on its own.
    this.handshakeTimer = this.config.clock.setTimeout(
      () => {
        this.handshakeTimer = undefined;
        this.handleFailure(
          call,
          new Error(`no answer within ${this.config.handshakeTimeoutMs} ms`),
        );
      },
      this.config.handshakeTimeoutMs,
      { unref: true },
    );
  }

  private handleAck(call: grpc.ClientDuplexStream<Buffer, Buffer>, bytes: Buffer): void {
    if (this.call !== call || this.state !== 'connecting') return;
    let problem: string | undefined;
    try {
      const ack = decodeStreamAck(bytes);
      if (!ack.accepted) problem = 'the peer did not accept the stream';
      else if (ack.nodeId !== this.peerId) {
        problem = `the node at ${this.address} is ${ack.nodeId}, not ${this.peerId}; check the peer addresses`;
      }
    } catch (error) {
      problem = error instanceof Error ? error.message : String(error);
    }
    if (problem !== undefined) {
      this.handleFailure(call, new Error(problem));
      return;
    }
    if (this.handshakeTimer !== undefined) this.config.clock.clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.state = 'ready';
    this.connects++;
    this.attempt = 0;
    this.config.logger.info('peer stream connected', {
      peer: this.peerId,
      address: this.address,
      afterFailures: this.lastError === undefined ? 0 : this.failures,
    });
    this.lastError = undefined;
    this.scheduleFlush();
  }

  private handleFailure(
    call: grpc.ClientDuplexStream<Buffer, Buffer>,
    error: (Error & { code?: number; details?: string; metadata?: grpc.Metadata }) | undefined,
  ): void {
    if (this.call !== call || this.state === 'closed') return;
    if (error?.metadata?.get(REMOVED_METADATA_KEY)[0] === 'true') {
      try {
        this.config.onRemoved?.(this.peerId);
      } catch (callbackError) {
        this.config.logger.error('onRemoved threw', { error: String(callbackError) });
      }
    }
    const wasReady = this.state === 'ready';
    this.detachCall();
    this.clearTimers();
    const code = error?.code;
    const reason =
      error === undefined
        ? 'the peer closed the stream'
        : code !== undefined
          ? `${grpc.status[code] ?? code}: ${error.details || error.message}`
          : error.message;
    const repeated = reason === this.lastError;
    this.failures++;
    this.lastError = reason;
    const fields = { peer: this.peerId, address: this.address, reason };
    // A refusal (wrong cluster, not a member, bad certificate) needs an operator, so it
    // is logged as an error — once per distinct reason, not on every retry.
    if (code !== undefined && REFUSAL_CODES.has(code)) {
      if (!repeated) this.config.logger.error('peer refused our stream', fields);
    } else if (wasReady || !repeated) {
      this.config.logger.warn('peer stream failed', fields);
    } else {
      this.config.logger.debug('peer stream failed again', fields);
    }
    this.droppedUnreachable += this.queue.length - this.head;
    this.clearQueue();
    this.state = 'backoff';
    const delay = backoffDelay(this.attempt, this.config.backoff);
    this.attempt++;
    // unref: a peer we keep redialling must not keep the process alive on its own.
    this.retryTimer = this.config.clock.setTimeout(
      () => {
        this.retryTimer = undefined;
        if (this.state === 'backoff') this.connect();
      },
      delay,
      { unref: true },
    );
    try {
      this.config.onUnreachable(this.peerId);
    } catch (callbackError) {
      this.config.logger.error('onUnreachable threw', {
        peer: this.peerId,
        error: String(callbackError),
      });
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled !== undefined || this.state !== 'ready') return;
    // setImmediate, not a microtask: every send() of this event-loop turn lands in the
    // queue first, so a turn's messages to this peer become one write.
    this.flushScheduled = setImmediate(() => {
      this.flushScheduled = undefined;
      this.flush();
    });
  }

  private flush(): void {
    const call = this.call;
    if (this.state !== 'ready' || call === undefined) return;
    while (this.writable && this.head < this.queue.length) {
      while (this.head < this.queue.length) {
        const message = this.queue[this.head]!;
        let result: ReturnType<BatchWriter['add']>;
        try {
          result = this.batch.add(message);
        } catch (error) {
          this.droppedInvalid++;
          this.config.logger.error('dropping a message that cannot be encoded', {
            peer: this.peerId,
            type: message.type,
            error: error instanceof Error ? error.message : String(error),
          });
          this.shift();
          continue;
        }
        if (result === 'full') break;
        if (result === 'tooLarge') {
          this.droppedInvalid++;
          this.config.logger.warn('dropping a message larger than maxMessageBytes', {
            peer: this.peerId,
            type: message.type,
            maxMessageBytes: this.config.maxMessageBytes,
          });
        }
        this.shift();
      }
      const count = this.batch.count;
      if (count === 0) break;
      const bytes = this.batch.finish();
      this.sentMessages += count;
      this.sentBatches++;
      this.sentBytes += bytes.byteLength;
      this.writable = call.write(bytes);
    }
    if (this.head === this.queue.length) this.clearQueue();
    else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      // Compact now and then, so a queue that never empties does not grow its array.
      this.queue = this.queue.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }

  private shift(): void {
    this.queuedBytes -= this.sizes[this.head]!;
    this.queue[this.head] = undefined; // release the message for GC
    this.head++;
  }

  private clearQueue(): void {
    this.queue = [];
    this.sizes = [];
    this.head = 0;
    this.queuedBytes = 0;
  }

  private detachCall(): void {
    const call = this.call;
    if (call === undefined) return;
    this.call = undefined;
    call.removeAllListeners();
    // grpc-js may still emit 'error' (CANCELLED) after cancel(); an EventEmitter with no
    // 'error' listener would throw it.
    call.on('error', () => {});
    call.cancel();
  }

  private clearTimers(): void {
    if (this.retryTimer !== undefined) this.config.clock.clearTimeout(this.retryTimer);
    if (this.handshakeTimer !== undefined) this.config.clock.clearTimeout(this.handshakeTimer);
    if (this.flushScheduled !== undefined) clearImmediate(this.flushScheduled);
    this.retryTimer = undefined;
    this.handshakeTimer = undefined;
    this.flushScheduled = undefined;
  }
}
