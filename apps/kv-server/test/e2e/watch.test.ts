import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type * as pb from '@raftkit/rpc/etcd';
import { WATCH_SERVICE } from '@raftkit/rpc/etcd';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  bytes,
  Cluster,
  ETCD_BIN,
  ETCDCTL_BIN,
  type EtcdApi,
  EtcdServer,
  type Member,
  sleep,
  text,
  waitFor,
} from './cluster-harness.js';

// etcd's Watch service on real processes: a watch on a follower sees the writes made
// through the leader in order and with no gap, across a leader kill; the etcd3 npm
// package's watcher and Debian's etcdctl (its output compared with a real etcd's).

const WatchClient = grpc.makeGenericClientConstructor(WATCH_SERVICE, 'Watch');
const haveEtcdctl = existsSync(ETCDCTL_BIN);
const haveEtcd = existsSync(ETCD_BIN);

/** openWatch opens a raw Watch stream and collects its responses. */
function openWatch(address: string) {
  const client = new WatchClient(address, grpc.credentials.createInsecure());
  const stream = (
    client as unknown as { watch(): grpc.ClientDuplexStream<pb.WatchRequest, pb.WatchResponse> }
  ).watch();
  const responses: pb.WatchResponse[] = [];
  const errors: Error[] = [];
  stream.on('data', (r: pb.WatchResponse) => responses.push(r));
  stream.on('error', (e: Error) => errors.push(e));
  return {
    stream,
    responses,
    errors,
    events: () => responses.flatMap((r) => r.events),
    close: () => {
      stream.cancel();
      client.close();
    },
  };
}

/** put writes through the current leader, retrying elsewhere while none is known. */
async function putRetrying(cluster: Cluster, key: string, value: string): Promise<bigint> {
  for (let attempt = 0; ; attempt++) {
    const members = cluster.running;
    const member = members[attempt % members.length]!;
    try {
      const r = await member.api.put({ key: bytes(key), value: bytes(value) }, { timeoutMs: 2000 });
      return r.header!.revision;
    } catch (error) {
      if (attempt > 100) throw error;
      await sleep(50);
    }
  }
}

