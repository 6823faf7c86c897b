import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { status as grpcStatus } from '@grpc/grpc-js';
import { beforeAll, describe, expect, it } from 'vitest';
import { isKvClientError, KvClient, type KvClientError } from '../src/index.js';
import {
  hasEtcdctl,
  type ProcessResult,
  REAL_SERVERS,
  type RealEtcd,
  type RealServerKind,
  runProcess,
  startCliProcess,
  useRealServer,
} from './etcd-harness.js';
import { closedPort } from './fake-server.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const hasCli = existsSync(CLI);

for (const kind of REAL_SERVERS) {
  if (kind.skip !== undefined) {
    console.log(`[kv-client] skipping real-${kind.name} lease tests: ${kind.skip}`);
  }
}

const hex = (id: bigint): string => id.toString(16).padStart(16, '0');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// etcdctl logs its client's retries as JSON lines on stderr; only its own lines compare.
const errorLines = (stderr: string): string =>
  stderr
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('{"level"'))
    .join('\n');

const startKeepAlive = startCliProcess;

// The same suite against a real etcd 3.4 and against raftkit's own kv-server; `etcd` below
// is whichever server this run is against.
for (const kind of REAL_SERVERS) describeLeases(kind);

function describeLeases(kind: RealServerKind): void {
  describe.skipIf(kind.skip !== undefined)(`leases against a real ${kind.name}`, () => {
    let etcd: RealEtcd;
    let kv: KvClient;

    useRealServer(kind.start, (started, client) => {
      etcd = started;
      kv = client;
    });

    const raftkitctl = (args: string[]): Promise<ProcessResult> =>
      runProcess(process.execPath, [CLI, '--endpoints', etcd.endpoint, ...args]);
    const etcdctl = (args: string[]): Promise<ProcessResult> =>
      runProcess('etcdctl', ['--endpoints', etcd.endpoint, ...args]);

    // Waits (polling, up to 15 s) until the server no longer knows the lease.
    async function waitGone(id: bigint): Promise<void> {
      const end = Date.now() + 15_000;
      while ((await kv.leaseTimeToLive(id)).TTL !== -1n) {
        if (Date.now() > end) throw new Error(`lease ${hex(id)} did not expire`);
        await sleep(200);
      }
    }

    describe('KvClient', () => {
      it('grant → put with the lease → timeToLive with keys → keepAliveOnce → revoke → key gone', async () => {
        const granted = await kv.leaseGrant(60);
        expect(granted.TTL).toBe(60n);
        expect(granted.ID).toBeGreaterThan(0n);
        await kv.put('lease/a', '1', { lease: granted.ID });
        await kv.put('lease/b', '2', { lease: granted.ID });
        const ttl = await kv.leaseTimeToLive(granted.ID, { keys: true });
        expect(ttl.ID).toBe(granted.ID);
        expect(ttl.grantedTTL).toBe(60n);
        expect(ttl.TTL).toBeGreaterThan(0n);
        expect(ttl.TTL).toBeLessThanOrEqual(60n);
        expect(ttl.keys.map((key) => Buffer.from(key).toString()).sort()).toEqual([
          'lease/a',
          'lease/b',
        ]);
        expect((await kv.get('lease/a')).kvs[0]?.lease).toBe(granted.ID);
        const renewed = await kv.leaseKeepAliveOnce(granted.ID);
        expect(renewed).toMatchObject({ ID: granted.ID, TTL: 60n });
        const listed = await kv.leaseLeases();
        expect(listed.leases.map((lease) => lease.ID)).toContain(granted.ID);
        await kv.leaseRevoke(granted.ID);
        expect((await kv.get('lease/', { prefix: true })).count).toBe(0n);
        expect(await kv.leaseTimeToLive(granted.ID)).toMatchObject({ TTL: -1n, grantedTTL: 0n });
      });

      it('grants a chosen id once, and reports etcd’s lease errors', async () => {
        const id = 0x694d7b3c2b4a7a0en;
        expect((await kv.leaseGrant(30, { id })).ID).toBe(id);
        const again = (await kv.leaseGrant(30, { id }).catch((e) => e)) as KvClientError;
        expect(isKvClientError(again, 'leaseExists')).toBe(true);
        expect(again.details).toBe('etcdserver: lease already exists');
        await kv.leaseRevoke(id);
        const revoked = (await kv.leaseRevoke(id).catch((e) => e)) as KvClientError;
        expect(revoked).toMatchObject({
          code: grpcStatus.NOT_FOUND,
          details: 'etcdserver: requested lease not found',
          reason: 'leaseNotFound',
        });
        expect(await kv.leaseTimeToLive(0x1234n, { keys: true })).toMatchObject({
          ID: 0x1234n,
          TTL: -1n,
          grantedTTL: 0n,
          keys: [],
        });
        const once = (await kv.leaseKeepAliveOnce(0x1234n).catch((e) => e)) as KvClientError;
        expect(isKvClientError(once, 'leaseNotFound')).toBe(true);
        const tooLarge = (await kv.leaseGrant(9_000_000_001).catch((e) => e)) as KvClientError;
        expect(isKvClientError(tooLarge, 'leaseTtlTooLarge')).toBe(true);
      });

      it('keepAlive keeps a 2 s lease alive well past its TTL; closed, the lease expires', async () => {
        const { ID } = await kv.leaseGrant(2);
        await kv.put('lease/kept', 'x', { lease: ID });
        const ttls: bigint[] = [];
        const keepAlive = kv.leaseKeepAlive(ID, {
          onResponse: (response) => ttls.push(response.TTL),
        });
        await sleep(5000);
        // Renewed about every 0.7 s; without renewals it would have expired 3 s ago.
        expect(ttls.length).toBeGreaterThanOrEqual(3);
        expect(ttls.every((ttl) => ttl === 2n)).toBe(true);
        expect((await kv.leaseTimeToLive(ID)).TTL).toBeGreaterThan(0n);
        expect((await kv.get('lease/kept')).count).toBe(1n);
        keepAlive.close();
        expect(await keepAlive.done).toEqual({ reason: 'closed' });
        const renewals = ttls.length;
        await waitGone(ID);
        expect(ttls.length).toBe(renewals);
        expect((await kv.get('lease/kept')).count).toBe(0n);
      }, 30_000);

      it('keepAlive ends with leaseNotFound once the lease is revoked', async () => {
        const { ID } = await kv.leaseGrant(3);
        const keepAlive = kv.leaseKeepAlive(ID);
        const first = await keepAlive[Symbol.asyncIterator]().next();
        expect(first.value?.TTL).toBe(3n);
        await kv.leaseRevoke(ID);
        expect(await keepAlive.done).toEqual({ reason: 'leaseNotFound' });
      }, 15_000);

      it('keepAlive fails over from a dead endpoint', async () => {
        const failover = new KvClient({
          endpoints: [`127.0.0.1:${await closedPort()}`, etcd.endpoint],
          dialTimeoutMs: 1000,
        });
        try {
          const { ID } = await failover.leaseGrant(2);
          const keepAlive = failover.leaseKeepAlive(ID);
          const first = await keepAlive[Symbol.asyncIterator]().next();
          expect(first.value).toMatchObject({ ID, TTL: 2n });
          keepAlive.close();
          await failover.leaseRevoke(ID);
        } finally {
          failover.close();
        }
      }, 15_000);
    });

    describe.skipIf(!hasCli)('raftkitctl', () => {
      it('grant → put --lease → timetolive --keys → keep-alive --once → revoke → key gone', async () => {
        const grant = await raftkitctl(['lease', 'grant', '60']);
        expect(grant.code).toBe(0);
        const match = /^lease ([0-9a-f]{16}) granted with TTL\(60s\)\n$/.exec(grant.stdout);
        expect(match).not.toBeNull();
        const id = match?.[1] as string;
        expect(await raftkitctl(['put', '--lease', id, 'cli-lease/k', 'v'])).toMatchObject({
          code: 0,
          stdout: 'OK\n',
        });
        const ttl = await raftkitctl(['lease', 'timetolive', id, '--keys']);
        expect(ttl.stdout).toMatch(
          new RegExp(
            `^lease ${id} granted with TTL\\(60s\\), remaining\\(\\d+s\\), attached keys\\(\\[cli-lease/k\\]\\)\\n$`,
          ),
        );
        expect(await raftkitctl(['lease', 'keep-alive', '--once', id])).toMatchObject({
          code: 0,
          stdout: `lease ${id} keepalived with TTL(60)\n`,
        });
        expect(await raftkitctl(['lease', 'revoke', id])).toMatchObject({
          code: 0,
          stdout: `lease ${id} revoked\n`,
        });
        expect(await raftkitctl(['get', 'cli-lease/k'])).toMatchObject({ code: 0, stdout: '' });
        expect((await raftkitctl(['lease', 'timetolive', id])).stdout).toBe(
          `lease ${id} already expired\n`,
        );
      });

      describe.skipIf(!hasEtcdctl)('output and exit codes identical to etcdctl', () => {
        let id: string;

        beforeAll(async () => {
          // Only this block's leases, in a known expiry order, so `lease list` is stable.
          for (const lease of (await kv.leaseLeases()).leases) {
            await kv.leaseRevoke(lease.ID).catch(() => undefined);
          }
          id = hex((await kv.leaseGrant(600)).ID);
          await kv.leaseGrant(900);
          await kv.put('same-lease/a', '1', { lease: BigInt(`0x${id}`) });
        });

        // `remaining(Ns)` and `"ttl":N` count down, and may tick between the two runs.
        const steady = (stdout: string): string =>
          stdout.replace(/remaining\(\d+s\)/g, 'remaining(_)').replace(/"ttl":\d+/g, '"ttl":_');

        // `<id>` stands for a live lease with a key attached.
        const cases: string[][] = [
          ['lease', 'timetolive', '<id>'],
          ['lease', 'timetolive', '<id>', '--keys'],
          ['lease', 'timetolive', '<id>', '--keys', '-w', 'json'],
          ['lease', 'timetolive', '1234'],
          ['lease', 'timetolive', '1234', '--keys', '-w', 'json'],
          ['lease', 'timetolive', '--', '-1'],
          ['lease', 'list'],
          ['lease', 'list', '-w', 'json'],
          ['lease', 'keep-alive', '--once', '<id>'],
          ['lease', 'keep-alive', '--once', '<id>', '-w', 'json'],
          ['lease', 'keep-alive', '--once', '1234'],
          ['lease', 'keep-alive', '1234'],
          ['lease', 'revoke', '1234'],
          ['lease', 'revoke', 'zz'],
          ['lease', 'revoke'],
          ['lease', 'grant', 'x'],
          ['lease', 'grant', '9223372036854775808'],
          ['lease', 'grant', '9000000001'],
          ['lease', 'timetolive', '8000000000000000'],
          ['lease', 'timetolive'],
          ['lease', 'keep-alive', '1', '2'],
          ['lease', 'timetolive', '<id>', '-w', 'table'],
          ['lease', 'list', '-w', 'table'],
        ];
        for (const args of cases) {
          it(args.join(' '), async () => {
            const argv = args.map((arg) => (arg === '<id>' ? id : arg));
            const [ours, theirs] = await Promise.all([raftkitctl(argv), etcdctl(argv)]);
            expect(ours.code).toBe(theirs.code);
            expect(steady(ours.stdout)).toBe(steady(theirs.stdout));
            if (ours.code !== 0 && ours.code !== 4) {
              expect(errorLines(ours.stderr)).toBe(errorLines(theirs.stderr));
            }
          });
        }

        it('lease grant, simple and JSON (the ids differ; the rest does not)', async () => {
          for (const args of [
            ['lease', 'grant', '100'],
            ['lease', 'grant', '0', '-w', 'json'],
          ]) {
            const [ours, theirs] = await Promise.all([raftkitctl(args), etcdctl(args)]);
            const anyId = (stdout: string) =>
              stdout.replace(/[0-9a-f]{16}/, '<id>').replace(/"ID":\d+/, '"ID":_');
            expect(ours.code).toBe(theirs.code);
            expect(anyId(ours.stdout)).toBe(anyId(theirs.stdout));
          }
        });

        it('lease revoke -w json', async () => {
          const [a, b] = [(await kv.leaseGrant(60)).ID, (await kv.leaseGrant(60)).ID];
          const ours = await raftkitctl(['lease', 'revoke', hex(a), '-w', 'json']);
          const theirs = await etcdctl(['lease', 'revoke', hex(b), '-w', 'json']);
          expect(ours.code).toBe(0);
          expect(ours.stdout).toMatch(
            /^\{"header":\{"cluster_id":\d+,"member_id":\d+,"revision":\d+,"raft_term":\d+\}\}\n$/,
          );
          expect(ours.stdout).toBe(theirs.stdout);
        });

        it('lease keep-alive until revoked: the same renewals, then the same last line', async () => {
          const lease = (await kv.leaseGrant(3)).ID;
          const ours = startKeepAlive(process.execPath, [
            CLI,
            '--endpoints',
            etcd.endpoint,
            'lease',
            'keep-alive',
            hex(lease),
          ]);
          const theirs = startKeepAlive('etcdctl', [
            '--endpoints',
            etcd.endpoint,
            'lease',
            'keep-alive',
            hex(lease),
          ]);
          await Promise.all([ours.waitForLines(2), theirs.waitForLines(2)]);
          await kv.leaseRevoke(lease);
          const [ourExit, theirExit] = await Promise.all([ours.exited, theirs.exited]);
          expect(ourExit).toEqual(theirExit);
          expect(ourExit).toEqual({ code: 0, signal: null });
          const renewal = `lease ${hex(lease)} keepalived with TTL(3)`;
          const gone = `lease ${hex(lease)} expired or revoked.`;
          for (const lines of [ours.lines(), theirs.lines()]) {
            expect(lines.at(-1)).toBe(gone);
            expect(new Set(lines.slice(0, -1))).toEqual(new Set([renewal]));
          }
        }, 30_000);

        it('lease keep-alive dies of SIGINT, as etcdctl does', async () => {
          const lease = (await kv.leaseGrant(3)).ID;
          const args = ['--endpoints', etcd.endpoint, 'lease', 'keep-alive', hex(lease)];
          const ours = startKeepAlive(process.execPath, [CLI, ...args]);
          const theirs = startKeepAlive('etcdctl', args);
          await Promise.all([ours.waitForLines(1), theirs.waitForLines(1)]);
          ours.child.kill('SIGINT');
          theirs.child.kill('SIGINT');
          const [ourExit, theirExit] = await Promise.all([ours.exited, theirs.exited]);
          expect(ourExit).toEqual(theirExit);
          expect(ourExit).toEqual({ code: null, signal: 'SIGINT' });
          expect(ours.lines().every((line) => line.includes('keepalived with TTL(3)'))).toBe(true);
          await kv.leaseRevoke(lease);
        }, 30_000);
      });
    });
  });
}
