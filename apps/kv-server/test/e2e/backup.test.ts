import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import type * as pb from '@raftkit/rpc/etcd';
import { LEASE_SERVICE, MAINTENANCE_SERVICE } from '@raftkit/rpc/etcd';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytes, Cluster, ETCDCTL_BIN, freePorts, SERVER_MAIN, text } from './cluster-harness.js';

// Backup and restore on real processes: Maintenance.Snapshot streams a member's state
// (what `etcdctl snapshot save` writes to a file), and a new cluster whose members start
// with --initial-snapshot-file holds exactly that state — keys with their revisions and
// history, leases with their keys — under its own membership.

const run = promisify(execFile);
const MaintenanceClient = grpc.makeGenericClientConstructor(MAINTENANCE_SERVICE, 'Maintenance');
const LeaseClient = grpc.makeGenericClientConstructor(LEASE_SERVICE, 'Lease');

/** saveBackup reads Maintenance.Snapshot from `address` into one buffer. */
async function saveBackup(address: string): Promise<{ data: Buffer; remaining: bigint[] }> {
  const client = new MaintenanceClient(address, grpc.credentials.createInsecure());
  try {
    const stream = (
      client as unknown as {
        snapshot(request: object): grpc.ClientReadableStream<pb.SnapshotResponse>;
      }
    ).snapshot({});
    const blobs: Buffer[] = [];
    const remaining: bigint[] = [];
    for await (const response of stream as AsyncIterable<pb.SnapshotResponse>) {
      blobs.push(Buffer.from(response.blob));
      remaining.push(response.remainingBytes);
    }
    return { data: Buffer.concat(blobs), remaining };
  } finally {
    client.close();
  }
}

function leaseCall<Req, Res>(address: string, method: string, request: Req): Promise<Res> {
  const client = new LeaseClient(address, grpc.credentials.createInsecure()) as grpc.Client &
    Record<string, unknown>;
  return new Promise<Res>((resolve, reject) =>
    (client[method] as (r: Req, cb: (e: unknown, r: Res) => void) => void).call(
      client,
      request,
      (error, response) => {
        client.close();
        if (error) reject(error);
        else resolve(response);
      },
    ),
  );
}

describe('backup and restore', () => {
  let source: Cluster | undefined;
  let restored: Cluster | undefined;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'raftkit-backup-'));
  });

  afterAll(async () => {
    await source?.destroy();
    await restored?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('a new cluster started from a backup holds the same keys, history and leases', async () => {
    source = await Cluster.start({ size: 3 });
    const leader = await source.waitForLeader();
    const api = leader.api;
    for (let i = 0; i < 120; i++) {
      await api.put({ key: bytes(`b/${i % 40}`), value: bytes(`v${i}`) });
    }
    await api.deleteRange({ key: bytes('b/7') });
    const midway = (await api.range({ key: bytes('b/0') })).header!.revision;
    await api.compact({ revision: midway - 10n });
    const lease = await leaseCall<pb.LeaseGrantRequest, pb.LeaseGrantResponse>(
      leader.address,
      'leaseGrant',
      { TTL: 600n, ID: 0x77n },
    );
    await api.put({ key: bytes('b/leased'), value: bytes('L'), lease: lease.ID });
    const all = async (member: { api: typeof api }) =>
      member.api.range({ key: Buffer.from([0]), rangeEnd: Buffer.from([0]) });
    const before = await all(leader);
    const revision = before.header!.revision;

    // Backup through a follower: the stream is 32 KiB blobs counting down to 0.
    const follower = source.followersOf(leader)[0]!;
    const { data, remaining } = await saveBackup(follower.address);
    expect(remaining.at(-1)).toBe(0n);
    expect(data.length % 512).toBe(32);
    const hashAt = (await follower.api.hashKV({ revision: midway })).hash;
    const file = join(dir, 'backup.db');
    await writeFile(file, data);

    restored = await Cluster.start({ size: 3, extraArgs: ['--initial-snapshot-file', file] });
    const newLeader = await restored.waitForLeader();
    for (const member of restored.members) {
      const after = await all(member);
      expect(after.kvs.map((kv) => [text(kv.key), text(kv.value), kv.modRevision])).toEqual(
        before.kvs.map((kv) => [text(kv.key), text(kv.value), kv.modRevision]),
      );
      expect(after.header!.revision).toBe(revision);
      // The history since the compaction came along: HashKV agrees at an old revision.
      expect((await member.api.hashKV({ revision: midway })).hash).toBe(hashAt);
    }
    const ttl = await leaseCall<pb.LeaseTimeToLiveRequest, pb.LeaseTimeToLiveResponse>(
      newLeader.address,
      'leaseTimeToLive',
      { ID: 0x77n, keys: true },
    );
    expect(ttl.grantedTTL).toBe(600n);
    expect(ttl.keys.map(text)).toEqual(['b/leased']);
    // Its own membership, and writes go on from the backup's revision.
    const members = await newLeader.api.memberList();
    expect(members.members.map((m) => m.name).sort()).toEqual(['m1', 'm2', 'm3']);
    expect(members.header!.clusterId).not.toBe(before.header!.clusterId);
    const put = await newLeader.api.put({ key: bytes('b/new'), value: bytes('x') });
    expect(put.header!.revision).toBe(revision + 1n);
  }, 120_000);

  it.skipIf(!existsSync(ETCDCTL_BIN))(
    'etcdctl snapshot save writes the same backup',
    async () => {
      const leader = await source!.waitForLeader();
      const file = join(dir, 'etcdctl.db');
      const { stdout } = await run(
        ETCDCTL_BIN,
        ['--endpoints', leader.address, 'snapshot', 'save', file],
        { env: { ...process.env, ETCDCTL_API: '3' } },
      );
      expect(stdout).toContain(`Snapshot saved at ${file}`);
      const saved = await readFile(file);
      expect(saved.length % 512).toBe(32);
      expect(saved.subarray(0, 4).toString('latin1')).toBe('RKSM');
    },
    60_000,
  );

  it('a member given a damaged backup refuses to start and says why', async () => {
    const good = await readFile(join(dir, 'backup.db'));
    const bad = join(dir, 'bad.db');
    await writeFile(bad, good.subarray(0, good.length - 100));
    const [clientPort, peerPort] = (await freePorts(2)) as [number, number];
    const peer = `http://127.0.0.1:${peerPort}`;
    const result = await run(
      process.execPath,
      [
        SERVER_MAIN,
        ...['--name', 'x1', '--data-dir', join(dir, 'x1')],
        ...['--listen-client-urls', `http://127.0.0.1:${clientPort}`],
        ...['--advertise-client-urls', `http://127.0.0.1:${clientPort}`],
        ...['--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer],
        ...['--initial-cluster', `x1=${peer}`, '--initial-snapshot-file', bad],
      ],
      { timeout: 30_000 },
    ).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/KV_BACKUP: .*bad\.db is not a usable raftkit backup/);
  }, 60_000);
});
