import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { status as grpcStatus } from '@grpc/grpc-js';
import { beforeAll, describe, expect, it } from 'vitest';
import { KvClient, KvClientError, Op } from '../src/index.js';
import { hasEtcd, hasEtcdctl, type RealEtcd, useRealEtcd } from './etcd-harness.js';
import { closedPort } from './fake-server.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const hasCli = existsSync(CLI);

if (!hasEtcd) {
  console.log(
    '[kv-client] skipping real-etcd tests: no `etcd` binary (apt-get install etcd-server etcd-client)',
  );
} else if (!hasCli) {
  console.log(
    '[kv-client] skipping raftkitctl-vs-etcd tests: dist/cli.js is not built (npx tsc -p tsconfig.json)',
  );
}

const text = (bytes: Uint8Array | undefined): string => Buffer.from(bytes ?? []).toString();

describe.skipIf(!hasEtcd)('against a real etcd', () => {
  let etcd: RealEtcd;
  let kv: KvClient;

  useRealEtcd((started, client) => {
    etcd = started;
    kv = client;
  });

  async function raftkitctl(
    args: string[],
    stdin?: string,
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    return cli(process.execPath, [CLI, '--endpoints', etcd.endpoint, ...args], stdin);
  }

  async function etcdctl(
    args: string[],
    stdin?: string,
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    return cli('etcdctl', ['--endpoints', etcd.endpoint, ...args], stdin);
  }

  async function cli(file: string, args: string[], stdin?: string) {
    const child = run(file, args, { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 20_000 });
    if (stdin !== undefined) {
      child.child.stdin?.end(stdin);
    } else {
      child.child.stdin?.end();
    }
    try {
      const { stdout, stderr } = await child;
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
    }
  }

  describe('KvClient', () => {
    it('puts and gets with etcd’s revisions and versions', async () => {
      const first = await kv.put('kc/a', '1');
      const second = await kv.put('kc/a', '2', { prevKv: true });
      expect(second.header?.revision).toBe((first.header?.revision ?? 0n) + 1n);
      expect(text(second.prevKv?.value)).toBe('1');
      const got = await kv.get('kc/a');
      expect(got.count).toBe(1n);
      const [item] = got.kvs;
      expect(item?.version).toBe(2n);
      expect(item?.createRevision).toBe(first.header?.revision);
      expect(item?.modRevision).toBe(second.header?.revision);
      expect(text(item?.value)).toBe('2');
    });

    it('reads prefixes, ranges, limits, counts and sorted results', async () => {
      await kv.put('kc/r/1', 'x');
      await kv.put('kc/r/2', 'yy');
      await kv.put('kc/r/3', 'z');
      const prefix = await kv.get('kc/r/', { prefix: true });
      expect(prefix.kvs.map((k) => text(k.key))).toEqual(['kc/r/1', 'kc/r/2', 'kc/r/3']);
      const limited = await kv.get('kc/r/', { prefix: true, limit: 2 });
      expect(limited).toMatchObject({ more: true, count: 3n });
      expect(limited.kvs).toHaveLength(2);
      expect((await kv.get('kc/r/', { prefix: true, countOnly: true })).kvs).toEqual([]);
      const keysOnly = await kv.get('kc/r/1', { rangeEnd: 'kc/r/3', keysOnly: true });
      expect(keysOnly.kvs.map((k) => [text(k.key), k.value.length])).toEqual([
        ['kc/r/1', 0],
        ['kc/r/2', 0],
      ]);
      const sorted = await kv.get('kc/r/', {
        prefix: true,
        sortTarget: 'modify',
        sortOrder: 'descend',
      });
      expect(sorted.kvs.map((k) => text(k.key))).toEqual(['kc/r/3', 'kc/r/2', 'kc/r/1']);
      const fromKey = await kv.get('kc/r/2', { fromKey: true, serializable: true });
      expect(fromKey.kvs.map((k) => text(k.key))).toContain('kc/r/3');
    });

    it('reads an older revision, compacts, and reports compacted and future revisions', async () => {
      const old = await kv.put('kc/rev', 'old');
      await kv.put('kc/rev', 'new');
      const past = await kv.get('kc/rev', { revision: old.header?.revision ?? 0n });
      expect(text(past.kvs[0]?.value)).toBe('old');
      const current = (await kv.get('kc/rev')).header?.revision ?? 0n;
      await kv.compact(current);
      const compacted = (await kv
        .get('kc/rev', { revision: old.header?.revision ?? 0n })
        .catch((e) => e)) as KvClientError;
      expect(compacted).toBeInstanceOf(KvClientError);
      expect(compacted).toMatchObject({
        code: grpcStatus.OUT_OF_RANGE,
        details: 'etcdserver: mvcc: required revision has been compacted',
      });
      const future = (await kv
        .get('kc/rev', { revision: current + 100n })
        .catch((e) => e)) as KvClientError;
      expect(future.details).toBe('etcdserver: mvcc: required revision is a future revision');
    });

    it('deletes ranges with prevKv', async () => {
      await kv.put('kc/d/1', 'a');
      await kv.put('kc/d/2', 'b');
      const deleted = await kv.delete('kc/d/', { prefix: true, prevKv: true });
      expect(deleted.deleted).toBe(2n);
      expect(deleted.prevKvs.map((k) => text(k.value))).toEqual(['a', 'b']);
      expect((await kv.get('kc/d/', { prefix: true })).count).toBe(0n);
    });

    it('runs compare-and-swap transactions on every compare target', async () => {
      const created = await kv.put('kc/t', 'v1');
      const rev = created.header?.revision ?? 0n;
      const swap = await kv
        .txn()
        .if('kc/t', 'value', '=', 'v1')
        .if('kc/t', 'version', '=', 1)
        .if('kc/t', 'createRevision', '=', rev)
        .if('kc/t', 'modRevision', '<', rev + 1n)
        .if('kc/t', 'lease', '=', 0)
        .then(Op.put('kc/t', 'v2'), Op.get('kc/t'))
        .else(Op.get('kc/t'))
        .commit();
      expect(swap.succeeded).toBe(true);
      const read = swap.responses[1];
      expect(read && 'responseRange' in read && text(read.responseRange.kvs[0]?.value)).toBe('v2');
      const lost = await kv
        .txn()
        .if('kc/t', 'value', '=', 'v1')
        .then(Op.put('kc/t', 'v3'))
        .else(Op.get('kc/t'))
        .commit();
      expect(lost.succeeded).toBe(false);
      expect(lost.responses[0]?.response).toBe('responseRange');
      const absent = await kv
        .txn()
        .if('kc/none', 'version', '=', 0)
        .then(Op.put('kc/none', 'x'))
        .commit();
      expect(absent.succeeded).toBe(true);
      const nested = await kv.txnRequest({
        success: [{ requestTxn: { success: [Op.get('kc/none')] } }],
      });
      const inner = nested.responses[0];
      expect(inner && 'responseTxn' in inner && inner.responseTxn.responses).toHaveLength(1);
    });

    it('lists members and reads status with exact uint64 ids', async () => {
      const members = await kv.memberList();
      expect(members.members).toHaveLength(1);
      const member = members.members[0];
      expect(member?.name).toBe('t');
      expect(member?.clientURLs).toEqual([`http://${etcd.endpoint}`]);
      const status = await kv.status(etcd.endpoint);
      expect(status.version).toMatch(/^3\./);
      expect(status.leader).toBe(member?.ID);
      expect(status.header?.memberId).toBe(member?.ID);
      expect(status.header?.clusterId).toBe(members.header?.clusterId);
      expect(status.raftAppliedIndex).toBeGreaterThan(0n);
      expect(status.dbSize).toBeGreaterThan(0n);
    });

    it('passes etcd’s errors through and fails over from a dead endpoint', async () => {
      const empty = (await kv.put('', 'x').catch((e) => e)) as KvClientError;
      expect(empty).toMatchObject({
        code: grpcStatus.INVALID_ARGUMENT,
        details: 'etcdserver: key is not provided',
      });
      const dup = (await kv
        .txn()
        .then(Op.put('kc/x', '1'), Op.put('kc/x', '2'))
        .commit()
        .catch((e) => e)) as KvClientError;
      expect(dup.details).toBe('etcdserver: duplicate key given in txn request');
      const failover = new KvClient({
        endpoints: [`127.0.0.1:${await closedPort()}`, etcd.endpoint],
      });
      try {
        expect((await failover.put('kc/failover', 'ok')).header?.revision).toBeGreaterThan(0n);
      } finally {
        failover.close();
      }
    });
  });

  describe.skipIf(!hasCli)('raftkitctl', () => {
    it('writes and reads like etcdctl', async () => {
      expect(await raftkitctl(['put', 'cli/a', 'hello'])).toMatchObject({
        code: 0,
        stdout: 'OK\n',
      });
      expect((await raftkitctl(['put', 'cli/a', 'world', '--prev-kv'])).stdout).toBe(
        'OK\ncli/a\nhello\n',
      );
      expect((await raftkitctl(['get', 'cli/a', '--print-value-only'])).stdout).toBe('world\n');
      await raftkitctl(['put', 'cli/b', 'two']);
      const getJson = JSON.parse(
        (await raftkitctl(['get', 'cli/', '--prefix', '-w', 'json'])).stdout,
      );
      expect(
        getJson.kvs.map((k: { key: string }) => Buffer.from(k.key, 'base64').toString()),
      ).toEqual(['cli/a', 'cli/b']);
      expect((await raftkitctl(['get', 'cli/', '--prefix', '--count-only'])).stdout).toBe('2\n');
      expect((await raftkitctl(['del', 'cli/', '--prefix', '--prev-kv'])).stdout).toBe(
        '2\ncli/a\nworld\ncli/b\ntwo\n',
      );
    });

    it('runs a txn from stdin', async () => {
      await raftkitctl(['put', 'cli/t', 'v1']);
      const input = 'value("cli/t") = "v1"\n\nput cli/t v2\nget cli/t\n\nget cli/t\n\n';
      const result = await raftkitctl(['txn'], input);
      expect(result).toMatchObject({ code: 0, stdout: 'SUCCESS\n\nOK\n\ncli/t\nv2\n' });
    });

    it('exits 1 with etcd’s message on errors', async () => {
      const empty = await raftkitctl(['put', '', 'x']);
      expect(empty).toMatchObject({ code: 1, stderr: 'Error: etcdserver: key is not provided\n' });
      const future = await raftkitctl(['get', 'cli/a', '--rev', '999999']);
      expect(future.stderr).toBe(
        'Error: etcdserver: mvcc: required revision is a future revision\n',
      );
      const unreachable = await cli(process.execPath, [
        CLI,
        '--endpoints',
        `127.0.0.1:${await closedPort()}`,
        'get',
        'x',
      ]);
      expect(unreachable.code).toBe(1);
      expect(unreachable.stderr).toMatch(/^Error: cannot reach the endpoint/);
    });

    describe.skipIf(!hasEtcdctl)('output identical to etcdctl', () => {
      beforeAll(async () => {
        await etcdctl(['put', 'same/a', 'A']);
        await etcdctl(['put', 'same/b', 'B']);
        await etcdctl(['put', 'same/a', 'A2']);
      });

      const cases: string[][] = [
        ['get', 'same/a'],
        ['get', 'same/', '--prefix'],
        ['get', 'same/', '--prefix', '-w', 'json'],
        ['get', 'same/', '--prefix', '--keys-only'],
        ['get', 'same/a', '--from-key', '--limit', '1', '-w', 'json'],
        ['get', 'same/', '--prefix', '--sort-by', 'MODIFY', '--order', 'DESCEND'],
        ['get', 'same/', '--prefix', '--consistency', 's', '--print-value-only'],
        ['get', 'same/none', '-w', 'json'],
        ['member', 'list'],
        ['member', 'list', '-w', 'json'],
        ['member', 'list', '-w', 'table'],
        ['endpoint', 'status'],
        ['endpoint', 'status', '-w', 'json'],
        ['endpoint', 'status', '-w', 'table'],
      ];
      for (const args of cases) {
        it(args.join(' '), async () => {
          const [ours, theirs] = await Promise.all([raftkitctl(args), etcdctl(args)]);
          expect(ours.code).toBe(theirs.code);
          expect(ours.stdout.trimEnd()).toBe(theirs.stdout.trimEnd());
        });
      }

      it('txn output', async () => {
        const input =
          'version("same/a") = "2"\n\nget same/a\nget same/ --prefix --limit=1\n\nget same/b\n\n';
        const ours = await raftkitctl(['txn'], input);
        const theirs = await etcdctl(['txn'], input);
        expect(ours.stdout).toBe(theirs.stdout);
        expect(ours.stdout.startsWith('SUCCESS\n')).toBe(true);
      });
    });

    it('endpoint hashkv and snapshot save print and store what etcdctl does', async () => {
      await raftkitctl(['put', 'cli/h', 'x']);
      for (const args of [
        ['endpoint', 'hashkv'],
        ['endpoint', 'hashkv', '--rev', '2'],
      ]) {
        const ours = await raftkitctl(args);
        const theirs = await etcdctl(args);
        expect({ args, code: ours.code, stdout: ours.stdout }).toEqual({
          args,
          code: theirs.code,
          stdout: theirs.stdout,
        });
      }
      expect((await raftkitctl(['endpoint', 'hashkv'])).stdout).toMatch(
        /^127\.0\.0\.1:\d+, \d+\n$/,
      );
      const dir = mkdtempSync(join(tmpdir(), 'raftkitctl-snapshot-'));
      try {
        const ours = await raftkitctl(['snapshot', 'save', join(dir, 'ours.db')]);
        const theirs = await etcdctl(['snapshot', 'save', join(dir, 'theirs.db')]);
        expect(ours).toMatchObject({
          code: 0,
          stdout: `Snapshot saved at ${join(dir, 'ours.db')}\n`,
        });
        expect(theirs.code).toBe(0);
        // Nothing was written in between: the same bytes (etcd's db file and its SHA-256).
        expect(
          readFileSync(join(dir, 'ours.db')).equals(readFileSync(join(dir, 'theirs.db'))),
        ).toBe(true);
        expect(existsSync(join(dir, 'ours.db.part'))).toBe(false);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      const two = await cli(process.execPath, [
        CLI,
        '--endpoints',
        `${etcd.endpoint},127.0.0.1:1`,
        'snapshot',
        'save',
        '/tmp/never.db',
      ]);
      expect(two.code).toBe(4);
      expect(two.stderr).toContain('snapshot must be requested to one selected node, not multiple');
    });
  });
});
