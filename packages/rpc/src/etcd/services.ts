import type {
  handleBidiStreamingCall,
  handleServerStreamingCall,
  handleUnaryCall,
  MethodDefinition,
  ServiceDefinition,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { decodeWith, ETCD_RPC_PACKAGE, encodeWith, loadEtcdProto } from './proto.js';
import type * as pb from './types.js';

// Every definition is derived from the reflected rpc.proto, so paths, streaming flags
// and message types cannot drift from the .proto; the interfaces below only type them.
// Handler keys are the method names with a lower-case first letter (`range`,
// `deleteRange`, `leaseTimeToLive`), which is also what a generic client exposes.

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function buildService(serviceName: string): ServiceDefinition {
  const service = loadEtcdProto().lookupService(`${ETCD_RPC_PACKAGE}.${serviceName}`);
  const definition: Record<string, MethodDefinition<object, object>> = {};
  for (const method of service.methodsArray) {
    const requestType = method.resolvedRequestType;
    const responseType = method.resolvedResponseType;
    if (requestType === null || responseType === null) {
      throw new Error(`etcd proto: ${serviceName}.${method.name} has unresolved types`);
    }
    const serializeRequest = (value: object): Buffer => encodeWith(requestType, value);
    const serializeResponse = (value: object): Buffer => encodeWith(responseType, value);
    definition[lowerFirst(method.name)] = {
      path: `/${ETCD_RPC_PACKAGE}.${serviceName}/${method.name}`,
      originalName: method.name,
      requestStream: method.requestStream === true,
      responseStream: method.responseStream === true,
      requestSerialize: serializeRequest,
      requestDeserialize: (bytes: Buffer) => decodeWith<object>(requestType, bytes),
      responseSerialize: serializeResponse,
      responseDeserialize: (bytes: Buffer) => decodeWith<object>(responseType, bytes),
    };
  }
  return definition;
}

/** KvHandlers is the server implementation of the etcd `KV` service. */
export interface KvHandlers extends UntypedServiceImplementation {
  range: handleUnaryCall<pb.RangeRequest, pb.RangeResponse>;
  put: handleUnaryCall<pb.PutRequest, pb.PutResponse>;
  deleteRange: handleUnaryCall<pb.DeleteRangeRequest, pb.DeleteRangeResponse>;
  txn: handleUnaryCall<pb.TxnRequest, pb.TxnResponse>;
  compact: handleUnaryCall<pb.CompactionRequest, pb.CompactionResponse>;
}

/** WatchHandlers is the server implementation of the etcd `Watch` service. */
export interface WatchHandlers extends UntypedServiceImplementation {
  watch: handleBidiStreamingCall<pb.WatchRequest, pb.WatchResponse>;
}

/** LeaseHandlers is the server implementation of the etcd `Lease` service. */
export interface LeaseHandlers extends UntypedServiceImplementation {
  leaseGrant: handleUnaryCall<pb.LeaseGrantRequest, pb.LeaseGrantResponse>;
  leaseRevoke: handleUnaryCall<pb.LeaseRevokeRequest, pb.LeaseRevokeResponse>;
  leaseKeepAlive: handleBidiStreamingCall<pb.LeaseKeepAliveRequest, pb.LeaseKeepAliveResponse>;
  leaseTimeToLive: handleUnaryCall<pb.LeaseTimeToLiveRequest, pb.LeaseTimeToLiveResponse>;
  leaseLeases: handleUnaryCall<pb.LeaseLeasesRequest, pb.LeaseLeasesResponse>;
}

/** ClusterHandlers is the server implementation of the etcd `Cluster` service. */
export interface ClusterHandlers extends UntypedServiceImplementation {
  memberAdd: handleUnaryCall<pb.MemberAddRequest, pb.MemberAddResponse>;
  memberRemove: handleUnaryCall<pb.MemberRemoveRequest, pb.MemberRemoveResponse>;
  memberUpdate: handleUnaryCall<pb.MemberUpdateRequest, pb.MemberUpdateResponse>;
  memberList: handleUnaryCall<pb.MemberListRequest, pb.MemberListResponse>;
  memberPromote: handleUnaryCall<pb.MemberPromoteRequest, pb.MemberPromoteResponse>;
}

/** MaintenanceHandlers is the server implementation of the etcd `Maintenance` service. */
export interface MaintenanceHandlers extends UntypedServiceImplementation {
  alarm: handleUnaryCall<pb.AlarmRequest, pb.AlarmResponse>;
  status: handleUnaryCall<pb.StatusRequest, pb.StatusResponse>;
  defragment: handleUnaryCall<pb.DefragmentRequest, pb.DefragmentResponse>;
  hash: handleUnaryCall<pb.HashRequest, pb.HashResponse>;
  hashKV: handleUnaryCall<pb.HashKVRequest, pb.HashKVResponse>;
  snapshot: handleServerStreamingCall<pb.SnapshotRequest, pb.SnapshotResponse>;
  moveLeader: handleUnaryCall<pb.MoveLeaderRequest, pb.MoveLeaderResponse>;
  downgrade: handleUnaryCall<pb.DowngradeRequest, pb.DowngradeResponse>;
}

/**
 * KV_SERVICE is the grpc-js definition of `etcdserverpb.KV` (Range, Put, DeleteRange,
 * Txn, Compact), for `server.addService(KV_SERVICE, handlers)` and
 * `grpc.makeGenericClientConstructor(KV_SERVICE, 'KV')`.
 */
export const KV_SERVICE = buildService('KV') as ServiceDefinition<KvHandlers>;

/** WATCH_SERVICE is the grpc-js definition of `etcdserverpb.Watch` (one bidi stream). */
export const WATCH_SERVICE = buildService('Watch') as ServiceDefinition<WatchHandlers>;

/**
 * LEASE_SERVICE is the grpc-js definition of `etcdserverpb.Lease` (LeaseGrant,
 * LeaseRevoke, LeaseKeepAlive, LeaseTimeToLive, LeaseLeases).
 */
export const LEASE_SERVICE = buildService('Lease') as ServiceDefinition<LeaseHandlers>;

/**
 * CLUSTER_SERVICE is the grpc-js definition of `etcdserverpb.Cluster` (MemberAdd,
 * MemberRemove, MemberUpdate, MemberList, MemberPromote).
 */
export const CLUSTER_SERVICE = buildService('Cluster') as ServiceDefinition<ClusterHandlers>;

/**
 * MAINTENANCE_SERVICE is the grpc-js definition of `etcdserverpb.Maintenance` (Alarm,
 * Status, Defragment, Hash, HashKV, Snapshot, MoveLeader, Downgrade).
 */
export const MAINTENANCE_SERVICE = buildService(
  'Maintenance',
) as ServiceDefinition<MaintenanceHandlers>;
