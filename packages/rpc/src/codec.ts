import type { Message, MsgSnap, NodeId } from '@raftkit/core';
import { EMPTY_DATA } from '@raftkit/core';
import type { Writer } from 'protobufjs/minimal.js';
import protobuf from 'protobufjs/minimal.js';
import { DecodeError, EncodeError } from './errors.js';
import { type PeerMessage, readMessage, writeMessageBody } from './message-codec.js';
import {
  decoding,
  finishShared,
  LENGTH_DELIMITED,
  newReader,
  readBigUint,
  readBool,
  readBytes,
  readEnd,
  readNumber,
  sharedWriter,
  skipField,
  tag,
  VARINT,
  writeBigUint,
  writeBool,
  writeBytes,
  writeNodeId,
  writeUint,
} from './wire-format.js';

export {
  isPeerMessage,
  type LocalMessageType,
  type PeerMessage,
  type PeerMessageType,
} from './message-codec.js';
export { MAX_CLUSTER_ID } from './wire-format.js';

// The public codec: one-shot encode/decode of peer messages, and the envelopes the
// Raft service exchanges (MessageBatch, StreamAck, SnapshotChunk, SnapshotResponse).

const { Writer: WriterClass } = protobuf;

/** MessageBatch is a decoded Stream write: the sender, its cluster, and its messages. */
export interface MessageBatch {
  readonly clusterId: bigint;
  readonly from: NodeId;
  readonly messages: readonly PeerMessage[];
  /**
   * peerUrl is the sender's own peer URL, announced on a stream's opening batch so that a
   * receiver that does not know the sender yet (its view of the membership is behind)
   * can answer it. Absent on the other batches.
   */
  readonly peerUrl?: string;
}

/** StreamAck is the receiver's answer on a Stream: it admitted the sender. */
export interface StreamAck {
  readonly accepted: boolean;
  /** Receiver's node id, so a sender that dialled the wrong address can tell. */
  readonly nodeId: NodeId;
}

/**
 * SnapshotChunk is one piece of a snapshot transfer (see raft.proto). `message` is set on
 * the first chunk only (offset 0) and its snapshot carries metadata with empty data;
 * `checksum` (SHA-256 of the whole data) is set on the last chunk only.
 */
export interface SnapshotChunk {
  readonly clusterId: bigint;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly message?: MsgSnap;
  readonly totalSize: number;
  readonly offset: number;
  readonly data: Uint8Array;
  readonly checksum: Uint8Array;
}

/** SnapshotResponse answers a complete, verified snapshot transfer. */
export interface SnapshotResponse {
  /** Bytes received and verified. */
  readonly received: number;
}

const BATCH_CLUSTER_ID = tag(1, VARINT);
const BATCH_FROM = tag(2, VARINT);
const BATCH_MESSAGES = tag(3, LENGTH_DELIMITED);
const BATCH_PEER_URL = tag(4, LENGTH_DELIMITED);
const BATCH_FIELDS = 4;
/** MAX_PEER_URL_BYTES bounds an announced peer URL; a longer one is malformed. */
export const MAX_PEER_URL_BYTES = 1024;

const ACK_ACCEPTED = tag(1, VARINT);
const ACK_NODE_ID = tag(2, VARINT);
const ACK_FIELDS = 2;

const CHUNK_CLUSTER_ID = tag(1, VARINT);
const CHUNK_FROM = tag(2, VARINT);
const CHUNK_TO = tag(3, VARINT);
const CHUNK_MESSAGE = tag(4, LENGTH_DELIMITED);
const CHUNK_TOTAL_SIZE = tag(5, VARINT);
const CHUNK_OFFSET = tag(6, VARINT);
const CHUNK_DATA = tag(7, LENGTH_DELIMITED);
const CHUNK_CHECKSUM = tag(8, LENGTH_DELIMITED);
const CHUNK_FIELDS = 8;

const RESPONSE_RECEIVED = tag(1, VARINT);
const RESPONSE_FIELDS = 1;

/**
 * encodeMessage serializes one peer message as a raft.proto `Message`. Throws
 * EncodeError for a local kind or a number that is not a non-negative safe integer.
 */
export function encodeMessage(message: Message): Buffer {
  const writer = sharedWriter;
  writer.pos = 0;
  try {
    writeMessageBody(writer, message, true);
  } catch (error) {
    writer.pos = 0;
    writer.states = null;
    throw error;
  }
  return finishShared(writer);
}

/** BatchAddResult says what `BatchWriter.add` did with a message. */
export type BatchAddResult = 'added' | 'full' | 'tooLarge';

/**
 * BatchWriter builds `MessageBatch` bytes for one (cluster, sender) pair, message by
 * message, never exceeding `maxBytes`. It reuses its buffer between batches, so a peer
 * stream keeps one and allocates only the finished bytes.
 */
