import type * as grpc from '@grpc/grpc-js';

// Messages cross grpc-js as raw Buffers and are decoded by codec.ts in our own
// handlers: a malformed message then becomes a DecodeError we log and answer with a
// status, instead of an exception inside grpc-js's deserializer.
const raw = (value: Buffer): Buffer => value;

/** RAFT_PROTO_PACKAGE is the protobuf package of raft.proto. */
export const RAFT_PROTO_PACKAGE = 'raftkit.raftpb';

/** RAFT_SERVICE_NAME is the fully-qualified gRPC service name of the peer service. */
export const RAFT_SERVICE_NAME = `${RAFT_PROTO_PACKAGE}.Raft`;

/** STREAM_PATH is the gRPC method path of `Raft.Stream`. */
export const STREAM_PATH = `/${RAFT_SERVICE_NAME}/Stream`;

/** SEND_SNAPSHOT_PATH is the gRPC method path of `Raft.SendSnapshot`. */
export const SEND_SNAPSHOT_PATH = `/${RAFT_SERVICE_NAME}/SendSnapshot`;

/** MEMBERS_PATH is the gRPC method path of `Raft.Members`. */
export const MEMBERS_PATH = `/${RAFT_SERVICE_NAME}/Members`;

/**
 * REMOVED_METADATA_KEY is the trailing-metadata key with which a member refuses the
 * stream of a member removed from the cluster, so that the removed one can stop.
 */
export const REMOVED_METADATA_KEY = 'raftkit-member-removed';

/** RAFT_SERVICE is the grpc-js definition of raft.proto's `Raft` service, on raw bytes. */
export const RAFT_SERVICE: grpc.ServiceDefinition = {
  stream: {
    path: STREAM_PATH,
    originalName: 'Stream',
    requestStream: true,
    responseStream: true,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
  },
  sendSnapshot: {
    path: SEND_SNAPSHOT_PATH,
    originalName: 'SendSnapshot',
    requestStream: true,
    responseStream: false,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
  },
  members: {
    path: MEMBERS_PATH,
    originalName: 'Members',
    requestStream: false,
    responseStream: false,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
  },
};

/** serializeRaw passes already-encoded bytes to grpc-js unchanged. */
export const serializeRaw = raw;

/**
 * KeepaliveOptions set HTTP/2 pings that detect a dead peer on an idle connection
 * (a half-open TCP connection otherwise looks healthy until the OS gives up, minutes
 * later). Raft's own heartbeats keep a leader's streams busy, but followers' streams to
 * the leader can stay idle.
 */
export interface KeepaliveOptions {
  /** timeMs is the idle time before a ping. Default 10 000 ms. */
  readonly timeMs?: number;
  /** timeoutMs is how long an unanswered ping may take before the connection is dropped. Default 5 000 ms. */
  readonly timeoutMs?: number;
}

/** keepaliveChannelOptions maps KeepaliveOptions to grpc-js channel and server options. */
export function keepaliveChannelOptions(
  keepalive: KeepaliveOptions | undefined,
): grpc.ChannelOptions {
  return {
    'grpc.keepalive_time_ms': keepalive?.timeMs ?? 10_000,
    'grpc.keepalive_timeout_ms': keepalive?.timeoutMs ?? 5_000,
    'grpc.keepalive_permit_without_calls': 1,
  };
}

/** DEFAULT_MAX_MESSAGE_BYTES is the default size limit of one gRPC message (4 MiB, gRPC's own default). */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 << 20;
