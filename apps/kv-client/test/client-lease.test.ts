import { status } from '@grpc/grpc-js';
import type {
  LeaseGrantRequest,
  LeaseKeepAliveResponse,
  LeaseTimeToLiveRequest,
} from '@raftkit/rpc/etcd';
import { describe, expect, it } from 'vitest';
import {
  ETCD_ERRORS,
  isKvClientError,
  KEEP_ALIVE_RETRY_MS,
  KeepAliveSchedule,
  KvClientError,
  toLeaseId,
} from '../src/index.js';
import { type FakeServer, useFakeServers } from './fake-server.js';

const header = { clusterId: 1n, memberId: 2n, revision: 3n, raftTerm: 4n };

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('KeepAliveSchedule (clientv3 timing, no I/O)', () => {
  it('sends at once, then a third of the TTL after each answer', () => {
    const schedule = new KeepAliveSchedule(1000, 3000);
    expect(schedule.due(1000)).toBe(true);
    expect(schedule.deadline).toBe(4000);
    schedule.sent(1000);
    expect(schedule.due(1000)).toBe(false);
    schedule.renewed(1100, 9n);
    expect(schedule.nextSendAt).toBe(1100 + 3000);
    expect(schedule.deadline).toBe(1100 + 9000);
    expect(schedule.due(4099)).toBe(false);
    expect(schedule.due(4100)).toBe(true);
  });

  it('resends an unanswered request every 500 ms and gives up after a whole TTL', () => {
    const schedule = new KeepAliveSchedule(0, 3000);
    schedule.renewed(0, 2n);
    schedule.sent(667);
    expect(schedule.nextSendAt).toBe(667 + KEEP_ALIVE_RETRY_MS);
    schedule.sent(1167);
    expect(schedule.expired(1999)).toBe(false);
    expect(schedule.expired(2000)).toBe(true);
  });

  it('gives up when the first answer does not come in time', () => {
    const schedule = new KeepAliveSchedule(0, 3000);
    schedule.sent(0);
    expect(schedule.expired(2999)).toBe(false);
    expect(schedule.expired(3000)).toBe(true);
  });
});