export class BatchWriter {
  private readonly writer: Writer = WriterClass.create();
  private readonly headerEnd: number;
  private added = 0;

  constructor(
    clusterId: bigint,
    from: NodeId,
    readonly maxBytes: number,
  ) {
    writeBigUint(this.writer, BATCH_CLUSTER_ID, clusterId, 'clusterId');
    writeNodeId(this.writer, BATCH_FROM, from, 'from');
    this.headerEnd = this.writer.pos;
  }

  /** count is the number of messages in the batch being built. */
  get count(): number {
    return this.added;
  }

  /** byteLength is the size of the batch being built. */
  get byteLength(): number {
    return this.writer.pos;
  }

  /**
   * add appends `message` unless that would make the batch exceed `maxBytes`: then it
   * returns 'full' (finish and retry) or, when even an empty batch cannot hold it,
   * 'tooLarge' (drop it). Throws EncodeError for an unencodable message, leaving the
   * batch as it was.
   */
  add(message: Message): BatchAddResult {
    const writer = this.writer;
    const mark = writer.pos;
    try {
      writer.uint32(BATCH_MESSAGES).fork();
      writeMessageBody(writer, message, true);
      writer.ldelim();
    } catch (error) {
      writer.pos = mark;
      writer.states = null;
      throw error;
    }
    if (writer.pos > this.maxBytes) {
      writer.pos = mark;
      return this.added === 0 ? 'tooLarge' : 'full';
    }
    this.added++;
    return 'added';
  }

  /** finish returns the batch's bytes and starts an empty batch with the same header. */
  finish(): Buffer {
    const out = Buffer.allocUnsafe(this.writer.pos);
    out.set(this.writer.buf.subarray(0, this.writer.pos));
    this.writer.pos = this.headerEnd;
    this.added = 0;
    return out;
  }
}

/** encodeBatch serializes a whole MessageBatch (no size limit); tests and tools use it. */
export function encodeBatch(batch: MessageBatch): Buffer {
  const writer = new BatchWriter(batch.clusterId, batch.from, Number.POSITIVE_INFINITY);
  for (const message of batch.messages) writer.add(message);
  const bytes = writer.finish();
  if (batch.peerUrl === undefined) return bytes;
  // Field order does not matter on the wire: the URL follows the messages.
  const url = Buffer.from(batch.peerUrl, 'utf8');
  if (url.byteLength > MAX_PEER_URL_BYTES) {
    throw new EncodeError(`peerUrl is ${url.byteLength} bytes, more than ${MAX_PEER_URL_BYTES}`);
  }
  const tail = sharedWriter;
  tail.pos = 0;
  writeBytes(tail, BATCH_PEER_URL, url);
  return Buffer.concat([bytes, finishShared(tail)]);
}

/** encodeStreamAck serializes a StreamAck. */
export function encodeStreamAck(ack: StreamAck): Buffer {
  const writer = sharedWriter;
  writer.pos = 0;
  writeBool(writer, ACK_ACCEPTED, ack.accepted);
  writeUint(writer, ACK_NODE_ID, ack.nodeId, 'nodeId');
  return finishShared(writer);
}

/** encodeSnapshotChunk serializes a SnapshotChunk; the header message goes without data. */
export function encodeSnapshotChunk(chunk: SnapshotChunk): Buffer {
  const writer = sharedWriter;
  writer.pos = 0;
  try {
    writeBigUint(writer, CHUNK_CLUSTER_ID, chunk.clusterId, 'clusterId');
    writeNodeId(writer, CHUNK_FROM, chunk.from, 'from');
    writeNodeId(writer, CHUNK_TO, chunk.to, 'to');
    if (chunk.message !== undefined) {
      writer.uint32(CHUNK_MESSAGE).fork();
      writeMessageBody(writer, chunk.message, false);
      writer.ldelim();
    }
    writeUint(writer, CHUNK_TOTAL_SIZE, chunk.totalSize, 'totalSize');
    writeUint(writer, CHUNK_OFFSET, chunk.offset, 'offset');
    writeBytes(writer, CHUNK_DATA, chunk.data);
    writeBytes(writer, CHUNK_CHECKSUM, chunk.checksum);
  } catch (error) {
    writer.pos = 0;
    writer.states = null;
    throw error;
  }
  return finishShared(writer);
}

/** encodeSnapshotResponse serializes a SnapshotResponse. */
export function encodeSnapshotResponse(response: SnapshotResponse): Buffer {
  const writer = sharedWriter;
  writer.pos = 0;
  writeUint(writer, RESPONSE_RECEIVED, response.received, 'received');
  return finishShared(writer);
}

/** decodeMessage parses a raft.proto `Message`. Throws DecodeError for malformed bytes. */
export function decodeMessage(bytes: Uint8Array): PeerMessage {
  return decoding('Message', () => {
    const r = newReader(bytes);
    return readMessage(r, r.len);
  });
}

