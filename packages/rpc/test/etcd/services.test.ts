import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLUSTER_SERVICE,
  KV_SERVICE,
  type KvHandlers,
  LEASE_SERVICE,
  MAINTENANCE_SERVICE,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  WATCH_SERVICE,
} from '../../src/etcd/index.js';

describe('etcd service definitions', () => {
  it('declare etcd paths and streaming shapes', () => {
    expect(Object.keys(KV_SERVICE)).toEqual(['range', 'put', 'deleteRange', 'txn', 'compact']);
    expect(KV_SERVICE.deleteRange.path).toBe('/etcdserverpb.KV/DeleteRange');
    expect(KV_SERVICE.compact.originalName).toBe('Compact');
    expect(WATCH_SERVICE.watch).toMatchObject({ requestStream: true, responseStream: true });
    expect(LEASE_SERVICE.leaseKeepAlive.path).toBe('/etcdserverpb.Lease/LeaseKeepAlive');
    expect(LEASE_SERVICE.leaseTimeToLive.requestStream).toBe(false);
    expect(Object.keys(CLUSTER_SERVICE)).toEqual([
      'memberAdd',
      'memberRemove',
      'memberUpdate',
      'memberList',
      'memberPromote',
    ]);
    expect(MAINTENANCE_SERVICE.status.path).toBe('/etcdserverpb.Maintenance/Status');
    expect(MAINTENANCE_SERVICE.snapshot).toMatchObject({
      requestStream: false,
      responseStream: true,
    });
  });
});

describe('etcd service definitions over a loopback gRPC connection', () => {
  const server = new grpc.Server();
  let client: grpc.Client &
    Record<string, grpc.requestCallback<unknown> & ((...a: never[]) => unknown)>;
  const seen: PutRequest[] = [];

  beforeAll(async () => {
    const unimplemented = (_call: unknown, callback: grpc.sendUnaryData<never>): void =>
      callback({ code: grpc.status.UNIMPLEMENTED, details: 'not in this test' });
    const handlers: KvHandlers = {
      put(call, callback) {
        seen.push(call.request);
        callback(null, {
          header: { clusterId: 1n, memberId: 2n, revision: 3n, raftTerm: (1n << 64n) - 1n },
          prevKv: null,
        });
      },
      range(call, callback) {
        callback(null, {
          header: null,
          kvs: [
            {
              key: call.request.key ?? new Uint8Array(),
              value: Buffer.from('v'),
              createRevision: 2n,
              modRevision: 3n,
              version: 1n,
              lease: 0n,
            },
          ],
          more: false,
          count: 1n,
        });
      },
      deleteRange: unimplemented,
      txn: unimplemented,
      compact: unimplemented,
    };
    server.addService(KV_SERVICE, handlers);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    const Ctor = grpc.makeGenericClientConstructor(KV_SERVICE, 'KV');
    client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as typeof client;
  });

  afterAll(async () => {
    client.close();
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  });

  const call = <Req, Res>(method: string, request: Req): Promise<Res> =>
    new Promise((resolve, reject) => {
      const fn = client[method] as unknown as (
        r: Req,
        cb: (e: grpc.ServiceError | null, v?: Res) => void,
      ) => void;
      fn.call(client, request, (err, value) => (err ? reject(err) : resolve(value as Res)));
    });

  it('serves and calls Put with bigint and bytes intact', async () => {
    const response = await call<PutRequest, PutResponse>('put', {
      key: Buffer.from('a'),
      value: new Uint8Array([0, 255]),
      lease: 1n << 62n,
    });
    expect(response.header?.raftTerm).toBe((1n << 64n) - 1n);
    expect(response.prevKv).toBeNull();
    expect(seen[0]?.lease).toBe(1n << 62n);
    expect([...(seen[0]?.value ?? [])]).toEqual([0, 255]);
    expect(seen[0]?.prevKv).toBe(false);
  });

  it('serves Range and reports UNIMPLEMENTED as a status', async () => {
    const response = await call<RangeRequest, RangeResponse>('range', { key: Buffer.from('k') });
    expect(Buffer.from(response.kvs[0]?.key ?? []).toString()).toBe('k');
    expect(response.header).toBeNull();
    await expect(call('txn', {})).rejects.toMatchObject({ code: grpc.status.UNIMPLEMENTED });
  });
});