describe('KvClient lease calls (scripted gRPC servers)', () => {
  let a: FakeServer;
  let b: FakeServer;
  let dead: string;
  const client = useFakeServers(
    { dialTimeoutMs: 500, requestTimeoutMs: 2000 },
    (servers) => {
      ({ a, b, dead } = servers);
    },
    (server) => {
      server.keepAlive = (request) => ({ response: { header, ID: request.ID ?? 0n, TTL: 10n } });
      server.keepAlives.opened = 0;
      server.keepAlives.requests.length = 0;
    },
  );

  it('grants with a request id (a write) and reads without one', async () => {
    const kv = client([a.endpoint]);
    const granted = await kv.leaseGrant(10, { id: 0x694d7b3c2b4a7a0en });
    expect(granted).toMatchObject({ ID: 7n, TTL: 10n, error: '' });
    await kv.leaseTimeToLive(7n, { keys: true });
    await kv.leaseLeases();
    await kv.leaseRevoke(7);
    const [grant, ttl, leases, revoke] = a.received;
    expect(grant?.request as LeaseGrantRequest).toMatchObject({
      TTL: 10n,
      ID: 0x694d7b3c2b4a7a0en,
    });
    expect(grant?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(ttl).toMatchObject({
      method: 'leaseTimeToLive',
      request: { ID: 7n, keys: true } satisfies LeaseTimeToLiveRequest,
      requestId: undefined,
    });
    expect(leases).toMatchObject({ method: 'leaseLeases', requestId: undefined });
    expect(revoke).toMatchObject({ method: 'leaseRevoke', request: { ID: 7n } });
    expect(revoke?.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('checks lease ids as signed 64-bit integers', () => {
    const kv = client([a.endpoint]);
    expect(toLeaseId(-1)).toBe(-1n);
    expect(toLeaseId(0x7fffffffffffffffn)).toBe(0x7fffffffffffffffn);
    expect(() => toLeaseId(0x8000000000000000n)).toThrow(RangeError);
    expect(() => toLeaseId(1.5)).toThrow(TypeError);
    expect(() => kv.leaseKeepAlive(1n << 64n)).toThrow(RangeError);
    expect(() => kv.leaseRevoke(Number.NaN)).toThrow(TypeError);
  });

  it('reports an unknown lease as etcd does: TTL -1 from timeToLive, leaseNotFound elsewhere', async () => {
    const kv = client([a.endpoint]);
    a.behaviour = () => ({
      error: { code: status.NOT_FOUND, details: ETCD_ERRORS.leaseNotFound },
    });
    expect(await kv.leaseTimeToLive(0x1234n)).toEqual({
      header: null,
      ID: 0x1234n,
      TTL: -1n,
      grantedTTL: 0n,
      keys: [],
    });
    const revoke = (await kv.leaseRevoke(0x1234n).catch((e) => e)) as KvClientError;
    expect(isKvClientError(revoke, 'leaseNotFound')).toBe(true);
    expect(revoke).toMatchObject({ code: status.NOT_FOUND, attempts: 1 });
    a.keepAlive = (request) => ({ response: { header, ID: request.ID ?? 0n, TTL: 0n } });
    const once = (await kv.leaseKeepAliveOnce(0x1234n).catch((e) => e)) as KvClientError;
    expect(once).toBeInstanceOf(KvClientError);
    expect(once).toMatchObject({
      code: status.NOT_FOUND,
      details: 'etcdserver: requested lease not found',
      reason: 'leaseNotFound',
    });
  });

  it('keepAliveOnce renews over a stream of its own and moves on from a failing endpoint', async () => {
    const kv = client([a.endpoint, b.endpoint]);
    a.keepAlive = () => ({ error: { code: status.UNAVAILABLE, details: 'etcdserver: no leader' } });
    b.keepAlive = (request) => ({ response: { header, ID: request.ID ?? 0n, TTL: 30n } });
    const response = await kv.leaseKeepAliveOnce(5n);
    expect(response).toMatchObject({ ID: 5n, TTL: 30n });
    expect(a.keepAlives.requests).toEqual([5n]);
    expect(b.keepAlives.requests).toEqual([5n]);
    await until(() => b.keepAlives.open === 0, 'the stream to be closed');
  });

  it('keepAlive renews until closed, then closes its stream', async () => {
    const kv = client([a.endpoint]);
    a.keepAlive = (request) => ({ response: { header, ID: request.ID ?? 0n, TTL: 1n } });
    const seen: LeaseKeepAliveResponse[] = [];
    const keepAlive = kv.leaseKeepAlive(9n, { onResponse: (response) => seen.push(response) });
    // A renewal every third of a second: three take about 0.7 s.
    await until(() => seen.length >= 3, 'three renewals');
    expect(keepAlive.ttl).toBe(1n);
    expect(a.keepAlives.opened).toBe(1);
    expect(a.keepAlives.requests.every((id) => id === 9n)).toBe(true);
    keepAlive.close();
    expect(await keepAlive.done).toEqual({ reason: 'closed' });
    await until(() => a.keepAlives.open === 0, 'the stream to be cancelled');
  });

  it('keepAlive yields renewals to async iterators and ends when the server answers TTL 0', async () => {
    const kv = client([a.endpoint]);
    let answers = 0;
    a.keepAlive = (request) => ({
      response: { header, ID: request.ID ?? 0n, TTL: ++answers >= 3 ? 0n : 1n },
    });
    const keepAlive = kv.leaseKeepAlive(4n);
    const ttls: bigint[] = [];
    for await (const response of keepAlive) ttls.push(response.TTL);
    expect(ttls).toEqual([1n, 1n]);
    expect(await keepAlive.done).toEqual({ reason: 'leaseNotFound' });
  });

  it('keepAlive reopens a broken stream on the next endpoint', async () => {
    const kv = client([dead, a.endpoint, b.endpoint]);
    a.keepAlive = () => 'end';
    b.keepAlive = (request) => ({ response: { header, ID: request.ID ?? 0n, TTL: 2n } });
    const seen: LeaseKeepAliveResponse[] = [];
    const keepAlive = kv.leaseKeepAlive(6n, { onResponse: (response) => seen.push(response) });
    await until(() => seen.length >= 1, 'a renewal from the third endpoint');
    expect(a.keepAlives.requests).toEqual([6n]);
    expect(b.keepAlives.opened).toBe(1);
    keepAlive.close();
    expect((await keepAlive.done).reason).toBe('closed');
  });

  it('keepAlive fails on an error retrying cannot cure, and gives up unanswered', async () => {
    const kv = client([a.endpoint]);
    a.keepAlive = () => ({
      error: { code: status.PERMISSION_DENIED, details: ETCD_ERRORS.permissionDenied },
    });
    const denied = kv.leaseKeepAlive(1n);
    await expect(
      (async () => {
        for await (const _ of denied) {
          // no renewal comes
        }
      })(),
    ).rejects.toThrow('etcdserver: permission denied');
    const end = await denied.done;
    expect(end.reason === 'failed' && end.error.reason).toBe('permissionDenied');
    a.keepAlive = () => 'hang';
    // Unanswered: given up after the dial timeout (500 ms) plus 1 s.
    const started = Date.now();
    const silent = kv.leaseKeepAlive(2n);
    expect(await silent.done).toEqual({ reason: 'expired' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    // Unanswered requests are resent every 500 ms meanwhile.
    expect(a.keepAlives.requests.filter((id) => id === 2n).length).toBeGreaterThanOrEqual(2);
  });

  it('KvClient.close stops its keep-alives', async () => {
    const kv = client([a.endpoint]);
    const keepAlive = kv.leaseKeepAlive(3n);
    await until(() => keepAlive.ttl !== undefined, 'a renewal');
    kv.close();
    expect(await keepAlive.done).toEqual({ reason: 'closed' });
    expect(await kv.leaseKeepAlive(3n).done).toEqual({ reason: 'closed' });
  });
});
