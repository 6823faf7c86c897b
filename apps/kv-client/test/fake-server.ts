import * as grpc from '@grpc/grpc-js';
import {
  CLUSTER_SERVICE,
  type ClusterHandlers,
  KV_SERVICE,
  type KvHandlers,
  LEASE_SERVICE,
  type LeaseHandlers,
  type LeaseKeepAliveRequest,
  type LeaseKeepAliveResponse,
  MAINTENANCE_SERVICE,
  type MaintenanceHandlers,
  type PutRequest,
  type RangeRequest,
  type TxnRequest,
  WATCH_SERVICE,
  type WatchHandlers,
  type WatchRequest,
  type WatchResponse,
} from '@raftkit/rpc/etcd';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { KvClient, type KvClientOptions } from '../src/index.js';

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
 * KeepAliveBehaviour answers one request on a LeaseKeepAlive stream: a response, an
 * error status that ends the stream, `end` (the server ends it with OK), or `hang`.
 */
export type KeepAliveBehaviour = (
  request: LeaseKeepAliveRequest,
) =>
  | { response: LeaseKeepAliveResponse }
  | { error: { code: number; details: string } }
  | 'end'
  | 'hang';

/** KeepAliveLog counts a fake server's LeaseKeepAlive streams and requests. */
export interface KeepAliveLog {
  /** opened counts the streams opened. */
  opened: number;
  /** open counts the streams neither ended nor cancelled. */
  open: number;
  /** requests are the ids received, in order. */
  readonly requests: bigint[];
}

/** FakeWatchStream is one Watch stream a fake server holds, driven by the test. */
export interface FakeWatchStream {
  /** requests are the WatchRequests received on it, in order. */
  readonly requests: WatchRequest[];
  /** metadata is what the client sent with the stream. */
  readonly metadata: grpc.Metadata;
  /** ended is true once either side has ended the stream. */
  readonly ended: boolean;
  /** send writes a response; unset fields take zero values, the header the fake's. */
  send(response: Partial<WatchResponse>): void;
  /** fail ends the stream with an error status. */
  fail(code: number, details: string): void;
  /** end ends the stream with status OK. */
  end(): void;
}

/** WatchBehaviour answers one request on a Watch stream (see defaultWatch). */
export type WatchBehaviour = (request: WatchRequest, stream: FakeWatchStream) => void;

/**
 * defaultWatch answers as etcd does at revision 3: a create with `created` (watch id 0),
 * a cancel with `canceled`.
 */
export const defaultWatch: WatchBehaviour = (request, stream) => {
  if ('createRequest' in request) stream.send({ created: true, watchId: 0n });
  if ('cancelRequest' in request) {
    stream.send({ canceled: true, watchId: request.cancelRequest.watchId ?? 0n });
  }
};

/**
 * FakeServer is an in-process etcd API server (KV; Watch; Lease; Cluster; Maintenance
 * Status and MoveLeader) whose answers a test scripts.
 */
export interface FakeServer {
  readonly endpoint: string;
  readonly received: Recorded[];
  behaviour: Behaviour;
  /** keepAlive answers LeaseKeepAlive requests (default: TTL 10 for any id). */
  keepAlive: KeepAliveBehaviour;
  readonly keepAlives: KeepAliveLog;
  /** watch answers each request on a Watch stream (default: defaultWatch). */
  watch: WatchBehaviour;
  /** watches are the Watch streams opened, in order. */
  readonly watches: FakeWatchStream[];
  /** raftkit makes every answer carry the `raftkit-server` header. */
  raftkit: boolean;
  stop(): Promise<void>;
}

const header = { clusterId: 1n, memberId: 2n, revision: 3n, raftTerm: 4n };

