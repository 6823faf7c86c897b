import { createHash, type Hash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { EMPTY_DATA, type MsgSnap, type NodeId } from '@raftkit/core';
import {
  decodeSnapshotResponse,
  encodeSnapshotChunk,
  type SnapshotChunk,
  type SnapshotResponse,
} from './codec.js';
import { SnapshotRejectedError, SnapshotTransferError } from './errors.js';
import { SEND_SNAPSHOT_PATH, serializeRaw } from './grpc-service.js';

// Snapshot transfer (raft.proto SendSnapshot): the sender splits the data into chunks
// with a running SHA-256 and puts the digest on the last chunk; the receiver copies
// chunks into one buffer, checks order, size and digest, and only then hands the
// MsgSnap on. A transfer is restartable, not resumable: any failure discards the
// partial data on the receiver, and the leader's next MsgSnap starts again at offset 0.
// For Raft this is the right trade: a snapshot that took long enough to fail is likely
// stale by the time it could be resumed.

/** DEFAULT_SNAPSHOT_CHUNK_BYTES is the default chunk size of a snapshot transfer (1 MiB). */
export const DEFAULT_SNAPSHOT_CHUNK_BYTES = 1 << 20;

/** SnapshotSendOptions are what `sendSnapshotChunks` needs besides the client and message. */
export interface SnapshotSendOptions {
  readonly clusterId: bigint;
  readonly chunkBytes: number;
  readonly timeoutMs: number;
  /** signal cancels the transfer (transport closing, peer removed). */
  readonly signal?: AbortSignal;
}

const REFUSAL_CODES = new Set<number>([
  grpc.status.FAILED_PRECONDITION,
  grpc.status.PERMISSION_DENIED,
  grpc.status.INVALID_ARGUMENT,
  grpc.status.DATA_LOSS,
  grpc.status.UNAUTHENTICATED,
]);

function transferError(error: grpc.ServiceError, signal: AbortSignal | undefined) {
  const detail = `${grpc.status[error.code] ?? error.code}: ${error.details || error.message}`;
  if (signal?.aborted === true) return new SnapshotTransferError('closed', detail);
  if (error.code === grpc.status.RESOURCE_EXHAUSTED) {
    return new SnapshotTransferError('tooLarge', detail);
  }
  if (REFUSAL_CODES.has(error.code)) return new SnapshotTransferError('rejected', detail);
  return new SnapshotTransferError('unreachable', detail);
}

/**
 * sendSnapshotChunks streams `message`'s snapshot to its recipient through `client` in
 * chunks of `chunkBytes`, honouring the stream's backpressure, and resolves with the
 * receiver's answer once it verified the whole snapshot. Rejects with
 * SnapshotTransferError otherwise.
 */
export function sendSnapshotChunks(
  client: grpc.Client,
  message: MsgSnap,
  options: SnapshotSendOptions,
): Promise<SnapshotResponse> {
  const { signal } = options;
  return new Promise<SnapshotResponse>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(new SnapshotTransferError('closed', 'the transport is closed'));
      return;
    }
    const call = client.makeClientStreamRequest<Buffer, Buffer>(
      SEND_SNAPSHOT_PATH,
      serializeRaw,
      serializeRaw,
      new grpc.Metadata(),
      { deadline: Date.now() + options.timeoutMs },
      (error, response) => {
        signal?.removeEventListener('abort', abort);
        if (error) {
          reject(transferError(error, signal));
          return;
        }
        try {
          resolve(decodeSnapshotResponse(response ?? EMPTY_DATA));
        } catch (decodeError) {
          reject(new SnapshotTransferError('rejected', String(decodeError)));
        }
      },
    );
    const abort = (): void => call.cancel();
    signal?.addEventListener('abort', abort, { once: true });

    const data = message.snapshot.data;
    const totalSize = data.byteLength;
    const hash = createHash('sha256');
    let offset = 0;
    const pump = (): void => {
      try {
        for (;;) {
          const end = Math.min(totalSize, offset + options.chunkBytes);
          const piece = data.subarray(offset, end);
          hash.update(piece);
          const last = end === totalSize;
          const chunk: SnapshotChunk = {
            clusterId: options.clusterId,
            from: message.from,
            to: message.to,
            totalSize,
            offset,
            data: piece,
            checksum: last ? hash.digest() : EMPTY_DATA,
            ...(offset === 0 ? { message } : {}),
          };
          offset = end;
          const writable = call.write(encodeSnapshotChunk(chunk));
          if (last) {
            call.end();
            return;
          }
          if (!writable) {
            call.once('drain', pump);
            return;
          }
        }
      } catch (error) {
        // An unencodable header (a bug upstream) must not escape a 'drain' handler.
        call.cancel();
        reject(
          new SnapshotTransferError(
            'rejected',
            error instanceof Error ? error.message : String(error),
          ),
        );
      }
    };
    pump();
  });
}