/**
 * decodeBatch parses a `MessageBatch`. Entry data, contexts and snapshot data are views
 * onto `bytes`. Throws DecodeError for malformed bytes.
 */
export function decodeBatch(bytes: Uint8Array): MessageBatch {
  return decoding('MessageBatch', () => {
    const r = newReader(bytes);
    let clusterId = 0n;
    let from = 0;
    let peerUrl: string | undefined;
    const messages: PeerMessage[] = [];
    while (r.pos < r.len) {
      const fieldTag = r.uint32();
      switch (fieldTag) {
        case BATCH_PEER_URL: {
          const url = readBytes(r, 'peerUrl');
          if (url.byteLength > MAX_PEER_URL_BYTES) {
            throw new DecodeError(
              `peerUrl is ${url.byteLength} bytes, more than ${MAX_PEER_URL_BYTES}`,
            );
          }
          peerUrl = Buffer.from(url.buffer, url.byteOffset, url.byteLength).toString('utf8');
          break;
        }
        case BATCH_CLUSTER_ID:
          clusterId = readBigUint(r, 'clusterId');
          break;
        case BATCH_FROM:
          from = readNumber(r, 'from');
          break;
        case BATCH_MESSAGES:
          messages.push(readMessage(r, readEnd(r, 'Message')));
          break;
        default:
          skipField(r, fieldTag, BATCH_FIELDS, 'MessageBatch');
      }
    }
    if (from === 0) throw new DecodeError('batch has no sender (from = 0)');
    return peerUrl === undefined
      ? { clusterId, from, messages }
      : { clusterId, from, messages, peerUrl };
  });
}

/** decodeStreamAck parses a StreamAck. Throws DecodeError for malformed bytes. */
export function decodeStreamAck(bytes: Uint8Array): StreamAck {
  return decoding('StreamAck', () => {
    const r = newReader(bytes);
    let accepted = false;
    let nodeId = 0;
    while (r.pos < r.len) {
      const fieldTag = r.uint32();
      if (fieldTag === ACK_ACCEPTED) accepted = readBool(r, 'accepted');
      else if (fieldTag === ACK_NODE_ID) nodeId = readNumber(r, 'nodeId');
      else skipField(r, fieldTag, ACK_FIELDS, 'StreamAck');
    }
    return { accepted, nodeId };
  });
}

/** decodeSnapshotChunk parses a SnapshotChunk. Throws DecodeError for malformed bytes. */
export function decodeSnapshotChunk(bytes: Uint8Array): SnapshotChunk {
  return decoding('SnapshotChunk', () => {
    const r = newReader(bytes);
    let clusterId = 0n;
    let from = 0;
    let to = 0;
    let message: PeerMessage | undefined;
    let totalSize = 0;
    let offset = 0;
    let data: Uint8Array = EMPTY_DATA;
    let checksum: Uint8Array = EMPTY_DATA;
    while (r.pos < r.len) {
      const fieldTag = r.uint32();
      switch (fieldTag) {
        case CHUNK_CLUSTER_ID:
          clusterId = readBigUint(r, 'clusterId');
          break;
        case CHUNK_FROM:
          from = readNumber(r, 'from');
          break;
        case CHUNK_TO:
          to = readNumber(r, 'to');
          break;
        case CHUNK_MESSAGE:
          message = readMessage(r, readEnd(r, 'Message'));
          break;
        case CHUNK_TOTAL_SIZE:
          totalSize = readNumber(r, 'totalSize');
          break;
        case CHUNK_OFFSET:
          offset = readNumber(r, 'offset');
          break;
        case CHUNK_DATA:
          data = readBytes(r, 'data');
          break;
        case CHUNK_CHECKSUM:
          checksum = readBytes(r, 'checksum');
          break;
        default:
          skipField(r, fieldTag, CHUNK_FIELDS, 'SnapshotChunk');
      }
    }
    if (from === 0) throw new DecodeError('snapshot chunk has no sender (from = 0)');
    if (to === 0) throw new DecodeError('snapshot chunk has no recipient (to = 0)');
    const base = { clusterId, from, to, totalSize, offset, data, checksum };
    if (message === undefined) return base;
    if (message.type !== 'MsgSnap') {
      throw new DecodeError(`snapshot chunk carries ${message.type}, not MsgSnap`);
    }
    return { ...base, message };
  });
}

/** decodeSnapshotResponse parses a SnapshotResponse. Throws DecodeError for malformed bytes. */
export function decodeSnapshotResponse(bytes: Uint8Array): SnapshotResponse {
  return decoding('SnapshotResponse', () => {
    const r = newReader(bytes);
    let received = 0;
    while (r.pos < r.len) {
      const fieldTag = r.uint32();
      if (fieldTag === RESPONSE_RECEIVED) received = readNumber(r, 'received');
      else skipField(r, fieldTag, RESPONSE_FIELDS, 'SnapshotResponse');
    }
    return { received };
  });
}
