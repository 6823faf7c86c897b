import { status } from '@grpc/grpc-js';
import type {
  MemberAddRequest,
  MemberUpdateRequest,
  MoveLeaderRequest,
  StatusResponse,
} from '@raftkit/rpc/etcd';
import { describe, expect, it } from 'vitest';
import { ETCD_ERRORS, isKvClientError, KvClientError } from '../src/index.js';
import { type FakeServer, okResponse, useFakeServers } from './fake-server.js';

// Ids as a real etcd 3.4 cluster reported them (they exceed 2^63, so they must stay exact).
const N1 = 0xeab888e10709deabn;
const N2 = 0x97c5ca3f3e0d4f74n;
const CLUSTER = 0x3b6b2694877dbcb2n;

function statusOf(memberId: bigint, leader: bigint): Partial<StatusResponse> {
  return {
    header: { clusterId: CLUSTER, memberId, revision: 1n, raftTerm: 2n },
    version: '3.4.23',
    leader,
    raftTerm: 2n,
  };
}

describe('KvClient membership and leadership calls (scripted gRPC servers)', () => {
  let a: FakeServer;
  let b: FakeServer;
  let dead: string;
  const client = useFakeServers({ dialTimeoutMs: 1000, requestTimeoutMs: 2000 }, (servers) => {
    ({ a, b, dead } = servers);
  });

  it('memberAdd sends the peer URLs (trimmed) and the learner flag', async () => {
    a.behaviour = (method) =>
      method === 'memberAdd'
        ? {
            response: {
              header: { clusterId: CLUSTER, memberId: N1, revision: 0n, raftTerm: 2n },
              member: { ID: N2, name: '', peerURLs: ['http://10.0.0.2:2380'], isLearner: true },
              members: [],
            },
          }
        : { response: okResponse(method) };
    const response = await client([a.endpoint]).memberAdd([' http://10.0.0.2:2380 '], {
      isLearner: true,
    });
    expect(response.member?.ID).toBe(N2);
    expect(response.header?.clusterId).toBe(CLUSTER);
    const sent = a.received[0];
    expect(sent?.method).toBe('memberAdd');
    expect(sent?.request as MemberAddRequest | undefined).toMatchObject({
      peerURLs: ['http://10.0.0.2:2380'],
      isLearner: true,
    });
    // Membership changes carry no request id: no server is known to deduplicate them.
    expect(sent?.requestId).toBeUndefined();
  });

  it('memberRemove, memberUpdate and memberPromote send exact 64-bit ids', async () => {
    const kv = client([a.endpoint]);
    await kv.memberRemove(N1);
    await kv.memberUpdate(N2, ['http://10.0.0.3:2380', 'https://[::1]:2380']);
    await kv.memberPromote(0xffffffffffffffffn);
    expect(a.received.map((r) => [r.method, (r.request as { ID: bigint }).ID])).toEqual([
      ['memberRemove', N1],
      ['memberUpdate', N2],
      ['memberPromote', 0xffffffffffffffffn],
    ]);
    expect((a.received[1]?.request as MemberUpdateRequest | undefined)?.peerURLs).toEqual([
      'http://10.0.0.3:2380',
      'https://[::1]:2380',
    ]);
  });

  it('memberList asks for a linearizable list when told to', async () => {
    const kv = client([a.endpoint]);
    await kv.memberList();
    await kv.memberList({ linearizable: true });
    expect(a.received.map((r) => r.request)).toEqual([
      { linearizable: false },
      { linearizable: true },
    ]);
  });

  it('refuses bad peer URLs and ids before sending anything', async () => {
    const kv = client([a.endpoint]);
    expect(() => kv.memberAdd(['10.0.0.2:2380'])).toThrow(
      'parse "10.0.0.2:2380": first path segment in URL cannot contain colon',
    );
    expect(() => kv.memberAdd(['http://10.0.0.2:2380/x'])).toThrow(
      'URL must not contain a path: http://10.0.0.2:2380/x',
    );
    expect(() => kv.memberAdd([])).toThrow('no valid URLs given');
    expect(() => kv.memberUpdate(1n, ['ftp://h:1'])).toThrow(
      'URL scheme must be http, https, unix, or unixs: ftp://h:1',
    );
    expect(() => kv.memberRemove(-1n)).toThrow(RangeError);
    expect(() => kv.memberPromote(1n << 64n)).toThrow(/unsigned 64-bit/);
    expect(() => kv.memberRemove(1.5)).toThrow(TypeError);
    await expect(kv.moveLeader(-2n)).rejects.toThrow(/target member id/);
    expect(a.received).toEqual([]);
  });

  it('maps etcd’s membership errors to typed reasons', async () => {
    const cases: [number, string][] = [
      [status.NOT_FOUND, ETCD_ERRORS.memberNotFound],
      [status.FAILED_PRECONDITION, ETCD_ERRORS.peerUrlExists],
      [status.FAILED_PRECONDITION, ETCD_ERRORS.learnerNotReady],
      [status.FAILED_PRECONDITION, ETCD_ERRORS.memberNotLearner],
      [status.FAILED_PRECONDITION, ETCD_ERRORS.tooManyLearners],
      // etcd 3.4 sends this one as UNKNOWN: the message decides, not the code.
      [status.UNKNOWN, ETCD_ERRORS.notEnoughStartedMembers],
      [status.UNAVAILABLE, ETCD_ERRORS.unhealthy],
    ];
    const reasons: unknown[] = [];
    for (const [code, details] of cases) {
      a.behaviour = () => ({ error: { code, details } });
      const error = await client([a.endpoint], { retries: 0 })
        .memberAdd(['http://10.0.0.9:2380'])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KvClientError);
      expect(error).toMatchObject({ code, details, message: details });
      reasons.push((error as KvClientError).reason);
    }
    expect(reasons).toEqual([
      'memberNotFound',
      'peerUrlExists',
      'learnerNotReady',
      'memberNotLearner',
      'tooManyLearners',
      'notEnoughStartedMembers',
      'unhealthy',
    ]);
    a.behaviour = () => ({ error: { code: status.INTERNAL, details: 'something else' } });
    const other = await client([a.endpoint])
      .memberRemove(1n)
      .catch((e: unknown) => e);
    expect(other).toMatchObject({ reason: undefined, details: 'something else' });
    expect(isKvClientError(other)).toBe(true);
    expect(isKvClientError(other, 'memberNotFound')).toBe(false);
  });

  it('never resends a membership change that may have been applied, even to raftkit', async () => {
    a.raftkit = true;
    a.behaviour = () => ({
      error: { code: status.UNAVAILABLE, details: ETCD_ERRORS.timeout },
    });
    const error = await client([a.endpoint, b.endpoint])
      .memberAdd(['http://10.0.0.2:2380'])
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'timeout', attempts: 1 });
    expect(b.received).toEqual([]);
    // memberUpdate sets the same URLs again on a retry: it is retried like a read.
    await client([a.endpoint, b.endpoint]).memberUpdate(N1, ['http://10.0.0.2:2380']);
    expect(b.received.map((r) => r.method)).toEqual(['memberUpdate']);
  });

  it('fails a membership change over from an endpoint that cannot be reached', async () => {
    await client([dead, a.endpoint]).memberRemove(N1);
    expect(a.received.map((r) => r.method)).toEqual(['memberRemove']);
  });

  it('moveLeader finds the leader by Maintenance.Status and sends the request there', async () => {
    a.behaviour = (method) =>
      method === 'status' ? { response: statusOf(N1, N2) } : { response: okResponse(method) };
    b.behaviour = (method) =>
      method === 'status' ? { response: statusOf(N2, N2) } : { response: { header: null } };
    const kv = client([dead, a.endpoint, b.endpoint]);
    const result = await kv.moveLeader(N1);
    expect(result).toMatchObject({ previousLeader: N2, leaderEndpoint: b.endpoint, header: null });
    expect(a.received.map((r) => r.method)).toEqual(['status']);
    expect(b.received.map((r) => [r.method, r.requestId])).toEqual([
      ['status', undefined],
      ['moveLeader', undefined],
    ]);
    expect((b.received[1]?.request as MoveLeaderRequest | undefined)?.targetID).toBe(N1);
    const leader = await kv.findLeader();
    expect(leader).toMatchObject({ endpoint: b.endpoint, id: N2 });
    expect(leader.status.version).toBe('3.4.23');
  });

  it('moveLeader refuses when no given endpoint is the leader', async () => {
    a.behaviour = (method) =>
      method === 'status' ? { response: statusOf(N1, N2) } : { response: okResponse(method) };
    const error = (await client([a.endpoint])
      .moveLeader(N1)
      .catch((e: unknown) => e)) as KvClientError;
    expect(error).toBeInstanceOf(KvClientError);
    expect(error).toMatchObject({
      reason: 'noLeaderEndpoint',
      codeName: 'FAILED_PRECONDITION',
      message: `no leader endpoint given at [${a.endpoint}]`,
    });
    expect(a.received.map((r) => r.method)).toEqual(['status']);
    // With an unreachable endpoint the leader may be the one not heard from: say so.
    const unreachable = (await client([a.endpoint, dead], { retries: 0 })
      .moveLeader(N1)
      .catch((e: unknown) => e)) as KvClientError;
    expect(unreachable).toMatchObject({ reason: 'noLeaderEndpoint', codeName: 'UNAVAILABLE' });
    expect(unreachable.message).toContain(`no leader endpoint given at [${a.endpoint} ${dead}] (`);
    expect(unreachable.message).toContain(`(cannot reach the endpoint (${dead}: `);
  });

  it('passes etcd’s answer to a bad transferee through', async () => {
    a.behaviour = (method) =>
      method === 'status'
        ? { response: statusOf(N1, N1) }
        : {
            error: { code: status.FAILED_PRECONDITION, details: ETCD_ERRORS.badLeaderTransferee },
          };
    const error = await client([a.endpoint])
      .moveLeader(0x1234n)
      .catch((e: unknown) => e);
    expect(isKvClientError(error, 'badLeaderTransferee')).toBe(true);
    expect(a.received.map((r) => r.method)).toEqual(['status', 'moveLeader']);
  });
});
