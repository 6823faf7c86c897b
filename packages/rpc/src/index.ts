export * from './cluster-id.js';
export * from './codec.js';
export * from './errors.js';
export {
  DEFAULT_MAX_MESSAGE_BYTES,
  type KeepaliveOptions,
  RAFT_PROTO_PACKAGE,
  RAFT_SERVICE,
  RAFT_SERVICE_NAME,
  REMOVED_METADATA_KEY,
  SEND_SNAPSHOT_PATH,
  STREAM_PATH,
} from './grpc-service.js';
export * from './grpc-transport.js';
export * from './membership.js';
export * from './peer-address.js';
export type { PeerState, PeerStats } from './peer-stream.js';
export * from './raft-proto.js';
export * from './raft-server.js';
export {
  DEFAULT_SNAPSHOT_CHUNK_BYTES,
  SnapshotAssembler,
  type SnapshotSendOptions,
  sendSnapshotChunks,
} from './snapshot-stream.js';
export * from './tls.js';
