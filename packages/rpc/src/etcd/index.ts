// @raftkit/rpc/etcd: the etcd v3 client API (etcdserverpb / mvccpb) on the wire —
// protos, grpc-js service definitions and TypeScript shapes of the messages.

export * from './etcd-json.js';
export * from './proto.js';
export * from './services.js';
export * from './types.js';
