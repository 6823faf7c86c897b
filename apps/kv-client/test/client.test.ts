import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { KvClientError, Op } from '../src/index.js';
import { type FakeServer, useFakeServers } from './fake-server.js';

describe('KvClient against scripted gRPC servers', () => {
  let a: FakeServer;
  let b: FakeServer;
  let dead: string;
  const client = useFakeServers({ dialTimeoutMs: 1000, requestTimeoutMs: 2000 }, (servers) => {
    ({ a, b, dead } = servers);
  });

  it('fails over from an unreachable endpoint, even for writes', async () => {
    const response = await client([dead, a.endpoint]).put('k', 'v');
    expect(response.header?.revision).toBe(3n);
    expect(a.received).toHaveLength(1);
    expect(a.received[0]?.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('sends no request id with reads', async () => {
    await client([a.endpoint]).get('k', { prefix: true });
    expect(a.received[0]).toMatchObject({ method: 'range', requestId: undefined });
  });

  it('retries a read on the next endpoint after an ambiguous UNAVAILABLE', async () => {
    a.behaviour = () => ({
      error: { code: status.UNAVAILABLE, details: 'etcdserver: leader changed' },
    });
    const response = await client([a.endpoint, b.endpoint]).get('k');
    expect(response.count).toBe(0n);
    expect(a.received).toHaveLength(1);
    expect(b.received).toHaveLength(1);
  });

  it('does not resend a write that may have been applied by a stock etcd', async () => {
    a.behaviour = () => ({
      error: { code: status.UNAVAILABLE, details: 'etcdserver: request timed out' },
    });
    const error = await client([a.endpoint, b.endpoint])
      .put('k', 'v')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KvClientError);
    expect(error).toMatchObject({
      codeName: 'UNAVAILABLE',
      details: 'etcdserver: request timed out',
      attempts: 1,
    });
    expect(b.received).toHaveLength(0);
  });

  it('resends a write with the same request id to a raftkit server', async () => {
    a.raftkit = true;
    a.behaviour = () => ({
      error: { code: status.UNAVAILABLE, details: 'etcdserver: request timed out' },
    });
    await client([a.endpoint, b.endpoint]).put('k', 'v');
    expect(a.received).toHaveLength(1);
    expect(b.received).toHaveLength(1);
    expect(b.received[0]?.requestId).toBe(a.received[0]?.requestId);
  });

  it('trusts raftkitServer: true without detection', async () => {
    a.behaviour = () => ({ error: { code: status.UNAVAILABLE, details: 'Connection dropped' } });
    await client([a.endpoint, b.endpoint], { raftkitServer: true }).delete('k');
    expect(b.received[0]?.method).toBe('deleteRange');
  });

  it('retries a read-only txn but not a txn that writes', async () => {
    a.behaviour = () => ({
      error: { code: status.UNAVAILABLE, details: 'etcdserver: leader changed' },
    });
    const kv = client([a.endpoint, b.endpoint]);
    await kv.txn().if('k', 'version', '>', 0).then(Op.get('k')).commit();
    expect(b.received).toHaveLength(1);
    // A fresh client starts at a again (the first one stays on b, which answered).
    const writer = client([a.endpoint, b.endpoint]);
    await expect(writer.txn().then(Op.put('k', 'v')).commit()).rejects.toMatchObject({
      codeName: 'UNAVAILABLE',
    });
    expect(b.received).toHaveLength(1);
  });

  it('reports server errors as they are, without retrying', async () => {
    a.behaviour = () => ({
      error: {
        code: status.OUT_OF_RANGE,
        details: 'etcdserver: mvcc: required revision has been compacted',
      },
    });
    const error = (await client([a.endpoint, b.endpoint])
      .get('k', { revision: 1 })
      .catch((e: unknown) => e)) as KvClientError;
    expect(error.message).toBe('etcdserver: mvcc: required revision has been compacted');
    expect(error.code).toBe(status.OUT_OF_RANGE);
    expect(b.received).toHaveLength(0);
  });

  it('bounds a call by its deadline', async () => {
    a.behaviour = () => 'hang';
    const started = Date.now();
    const error = (await client([a.endpoint], { requestTimeoutMs: 300, dialTimeoutMs: 200 })
      .get('k')
      .catch((e: unknown) => e)) as KvClientError;
    expect(error.codeName).toBe('DEADLINE_EXCEEDED');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('gives up with a clear message when no endpoint is reachable', async () => {
    const error = (await client([dead], { retries: 2 })
      .get('k')
      .catch((e: unknown) => e)) as KvClientError;
    expect(error.codeName).toBe('UNAVAILABLE');
    expect(error.attempts).toBe(3);
    expect(error.message).toMatch(/^cannot reach the endpoint \(127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  });

  it('refuses calls after close()', async () => {
    const kv = client([a.endpoint]);
    kv.close();
    await expect(kv.get('k')).rejects.toMatchObject({ codeName: 'CANCELLED' });
  });
});
