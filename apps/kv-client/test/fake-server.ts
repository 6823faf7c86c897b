import * as grpc from '@grpc/grpc-js';
import {
  CLUSTER_SERVICE,
  type ClusterHandlers,
  KV_SERVICE,
  type KvHandlers,
  MAINTENANCE_SERVICE,
  type MaintenanceHandlers,
  type PutRequest,
  type RangeRequest,
  type TxnRequest,
} from '@raftkit/rpc/etcd';

/** Recorded is one request a fake server received, with its request id header. */
export interface Recorded {
  readonly method: string;
  readonly request: PutRequest | RangeRequest | TxnRequest | object;
  readonly requestId: string | undefined;
}

/** Behaviour answers one call: a response object, or an error status. */
export type Behaviour = (
  method: string,
  request: object,
) =>
  | { error: { code: number; details: string; raftkit?: boolean } }
  | { response: object }
  | 'hang';

/**
 * FakeServer is an in-process etcd API server (KV; Cluster; Maintenance Status and
 * MoveLeader) whose answers a test scripts.
 */
export interface FakeServer {
  readonly endpoint: string;
  readonly received: Recorded[];
  behaviour: Behaviour;
  /** raftkit makes every answer carry the `raftkit-server` header. */
  raftkit: boolean;
  stop(): Promise<void>;
}

const header = { clusterId: 1n, memberId: 2n, revision: 3n, raftTerm: 4n };

/** okResponse is a plausible success answer for each KV method. */
export function okResponse(method: string): object {
  switch (method) {
    case 'range':
      return { header, kvs: [], more: false, count: 0n };
    case 'put':
      return { header, prevKv: null };
    case 'deleteRange':
      return { header, deleted: 0n, prevKvs: [] };
    case 'txn':
      return { header, succeeded: true, responses: [] };
    case 'memberList':
    case 'memberRemove':
    case 'memberUpdate':
    case 'memberPromote':
      return { header, members: [] };
    case 'memberAdd':
      return { header, member: null, members: [] };
    case 'status':
      return { header, version: '3.4.23', dbSize: 0n, leader: 0n, raftIndex: 1n, raftTerm: 4n };
    default:
      return { header };
  }
}

/** startFakeServer listens on a free loopback port. */
export async function startFakeServer(): Promise<FakeServer> {
  const server = new grpc.Server();
  const fake: FakeServer = {
    endpoint: '',
    received: [],
    behaviour: (method) => ({ response: okResponse(method) }),
    raftkit: false,
    stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
  const handle =
    (method: string) =>
    (call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>): void => {
      const id = call.metadata.get('raftkit-request-id')[0];
      fake.received.push({
        method,
        request: call.request,
        requestId: id === undefined ? undefined : String(id),
      });
      const outcome = fake.behaviour(method, call.request);
      if (outcome === 'hang') return;
      const metadata = new grpc.Metadata();
      if (fake.raftkit) metadata.set('raftkit-server', 'test');
      if ('error' in outcome) {
        callback({ code: outcome.error.code, details: outcome.error.details, metadata });
      } else {
        call.sendMetadata(metadata);
        callback(null, outcome.response);
      }
    };
  // One generic handler serves every method; the typed handler map is cast to.
  const handlers = {
    range: handle('range'),
    put: handle('put'),
    deleteRange: handle('deleteRange'),
    txn: handle('txn'),
    compact: handle('compact'),
  } as unknown as KvHandlers;
  server.addService(KV_SERVICE, handlers);
  const cluster = Object.fromEntries(
    ['memberAdd', 'memberRemove', 'memberUpdate', 'memberList', 'memberPromote'].map((name) => [
      name,
      handle(name),
    ]),
  ) as unknown as ClusterHandlers;
  server.addService(CLUSTER_SERVICE, cluster);
  const maintenance = Object.fromEntries(
    ['status', 'moveLeader'].map((name) => [name, handle(name)]),
  ) as unknown as MaintenanceHandlers;
  server.addService(MAINTENANCE_SERVICE, maintenance);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  (fake as { endpoint: string }).endpoint = `127.0.0.1:${port}`;
  return fake;
}

/** closedPort returns a loopback port nothing listens on. */
export async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
