import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import type * as pb from '@raftkit/rpc/etcd';
import { LEASE_SERVICE } from '@raftkit/rpc/etcd';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  bytes,
  Cluster,
  ETCD_BIN,
  ETCDCTL_BIN,
  EtcdServer,
  type Member,
  sleep,
  text,
  waitFor,
} from './cluster-harness.js';

// etcd's Lease service on real processes: grants and revocations through the log, keep-
// alives and TimeToLive answered by the leader (a follower forwards them), expiry decided
// by the leader and applied through the log on every member, leases kept alive across a
// leader kill; the etcd3 npm package's leases and locks; etcdctl's lease commands
// compared with a real etcd's output.

const run = promisify(execFile);
const LeaseClient = grpc.makeGenericClientConstructor(LEASE_SERVICE, 'Lease');
type Generic = grpc.Client & Record<string, unknown>;

/** leaseApi is a raw client of one endpoint's Lease service. */
function leaseApi(address: string) {
  const client = new LeaseClient(address, grpc.credentials.createInsecure()) as Generic;
  const unary = <Req, Res>(method: string, request: Req): Promise<Res> =>
    new Promise((resolve, reject) =>
      (
        client[method] as (r: Req, o: grpc.CallOptions, cb: (e: unknown, r: Res) => void) => void
      ).call(client, request, { deadline: Date.now() + 5000 }, (error, response) =>
        error ? reject(error) : resolve(response),
      ),
    );
  return {
    grant: (TTL: number, ID = 0n) =>
      unary<pb.LeaseGrantRequest, pb.LeaseGrantResponse>('leaseGrant', { TTL: BigInt(TTL), ID }),
    revoke: (ID: bigint) =>
      unary<pb.LeaseRevokeRequest, pb.LeaseRevokeResponse>('leaseRevoke', { ID }),
    timeToLive: (ID: bigint, keys = false) =>
      unary<pb.LeaseTimeToLiveRequest, pb.LeaseTimeToLiveResponse>('leaseTimeToLive', {
        ID,
        keys,
      }),
    leases: () => unary<pb.LeaseLeasesRequest, pb.LeaseLeasesResponse>('leaseLeases', {}),
    /** keepAlive opens a LeaseKeepAlive stream and collects its responses. */
    keepAlive() {
      const stream = (
        client as unknown as {
          leaseKeepAlive(): grpc.ClientDuplexStream<
            pb.LeaseKeepAliveRequest,
            pb.LeaseKeepAliveResponse
          >;
        }
      ).leaseKeepAlive();
      const responses: pb.LeaseKeepAliveResponse[] = [];
      const errors: Error[] = [];
      stream.on('data', (r: pb.LeaseKeepAliveResponse) => responses.push(r));
      stream.on('error', (e: Error) => errors.push(e));
      return { stream, responses, errors };
    },
    close: () => client.close(),
  };
}

/** keysOn lists the keys under `prefix` in one member's own state (serializable). */
async function keysOn(member: Member, prefix: string): Promise<string[]> {
  const r = await member.api.range(
    { key: bytes(prefix), rangeEnd: bytes(`${prefix.slice(0, -1)}0`), serializable: true },
    { timeoutMs: 2000 },
  );
  return r.kvs.map((kv) => text(kv.key));
}