/** watchResponse is a WatchResponse with every field at its default but `fields`. */
export function watchResponse(fields: Partial<WatchResponse> = {}): WatchResponse {
  return {
    header,
    watchId: 0n,
    created: false,
    canceled: false,
    compactRevision: 0n,
    cancelReason: '',
    fragment: false,
    events: [],
    ...fields,
  };
}

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
    case 'leaseGrant':
      return { header, ID: 7n, TTL: 10n, error: '' };
    case 'leaseTimeToLive':
      return { header, ID: 7n, TTL: 9n, grantedTTL: 10n, keys: [] };
    case 'leaseLeases':
      return { header, leases: [] };
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
    keepAlive: (request) => ({ response: { header, ID: request.ID ?? 0n, TTL: 10n } }),
    keepAlives: { opened: 0, open: 0, requests: [] },
    watch: defaultWatch,
    watches: [],
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
  const keepAlive = (
    call: grpc.ServerDuplexStream<LeaseKeepAliveRequest, LeaseKeepAliveResponse>,
  ): void => {
    const log = fake.keepAlives;
    log.opened++;
    log.open++;
    let finished = false;
    const finish = (): void => {
      if (!finished) log.open--;
      finished = true;
    };
    call.on('cancelled', finish);
    call.on('error', finish);
    call.on('data', (request: LeaseKeepAliveRequest) => {
      if (finished) return;
      log.requests.push(request.ID ?? 0n);
      const outcome = fake.keepAlive(request);
      if (outcome === 'hang') return;
      if (outcome === 'end') {
        finish();
        call.end();
      } else if ('error' in outcome) {
        finish();
        call.emit('error', { code: outcome.error.code, details: outcome.error.details });
      } else {
        call.write(outcome.response);
      }
    });
  };
  const lease = {
    ...Object.fromEntries(
      ['leaseGrant', 'leaseRevoke', 'leaseTimeToLive', 'leaseLeases'].map((name) => [
        name,
        handle(name),
      ]),
    ),
    leaseKeepAlive: keepAlive,
  } as unknown as LeaseHandlers;
  server.addService(LEASE_SERVICE, lease);
  const watch = (call: grpc.ServerDuplexStream<WatchRequest, WatchResponse>): void => {
    let ended = false;
    const stream: FakeWatchStream = {
      requests: [],
      metadata: call.metadata,
      get ended() {
        return ended;
      },
      send(response) {
        if (ended) return;
        call.write(watchResponse(response));
      },
      fail(code, details) {
        if (ended) return;
        ended = true;
        call.emit('error', { code, details });
      },
      end() {
        if (ended) return;
        ended = true;
        call.end();
      },
    };
    fake.watches.push(stream);
    call.on('cancelled', () => {
      ended = true;
    });
    call.on('error', () => {
      ended = true;
    });
    call.on('data', (request: WatchRequest) => {
      stream.requests.push(request);
      fake.watch(request, stream);
    });
  };
  server.addService(WATCH_SERVICE, { watch } as WatchHandlers);
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

/** FakeServers are the two scripted servers and the closed endpoint of useFakeServers. */
export interface FakeServers {
  readonly a: FakeServer;
  readonly b: FakeServer;
  /** dead is an endpoint where nothing listens. */
  readonly dead: string;
}

/**
 * useFakeServers sets up, for the enclosing describe block, two scripted servers and a
 * closed endpoint (handed to `onStart` before the tests), restores both servers'
 * behaviour after each test (plus `reset`, for what a block scripts beyond it), and
 * returns the block's client factory: clients with `defaults` (and a test's `extra`),
 * closed after each test.
 */
export function useFakeServers(
  defaults: Partial<KvClientOptions>,
  onStart: (servers: FakeServers) => void,
  reset: (server: FakeServer) => void = () => {},
): (endpoints: string[], extra?: Partial<KvClientOptions>) => KvClient {
  let servers: FakeServers | undefined;
  const clients: KvClient[] = [];
  beforeAll(async () => {
    servers = {
      a: await startFakeServer(),
      b: await startFakeServer(),
      dead: `127.0.0.1:${await closedPort()}`,
    };
    onStart(servers);
  });
  afterEach(() => {
    for (const made of clients.splice(0)) made.close();
    for (const server of servers === undefined ? [] : [servers.a, servers.b]) {
      server.received.length = 0;
      server.raftkit = false;
      server.behaviour = (method) => ({ response: okResponse(method) });
      server.watch = defaultWatch;
      for (const stream of server.watches.splice(0)) stream.end();
      reset(server);
    }
  });
  afterAll(async () => {
    await servers?.a.stop();
    await servers?.b.stop();
  });
  return (endpoints, extra = {}) => {
    const made = new KvClient({ endpoints, ...defaults, ...extra });
    clients.push(made);
    return made;
  };
}
