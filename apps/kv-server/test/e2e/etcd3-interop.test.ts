import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ETCDCTL_BIN } from './cluster-harness.js';

// Interoperability: clients nobody here wrote drive a three-member raftkit cluster —
// the `etcd3` npm package (KV, txn, STM, maintenance, cluster) and Debian's etcdctl 3.4.
// Leases, watches and locks (which need leases) are not served by raftkit yet and are
// not exercised.

const haveEtcdctl = existsSync(ETCDCTL_BIN);
if (!haveEtcdctl) console.warn(`etcdctl tests skipped: ${ETCDCTL_BIN} is missing`);

describe('stock etcd clients against a three-member raftkit cluster', () => {
  let cluster: Cluster;
  const clients: Etcd3[] = [];

  /** client makes an etcd3 client of the given endpoints (all members by default). */
  const client = (hosts: string[] = cluster.members.map((m) => m.clientUrl)) => {
    const c = new Etcd3({ hosts, dialTimeout: 5000 });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    cluster = await Cluster.start({ size: 3 });
  }, 40_000);

  afterEach((context) => {
    if (context.task.result?.state === 'fail' && !context.task.fails && cluster !== undefined) {
      console.error(`--- cluster output (${context.task.name}) ---\n${cluster.logs()}`);
    }
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await cluster?.destroy();
  });

  describe('the etcd3 npm package', () => {
    it('puts, gets and deletes keys, with revisions and versions', async () => {
      const etcd = client();
      const first = await etcd.put('e3/a').value('1').exec();
      const firstRev = Number(first.header.revision);
      expect(firstRev).toBeGreaterThan(1);
      expect(await etcd.get('e3/a').string()).toBe('1');
      expect(await etcd.get('e3/a').number()).toBe(1);
      expect(await etcd.get('e3/missing').string()).toBeNull();
      expect(await etcd.get('e3/a').exists()).toBe(true);

      const previous = await etcd.put('e3/a').value('2').getPrevious();
      expect(previous.value.toString()).toBe('1');
      await etcd.put('e3/json').value(JSON.stringify({ n: 42 }));
      expect(await etcd.get('e3/json').json()).toEqual({ n: 42 });
      await etcd.put('e3/bin').value(Buffer.from([0, 255, 1]));
      expect(await etcd.get('e3/bin').buffer()).toEqual(Buffer.from([0, 255, 1]));

      const raw = await etcd.get('e3/a').exec();
      expect(raw.kvs).toHaveLength(1);
      expect(raw.kvs[0]!).toMatchObject({
        create_revision: String(firstRev),
        mod_revision: String(firstRev + 1),
        version: '2',
      });
      expect(Number(raw.header.revision)).toBe(firstRev + 3);
      // An old revision reads the old value.
      expect(await etcd.get('e3/a').revision(firstRev).string()).toBe('1');

      const deleted = await etcd.delete().key('e3/a').exec();
      expect(deleted.deleted).toBe('1');
      expect(await etcd.get('e3/a').string()).toBeNull();
      const again = await etcd.delete().key('e3/a').exec();
      expect(again.deleted).toBe('0');
      expect(await etcd.delete().key('e3/json').getPrevious()).toMatchObject([
        { key: Buffer.from('e3/json') },
      ]);
    });

    it('reads and counts by prefix, with limits and sorting, and deletes by prefix', async () => {
      const etcd = client();
      for (const [k, v] of [
        ['p/b', '2'],
        ['p/a', '3'],
        ['p/c', '1'],
        ['pz', 'outside'],
      ] as const) {
        await etcd.put(k).value(v);
      }
      expect(await etcd.getAll().prefix('p/').strings()).toEqual({
        'p/a': '3',
        'p/b': '2',
        'p/c': '1',
      });
      expect(await etcd.getAll().prefix('p/').keys()).toEqual(['p/a', 'p/b', 'p/c']);
      expect(await etcd.getAll().prefix('p/').count()).toBe(3);
      expect(await etcd.getAll().prefix('p').count()).toBe(4);
      expect(await etcd.getAll().prefix('p/').limit(2).keys()).toEqual(['p/a', 'p/b']);
      expect(await etcd.getAll().prefix('p/').sort('Value', 'Ascend').keys()).toEqual([
        'p/c',
        'p/b',
        'p/a',
      ]);
      expect(await etcd.getAll().prefix('p/').sort('Key', 'Descend').keys()).toEqual([
        'p/c',
        'p/b',
        'p/a',
      ]);
      const limited = await etcd.getAll().prefix('p/').limit(1).exec();
      expect(limited.more).toBe(true);
      expect(limited.count).toBe('3');

      // A namespace is a key prefix applied by the client.
      const ns = etcd.namespace('p/');
      expect(await ns.get('a').string()).toBe('3');
      expect(await ns.getAll().keys()).toEqual(['a', 'b', 'c']);

      const removed = await etcd.delete().prefix('p/').exec();
      expect(removed.deleted).toBe('3');
      expect(await etcd.getAll().prefix('p/').count()).toBe(0);
      expect(await etcd.get('pz').string()).toBe('outside');
    });

    it('runs compare-and-swap transactions on value, version, create and mod revision', async () => {
      const etcd = client();
      await etcd.put('cas/k').value('old');

      const swapped = await etcd
        .if('cas/k', 'Value', '==', 'old')
        .then(etcd.put('cas/k').value('new'))
        .else(etcd.get('cas/k'))
        .commit();
      expect(swapped.succeeded).toBe(true);
      expect(await etcd.get('cas/k').string()).toBe('new');

      const stale = await etcd
        .if('cas/k', 'Value', '==', 'old')
        .then(etcd.put('cas/k').value('newer'))
        .else(etcd.get('cas/k'))
        .commit();
      expect(stale.succeeded).toBe(false);
      expect(stale.responses[0]!.response_range!.kvs[0]!.value.toString()).toBe('new');
      expect(await etcd.get('cas/k').string()).toBe('new');

      // Create-if-absent on version 0, then on create revision, mod revision.
      const created = await etcd
        .if('cas/fresh', 'Version', '==', 0)
        .then(etcd.put('cas/fresh').value('1'))
        .commit();
      expect(created.succeeded).toBe(true);
      const notTwice = await etcd
        .if('cas/fresh', 'Version', '==', 0)
        .then(etcd.put('cas/fresh').value('2'))
        .commit();
      expect(notTwice.succeeded).toBe(false);
      const raw = await etcd.get('cas/fresh').exec();
      const { create_revision: create, mod_revision: mod } = raw.kvs[0]!;
      const byCreate = await etcd
        .if('cas/fresh', 'Create', '==', Number(create))
        .and('cas/fresh', 'Mod', '<', Number(mod) + 1)
        .then(etcd.put('cas/fresh').value('3'), etcd.delete().key('cas/k'))
        .commit();
      expect(byCreate.succeeded).toBe(true);
      expect(byCreate.responses).toHaveLength(2);
      expect(await etcd.get('cas/fresh').string()).toBe('3');
      expect(await etcd.get('cas/k').exists()).toBe(false);
    });

    it('keeps a CAS counter exact under contention from clients pinned to different members', async () => {
      const perClient = 15;
      const counters = cluster.members.map((m) => client([m.clientUrl]));
      await counters[0]!.put('counter').value('0');
      let conflicts = 0;
      await Promise.all(
        counters.map(async (etcd) => {
          for (let done = 0; done < perClient; ) {
            const current = await etcd.get('counter').exec();
            const kv = current.kvs[0]!;
            const result = await etcd
              .if('counter', 'Mod', '==', Number(kv.mod_revision))
              .then(etcd.put('counter').value(String(Number(kv.value.toString()) + 1)))
              .commit();
            if (result.succeeded) done++;
            else conflicts++;
          }
        }),
      );
      const final = await counters[1]!.get('counter').exec();
      expect(final.kvs[0]!.value.toString()).toBe(String(perClient * counters.length));
      expect(final.kvs[0]!.version).toBe(String(perClient * counters.length + 1));
      // Not asserted (timing), but reported: how often the guard caught a lost update.
      console.log(`CAS counter: ${conflicts} conflicting attempts retried`);
    });

    it('runs software transactions (STM) that conserve a total under concurrency', async () => {
      // One member: the STM's later reads are serializable at the first read's revision,
      // which only a member that served the first read is sure to have applied.
      const etcd = client([cluster.members[1]!.clientUrl]);
      // Both accounts created in one txn. (etcd3's SerializableSnapshot checks every
      // written key's mod revision against the *earliest* mod revision read, so keys
      // last written at different revisions conflict forever — on a real etcd too.)
      const created = await etcd
        .if('acct/a', 'Version', '==', 0)
        .then(etcd.put('acct/a').value('100'), etcd.put('acct/b').value('100'))
        .commit();
      expect(created.succeeded).toBe(true);
      const transfer = (from: string, to: string, amount: number) =>
        etcd.stm({ retries: 50 }).transact(async (tx) => {
          const a = Number(await tx.get(from).string());
          const b = Number(await tx.get(to).string());
          await tx.put(from).value(String(a - amount));
          await tx.put(to).value(String(b + amount));
        });
      await Promise.all([
        ...Array.from({ length: 5 }, () => transfer('acct/a', 'acct/b', 7)),
        ...Array.from({ length: 5 }, () => transfer('acct/b', 'acct/a', 3)),
      ]);
      const a = Number(await etcd.get('acct/a').string());
      const b = Number(await etcd.get('acct/b').string());
      expect(a + b).toBe(200);
      expect(a).toBe(100 - 5 * 7 + 5 * 3);
    });

    it('reads the members and each endpoint status through the maintenance and cluster clients', async () => {
      const etcd = client();
      const members = await etcd.cluster.memberList({});
      expect(members.members.map((m) => m.name).sort()).toEqual(['m1', 'm2', 'm3']);
      expect(members.members.map((m) => m.clientURLs[0]).sort()).toEqual(
        cluster.members.map((m) => m.clientUrl).sort(),
      );
      const leaders = new Set<string>();
      for (const member of cluster.members) {
        const status = await client([member.clientUrl]).maintenance.status({});
        expect(status.version).toMatch(/^3\.\d+\.\d+$/);
        leaders.add(status.leader);
      }
      expect(leaders.size).toBe(1);
      expect(members.members.map((m) => m.ID)).toContain([...leaders][0]);
    });
  });

  describe.skipIf(!haveEtcdctl)("Debian's etcdctl 3.4 (ETCDCTL_API=3)", () => {
    const etcdctl = (args: string[], input?: string) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        const child = execFile(
          ETCDCTL_BIN,
          ['--endpoints', cluster.endpoints.join(','), '--command-timeout', '5s', ...args],
          { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 15_000 },
          (error, stdout, stderr) =>
            resolve({
              code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1,
              stdout,
              stderr,
            }),
        );
        child.stdin?.end(input ?? '');
      });

    it('put, get, del, txn, compaction and errors: output and exit codes', async () => {
      expect(await etcdctl(['put', 'ctl/foo', 'bar'])).toMatchObject({ code: 0, stdout: 'OK\n' });
      expect(await etcdctl(['get', 'ctl/foo'])).toMatchObject({
        code: 0,
        stdout: 'ctl/foo\nbar\n',
      });
      expect(await etcdctl(['get', 'ctl/foo', '--print-value-only'])).toMatchObject({
        code: 0,
        stdout: 'bar\n',
      });

      const json = await etcdctl(['get', 'ctl/foo', '-w', 'json']);
      expect(json.code).toBe(0);
      const parsed = JSON.parse(json.stdout) as {
        header: { revision: number };
        kvs: { key: string; value: string; version: number; create_revision: number }[];
        count: number;
      };
      expect(parsed.count).toBe(1);
      expect(Buffer.from(parsed.kvs[0]!.key, 'base64').toString()).toBe('ctl/foo');
      expect(Buffer.from(parsed.kvs[0]!.value, 'base64').toString()).toBe('bar');
      expect(parsed.kvs[0]!.version).toBe(1);
      const rev = parsed.header.revision;

      await etcdctl(['put', 'ctl/foo', 'baz']);
      expect(await etcdctl(['get', 'ctl/foo', '--rev', String(rev)])).toMatchObject({
        code: 0,
        stdout: 'ctl/foo\nbar\n',
      });
      await etcdctl(['put', 'ctl/x', '1']);
      expect(await etcdctl(['get', 'ctl/', '--prefix', '--keys-only'])).toMatchObject({
        code: 0,
        stdout: 'ctl/foo\n\nctl/x\n\n',
      });
      const limited = await etcdctl(['get', 'ctl/', '--prefix', '--limit', '1', '-w', 'json']);
      expect(limited.code).toBe(0);
      expect(JSON.parse(limited.stdout)).toMatchObject({ count: 2, more: true });

      // txn reads compares, success ops and failure ops from stdin, blank-line separated.
      const txnInput = 'value("ctl/foo") = "baz"\n\nput ctl/foo qux\n\nget ctl/foo\n\n';
      expect(await etcdctl(['txn'], txnInput)).toMatchObject({
        code: 0,
        stdout: 'SUCCESS\n\nOK\n',
      });
      expect(await etcdctl(['txn'], txnInput)).toMatchObject({
        code: 0,
        stdout: 'FAILURE\n\nctl/foo\nqux\n',
      });

      expect(await etcdctl(['del', 'ctl/', '--prefix'])).toMatchObject({ code: 0, stdout: '2\n' });
      expect(await etcdctl(['del', 'ctl/foo'])).toMatchObject({ code: 0, stdout: '0\n' });

      const future = await etcdctl(['get', 'ctl/foo', '--rev', '999999']);
      expect(future.code).toBe(1);
      expect(future.stderr).toContain(
        'Error: etcdserver: mvcc: required revision is a future revision',
      );

      expect(await etcdctl(['compaction', String(rev)])).toMatchObject({
        code: 0,
        stdout: `compacted revision ${rev}\n`,
      });
      const compacted = await etcdctl(['get', 'ctl/foo', '--rev', String(rev - 1)]);
      expect(compacted.code).toBe(1);
      expect(compacted.stderr).toContain(
        'Error: etcdserver: mvcc: required revision has been compacted',
      );
    });

    it('member list, endpoint status and endpoint health', async () => {
      const list = await etcdctl(['member', 'list']);
      expect(list.code).toBe(0);
      const rows = list.stdout.trim().split('\n');
      expect(rows).toHaveLength(3);
      cluster.members.forEach((member) => {
        expect(rows.find((row) => row.includes(`, ${member.name}, `))).toMatch(
          new RegExp(
            `^[0-9a-f]+, started, ${member.name}, http://127\\.0\\.0\\.1:${member.peerPort}, ${member.clientUrl.replace(/\./g, '\\.')}, false$`,
          ),
        );
      });

      const status = await etcdctl(['endpoint', 'status', '-w', 'json']);
      expect(status.code).toBe(0);
      const statuses = JSON.parse(status.stdout) as {
        Endpoint: string;
        Status: {
          header: { member_id: string | number };
          leader: string | number;
          version: string;
          raftIndex: number;
        };
      }[];
      expect(statuses.map((s) => s.Endpoint)).toEqual(cluster.endpoints);
      // One leader, named by everyone, and it is one of the members.
      const leaders = new Set(statuses.map((s) => String(s.Status.leader)));
      expect(leaders.size).toBe(1);
      expect(statuses.map((s) => String(s.Status.header.member_id))).toContain([...leaders][0]);
      for (const s of statuses) {
        expect(s.Status.version).toBe('3.5.0');
        expect(s.Status.raftIndex).toBeGreaterThan(0);
      }

      const table = await etcdctl(['endpoint', 'status']);
      expect(table).toMatchObject({ code: 0, stderr: '' });
      expect(table.stdout.trim().split('\n')).toHaveLength(3);
      expect(table.stdout.match(/, true, false, /g)).toHaveLength(1);

      const health = await etcdctl(['endpoint', 'health']);
      expect(health.code).toBe(0);
      expect(health.stderr.concat(health.stdout).match(/is healthy/g)).toHaveLength(3);
    });

    it('member add --learner, member list, promote refused, member remove, move-leader', async () => {
      const peerUrl = 'http://127.0.0.1:9';
      const added = await etcdctl(['member', 'add', 'm9', `--peer-urls=${peerUrl}`, '--learner']);
      expect(added).toMatchObject({ code: 0, stderr: '' });
      // etcdctl prints ids with Go's %16x: one with leading zero digits is space-padded.
      const padded = /^Member ([0-9a-f ]{16}) added to cluster ([0-9a-f ]{16})$/m.exec(
        added.stdout,
      )?.[1];
      expect(padded).toBeDefined();
      const id = padded!.trim();
      expect(added.stdout).toContain('ETCD_NAME="m9"');
      expect(added.stdout).toContain(`m9=${peerUrl}`);
      expect(added.stdout).toContain('ETCD_INITIAL_CLUSTER_STATE="existing"');

      const list = await etcdctl(['member', 'list']);
      expect(list.code).toBe(0);
      const lines = list.stdout.trim().split('\n');
      expect(lines).toHaveLength(4);
      // A learner that never started: no name, no client URLs, status "unstarted".
      expect(lines.find((line) => line.startsWith(`${id}, `))).toMatch(
        /, unstarted, , http:\/\/127\.0\.0\.1:9, , true$/,
      );

      const promote = await etcdctl(['member', 'promote', id]);
      expect(promote.code).not.toBe(0);
      expect(promote.stderr).toContain(
        'etcdserver: can only promote a learner member which is in sync with leader',
      );

      const removed = await etcdctl(['member', 'remove', id]);
      expect(removed).toMatchObject({ code: 0, stderr: '' });
      expect(removed.stdout).toMatch(
        new RegExp(`^Member ${padded} removed from cluster [0-9a-f ]{16}`),
      );
      expect((await etcdctl(['member', 'list'])).stdout.trim().split('\n')).toHaveLength(3);
      const again = await etcdctl(['member', 'remove', id]);
      expect(again.code).not.toBe(0);
      expect(again.stderr).toContain('etcdserver: member not found');

      // move-leader: etcdctl finds the leader among the endpoints and asks it to hand over.
      const leader = await cluster.waitForLeader();
      const target = cluster.followersOf(leader)[0]!;
      const targetId = (await target.api.status()).header!.memberId.toString(16);
      const moved = await etcdctl(['move-leader', targetId]);
      expect(moved).toMatchObject({ code: 0 });
      expect(moved.stdout).toMatch(
        new RegExp(`Leadership transferred from [0-9a-f]+ to ${targetId}`),
      );
      expect(await cluster.waitForLeader()).toBe(target);
    });

    // KNOWN BUG (reported): etcdctl 3.4 dials a single endpoint given as a URL
    // (`--endpoints http://host:port`, and the client URLs `--cluster` takes from
    // MemberList) with the whole URL as the HTTP/2 :authority. Go's gRPC server (etcd)
    // accepts it; the grpc-js server answers RST_STREAM PROTOCOL_ERROR, so
    // `etcdctl endpoint status --cluster` fails against raftkit and works against etcd.
    // `it.fails` keeps this visible: once fixed, this test fails and the marker goes.
    it.fails('endpoint status --cluster (endpoints as http:// URLs)', async () => {
      const table = await etcdctl(['endpoint', 'status', '--cluster']);
      expect(table).toMatchObject({ code: 0, stderr: '' });
      expect(table.stdout.trim().split('\n')).toHaveLength(3);
    });
  });
});