describe('Leases on a three-member raftkit cluster', () => {
  let cluster: Cluster;
  const closers: (() => void)[] = [];

  beforeAll(async () => {
    cluster = await Cluster.start({ size: 3 });
  }, 40_000);

  afterEach((context) => {
    for (const close of closers.splice(0)) close();
    if (context.task.result?.state === 'fail' && cluster !== undefined) {
      console.error(`--- cluster output (${context.task.name}) ---\n${cluster.logs()}`);
    }
  });

  afterAll(async () => {
    await cluster?.destroy();
  });

  it('a lease kept alive through a follower outlives its TTL, then expires with its keys on every member', async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.followersOf(leader)[0]!;
    const api = leaseApi(follower.address);
    closers.push(api.close);
    const grant = await api.grant(2);
    expect(grant.TTL).toBe(2n);
    expect(grant.ID).toBeGreaterThan(0n);
    await follower.api.put({ key: bytes('l1/a'), value: bytes('1'), lease: grant.ID });
    await follower.api.put({ key: bytes('l1/b'), value: bytes('2'), lease: grant.ID });

    // Keep it alive through the follower (forwarded to the leader) for 3 TTLs.
    const keepAlive = api.keepAlive();
    closers.push(() => keepAlive.stream.cancel());
    for (let i = 0; i < 12; i++) {
      keepAlive.stream.write({ ID: grant.ID });
      await sleep(500);
    }
    expect(keepAlive.errors).toEqual([]);
    expect(keepAlive.responses.length).toBeGreaterThanOrEqual(10);
    expect(keepAlive.responses.every((r) => r.ID === grant.ID && r.TTL === 2n)).toBe(true);
    for (const member of cluster.running)
      expect(await keysOn(member, 'l1/')).toEqual(['l1/a', 'l1/b']);
    const ttl = await api.timeToLive(grant.ID, true);
    expect(ttl.grantedTTL).toBe(2n);
    expect(ttl.TTL).toBeGreaterThanOrEqual(0n);
    expect(ttl.TTL).toBeLessThanOrEqual(2n);
    expect(ttl.keys.map(text).sort()).toEqual(['l1/a', 'l1/b']);
    expect((await api.leases()).leases.map((l) => l.ID)).toContain(grant.ID);

    // Stop keeping it alive: the leader revokes it through the log.
    keepAlive.stream.end();
    const stopped = Date.now();
    for (const member of cluster.running) {
      await waitFor(
        `${member.name} to delete the expired lease's keys`,
        async () => ((await keysOn(member, 'l1/')).length === 0 ? true : undefined),
        10_000,
      );
    }
    // Not before its TTL (with the 500 ms of the last renewal's slack).
    expect(Date.now() - stopped).toBeGreaterThanOrEqual(1000);
    expect((await api.timeToLive(grant.ID)).TTL).toBe(-1n);
    // A keep-alive of the expired lease answers TTL 0, as etcd's does.
    const late = api.keepAlive();
    closers.push(() => late.stream.cancel());
    late.stream.write({ ID: grant.ID });
    const answer = await waitFor('the late keep-alive answer', () => late.responses[0]);
    expect(answer.TTL).toBe(0n);
  }, 60_000);

  it('revoke deletes every key of the lease at one revision; errors are etcd’s', async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.followersOf(leader)[0]!;
    const api = leaseApi(follower.address);
    closers.push(api.close);
    const { ID } = await api.grant(60, 0x1234n);
    expect(ID).toBe(0x1234n);
    for (const key of ['r/a', 'r/b', 'r/c']) {
      await leader.api.put({ key: bytes(key), value: bytes('v'), lease: ID });
    }
    // Moving a key to no lease detaches it: it survives the revocation.
    await leader.api.put({ key: bytes('r/c'), value: bytes('kept') });
    const before = (await leader.api.range({ key: bytes('r/') })).header!.revision;
    const revoked = await api.revoke(ID);
    expect(revoked.header!.revision).toBe(before + 1n);
    for (const member of cluster.running) {
      await waitFor(`${member.name} to apply the revocation`, async () =>
        (await keysOn(member, 'r/')).join() === 'r/c' ? true : undefined,
      );
    }
    const errorOf = async (call: Promise<unknown>) => {
      const error = (await call.then(
        () => undefined,
        (e: unknown) => e,
      )) as grpc.ServiceError | undefined;
      return error === undefined ? 'no error' : `${grpc.status[error.code]}: ${error.details}`;
    };
    expect(await errorOf(api.revoke(ID))).toBe('NOT_FOUND: etcdserver: requested lease not found');
    await api.grant(60, 0x99n);
    expect(await errorOf(api.grant(60, 0x99n))).toBe(
      'FAILED_PRECONDITION: etcdserver: lease already exists',
    );
    expect(await errorOf(api.grant(9_000_000_001))).toBe(
      'OUT_OF_RANGE: etcdserver: too large lease TTL',
    );
    expect(
      await errorOf(leader.api.put({ key: bytes('x'), value: bytes('y'), lease: 0x777n })),
    ).toBe('NOT_FOUND: etcdserver: requested lease not found');
    // A TTL below the minimum is raised to it (1 s at a 500 ms election timeout).
    expect((await api.grant(0)).TTL).toBe(1n);
  }, 60_000);

  it('a grant or revocation retried with the same raftkit-request-id is applied once', async () => {
    const leader = await cluster.waitForLeader();
    const client = new LeaseClient(
      cluster.followersOf(leader)[0]!.address,
      grpc.credentials.createInsecure(),
    ) as Generic;
    closers.push(() => client.close());
    const call = <Req, Res>(method: string, request: Req, requestId: string) =>
      new Promise<Res>((resolve, reject) => {
        const metadata = new grpc.Metadata();
        metadata.set('raftkit-request-id', requestId);
        (
          client[method] as (
            r: Req,
            m: grpc.Metadata,
            cb: (e: grpc.ServiceError | null, r: Res) => void,
          ) => void
        ).call(client, request, metadata, (error, response) =>
          error ? reject(error) : resolve(response),
        );
      });
    const before = (await leaseApi(leader.address).leases()).leases.length;
    const first = await call<pb.LeaseGrantRequest, pb.LeaseGrantResponse>(
      'leaseGrant',
      { TTL: 60n },
      'grant-once',
    );
    const again = await call<pb.LeaseGrantRequest, pb.LeaseGrantResponse>(
      'leaseGrant',
      { TTL: 60n },
      'grant-once',
    );
    expect(again.ID).toBe(first.ID);
    expect((await leaseApi(leader.address).leases()).leases.length).toBe(before + 1);
    await call('leaseRevoke', { ID: first.ID }, 'revoke-once');
    // The retry of an applied revocation succeeds rather than finding no lease.
    await call('leaseRevoke', { ID: first.ID }, 'revoke-once');
    expect((await leaseApi(leader.address).leases()).leases.length).toBe(before);
  }, 30_000);

  it('the etcd3 package keeps a lease and a lock across a leader kill; an abandoned lease expires on the new leader', async () => {
    const leader = await cluster.waitForLeader();
    const etcd = new Etcd3({
      hosts: cluster.running.map((member) => member.clientUrl),
      dialTimeout: 5000,
    });
    closers.push(() => etcd.close());
    const kept = etcd.lease(2);
    await kept.put('k/kept').value('yes');
    const lock = etcd.lock('k/lock').ttl(2);
    await lock.acquire();
    const api = leaseApi(cluster.followersOf(leader)[0]!.address);
    closers.push(api.close);
    const abandoned = await api.grant(2);
    await leader.api.put({ key: bytes('k/abandoned'), value: bytes('x'), lease: abandoned.ID });

    await leader.kill('SIGKILL');
    const next = await cluster.waitForLeader();
    expect(next).not.toBe(leader);
    // The abandoned lease expires: its TTL plus the new leader's extension (an election timeout).
    await waitFor(
      'the abandoned lease to expire',
      async () => ((await keysOn(next, 'k/')).includes('k/abandoned') ? undefined : true),
      10_000,
    );
    // The kept one and the lock live on (their keep-alives found the new leader).
    await sleep(4000);
    expect(await keysOn(next, 'k/')).toEqual(expect.arrayContaining(['k/kept']));
    expect(await lock.leaseId()).not.toBeNull();
    const other = etcd.lock('k/lock').ttl(2);
    await expect(other.acquire()).rejects.toThrow();
    await lock.release();
    await kept.revoke();
    expect(await keysOn(next, 'k/')).not.toContain('k/kept');
    leader.start();
    await leader.waitReady();
  }, 90_000);

  describe.skipIf(!existsSync(ETCDCTL_BIN) || !existsSync(ETCD_BIN))('etcdctl lease', () => {
    let etcd: EtcdServer | undefined;
    afterAll(async () => etcd?.destroy());

    /** session runs etcdctl's lease commands against `endpoint` and returns their output. */
    async function session(endpoint: string): Promise<string> {
      const ctl = async (...args: string[]) => {
        try {
          const { stdout, stderr } = await run(ETCDCTL_BIN, ['--endpoints', endpoint, ...args], {
            env: { ...process.env, ETCDCTL_API: '3' },
          });
          return `${stdout}${stderr.replace(/^\{"level".*\n/gm, '')}`;
        } catch (error) {
          const e = error as { stdout: string; stderr: string; code: number };
          return `${e.stdout}${e.stderr.replace(/^\{"level".*\n/gm, '')}exit ${e.code}\n`;
        }
      };
      const out: string[] = [];
      const granted = await ctl('lease', 'grant', '100');
      out.push(granted);
      const id = /lease ([0-9a-f]+) granted/.exec(granted)?.[1] ?? 'none';
      out.push(await ctl('put', '--lease', id, 'ctl/l', 'v'));
      out.push(await ctl('lease', 'timetolive', id, '--keys'));
      out.push(await ctl('lease', 'keep-alive', '--once', id));
      // Other tests' leases may be listed too: only this one's presence is compared.
      const list = await ctl('lease', 'list');
      out.push(
        `found leases: ${/^found \d+ leases$/m.test(list)}, ours listed: ${list.includes(`\n${id}\n`)}\n`,
      );
      out.push(await ctl('lease', 'revoke', id));
      out.push(await ctl('get', 'ctl/l'));
      out.push(await ctl('lease', 'timetolive', id));
      out.push(await ctl('lease', 'revoke', id));
      out.push(await ctl('lease', 'grant', '10000000000'));
      out.push(await ctl('put', '--lease', '1234', 'ctl/x', 'y'));
      // Lease ids are random; the remaining TTL may be a second apart.
      return out
        .join('---\n')
        .replaceAll(id, '<id>')
        .replace(/remaining\((99|100)s\)/, 'remaining(~100s)');
    }

    it('prints what it prints against etcd', async () => {
      etcd = await EtcdServer.start();
      const leader = await cluster.waitForLeader();
      const ours = await session(cluster.followersOf(leader)[0]!.address);
      const theirs = await session(etcd.address);
      expect(ours).toBe(theirs);
      expect(ours).toContain(
        'lease <id> granted with TTL(100s), remaining(~100s), attached keys([ctl/l])',
      );
      expect(ours).toContain('lease <id> already expired');
    }, 60_000);
  });
});