describe('Watch on a three-member raftkit cluster', () => {
  let cluster: Cluster;
  const closers: (() => void)[] = [];

  beforeAll(async () => {
    cluster = await Cluster.start({ size: 3 });
  }, 40_000);

  afterEach((context) => {
    if (context.task.result?.state === 'fail' && cluster !== undefined) {
      console.error(`--- cluster output (${context.task.name}) ---\n${cluster.logs()}`);
    }
  });

  afterAll(async () => {
    for (const close of closers) close();
    await cluster?.destroy();
  });

  it('a follower’s watchers see every write made through the leader, in order, across a leader kill', async () => {
    const leader = await cluster.waitForLeader();
    const follower: Member = cluster.followersOf(leader)[0]!;
    const raw = openWatch(follower.address);
    closers.push(raw.close);
    raw.stream.write({ createRequest: { key: bytes('w/k'), prevKv: true } });
    await waitFor('created', () => raw.responses.find((r) => r.created));

    const etcd = new Etcd3({ hosts: [follower.clientUrl], dialTimeout: 5000 });
    closers.push(() => etcd.close());
    const seen: { value: string; version: number; mod: number }[] = [];
    const watcher = await etcd.watch().key('w/k').create();
    watcher.on('put', (kv) =>
      seen.push({
        value: kv.value.toString(),
        version: Number(kv.version),
        mod: Number(kv.mod_revision),
      }),
    );

    const acked: bigint[] = [];
    for (let i = 0; i < 10; i++) acked.push(await putRetrying(cluster, 'w/k', `v${i}`));
    await leader.kill('SIGKILL');
    for (let i = 10; i < 20; i++) acked.push(await putRetrying(cluster, 'w/k', `v${i}`));
    const last = acked.at(-1)!;

    const events = await waitFor('every write on the raw watcher', () => {
      const evs = raw.events();
      return evs.length > 0 && evs.at(-1)!.kv!.modRevision >= last ? evs : undefined;
    });
    // No gap: versions 1..n; in order: increasing revisions; each carries its prev_kv.
    expect(events.map((e) => Number(e.kv!.version))).toEqual(events.map((_, i) => i + 1));
    for (let i = 1; i < events.length; i++) {
      expect(events[i]!.kv!.modRevision).toBeGreaterThan(events[i - 1]!.kv!.modRevision);
      expect(events[i]!.prevKv!.modRevision).toBe(events[i - 1]!.kv!.modRevision);
    }
    const revisions = new Set(events.map((e) => e.kv!.modRevision));
    for (const rev of acked) expect(revisions.has(rev)).toBe(true);
    expect(raw.errors).toEqual([]);
    // The header carries this member's id and a term.
    const header = raw.responses.at(-1)!.header!;
    expect(header.memberId).not.toBe(0n);
    expect(header.raftTerm).toBeGreaterThan(0n);

    await waitFor('every write on the etcd3 watcher', () =>
      seen.length === events.length ? seen : undefined,
    );
    expect(seen.map((e) => e.mod)).toEqual(events.map((e) => Number(e.kv!.modRevision)));

    // A progress request answers with the current revision and watch id -1.
    raw.stream.write({ progressRequest: {} });
    const progress = await waitFor('progress', () =>
      raw.responses.find((r) => r.watchId === -1n && !r.created),
    );
    expect(progress.header!.revision).toBeGreaterThanOrEqual(last);
    // Cancel.
    raw.stream.write({ cancelRequest: { watchId: 0n } });
    await waitFor('canceled', () => raw.responses.find((r) => r.canceled));
    leader.start();
    await leader.waitReady();
  }, 60_000);

  it('replays history from a past revision and cancels a compacted one', async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.followersOf(leader)[0]!;
    const first = await putRetrying(cluster, 'h/a', '1');
    await putRetrying(cluster, 'h/b', '2');
    await putRetrying(cluster, 'h/a', '3');
    const raw = openWatch(follower.address);
    closers.push(raw.close);
    raw.stream.write({
      createRequest: { key: bytes('h/'), rangeEnd: bytes('h0'), startRevision: first },
    });
    const events = await waitFor('replayed', () =>
      raw.events().length >= 3 ? raw.events() : undefined,
    );
    expect(events.map((e) => `${text(e.kv!.key)}=${text(e.kv!.value)}`)).toEqual([
      'h/a=1',
      'h/b=2',
      'h/a=3',
    ]);
    await (leader.api as EtcdApi).compact({ revision: first + 1n });
    await waitFor('compaction applied on the follower', async () => {
      try {
        await follower.api.range({ key: bytes('h/a'), revision: first, serializable: true });
        return undefined;
      } catch {
        return true;
      }
    });
    raw.stream.write({ createRequest: { key: bytes('h/a'), startRevision: first, watchId: 7n } });
    const canceled = await waitFor('compacted cancel', () =>
      raw.responses.find((r) => r.watchId === 7n && r.canceled),
    );
    expect(canceled.compactRevision).toBe(first + 1n);
    expect(raw.responses.some((r) => r.watchId === 7n && r.created)).toBe(true);
  }, 30_000);

  describe.skipIf(!haveEtcdctl || !haveEtcd)('etcdctl watch', () => {
    let etcd: EtcdServer | undefined;
    afterAll(async () => etcd?.destroy());

    /** session runs `etcdctl watch` against `endpoint`, makes writes, returns its output. */
    async function session(endpoint: string, api: EtcdApi): Promise<string> {
      const key = 'ctl/w';
      const start = await api.put({ key: bytes(key), value: bytes('one') });
      await api.put({ key: bytes(key), value: bytes('two') });
      await api.deleteRange({ key: bytes(key) });
      const child: ChildProcess = spawn(
        ETCDCTL_BIN,
        [
          '--endpoints',
          endpoint,
          'watch',
          key,
          '--prev-kv',
          '--rev',
          String(start.header!.revision),
        ],
        { env: { ...process.env, ETCDCTL_API: '3' }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      await waitFor('etcdctl history', () => (out.split('\n').length > 9 ? true : undefined));
      await api.put({ key: bytes(key), value: bytes('three') });
      await waitFor('etcdctl live', () => (out.includes('three') ? true : undefined));
      child.kill('SIGKILL');
      return out;
    }

    it('prints what it prints against a real etcd', async () => {
      etcd = await EtcdServer.start();
      const leader = await cluster.waitForLeader();
      const follower = cluster.followersOf(leader)[0]!;
      const ours = await session(follower.address, leader.api);
      const theirs = await session(etcd.address, etcd.api);
      expect(ours).toBe(theirs);
      expect(ours).toContain('PUT\nctl/w\none\n');
    }, 30_000);
  });
});