/**
 * SnapshotAssembler is the receiving side of one transfer: it checks each chunk against
 * the header (order, size limit, sender) and returns the complete MsgSnap only after the
 * last chunk's SHA-256 matched. It throws SnapshotRejectedError at the first problem;
 * the caller then drops it and everything received so far.
 */
export class SnapshotAssembler {
  private header: MsgSnap | undefined;
  private from: NodeId = 0;
  private buffer: Buffer = Buffer.alloc(0);
  private readonly hash: Hash = createHash('sha256');
  // Invariant: received bytes [0, received) of the snapshot are in `buffer`, in order.
  private received = 0;
  private complete: MsgSnap | undefined;

  constructor(private readonly maxBytes: number) {}

  /** bytesReceived is how much of the snapshot data has arrived so far. */
  get bytesReceived(): number {
    return this.received;
  }

  /** sender is the node sending the snapshot, once the first chunk arrived (else 0). */
  get sender(): NodeId {
    return this.from;
  }

  /**
   * add takes the next chunk. It returns the verified MsgSnap when `chunk` was the last
   * one, undefined while more are due.
   */
  add(chunk: SnapshotChunk): MsgSnap | undefined {
    if (this.complete !== undefined) {
      throw new SnapshotRejectedError('outOfOrder', 'chunk after the last one');
    }
    if (this.header === undefined) this.start(chunk);
    const header = this.header!;
    if (chunk.from !== this.from || chunk.to !== header.to) {
      throw new SnapshotRejectedError('malformed', 'sender or recipient changed mid-transfer');
    }
    if (chunk.offset !== this.received) {
      throw new SnapshotRejectedError(
        'outOfOrder',
        `chunk at offset ${chunk.offset}, expected ${this.received}`,
      );
    }
    const end = this.received + chunk.data.byteLength;
    if (end > this.buffer.byteLength) {
      throw new SnapshotRejectedError(
        'malformed',
        `chunk ends at ${end}, past the announced size ${this.buffer.byteLength}`,
      );
    }
    this.buffer.set(chunk.data, this.received);
    this.hash.update(chunk.data);
    this.received = end;
    if (end < this.buffer.byteLength) {
      if (chunk.checksum.byteLength > 0) {
        throw new SnapshotRejectedError('malformed', 'checksum before the last chunk');
      }
      return undefined;
    }
    const digest = this.hash.digest();
    if (chunk.checksum.byteLength === 0) {
      throw new SnapshotRejectedError('malformed', 'the last chunk has no checksum');
    }
    if (!digest.equals(chunk.checksum)) {
      throw new SnapshotRejectedError(
        'checksumMismatch',
        `SHA-256 of the ${end} bytes received does not match the sender's`,
      );
    }
    this.complete = {
      ...header,
      snapshot: {
        metadata: header.snapshot.metadata,
        data: new Uint8Array(this.buffer.buffer, this.buffer.byteOffset, end),
      },
    };
    return this.complete;
  }

  private start(chunk: SnapshotChunk): void {
    if (chunk.offset !== 0 || chunk.message === undefined) {
      throw new SnapshotRejectedError('malformed', 'the first chunk carries no MsgSnap header');
    }
    if (chunk.totalSize > this.maxBytes) {
      throw new SnapshotRejectedError(
        'tooLarge',
        `${chunk.totalSize} bytes exceed this node's limit of ${this.maxBytes}`,
      );
    }
    if (chunk.message.from !== chunk.from || chunk.message.to !== chunk.to) {
      throw new SnapshotRejectedError(
        'malformed',
        'header message names other nodes than the chunk',
      );
    }
    this.header = chunk.message;
    this.from = chunk.from;
    // The announced size is bounded by maxBytes, so allocating it up front is safe, and
    // one buffer avoids a concatenation copy at the end.
    this.buffer = Buffer.allocUnsafe(chunk.totalSize);
  }
}
