import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type * as pb from '@raftkit/rpc/etcd';
import { WATCH_SERVICE } from '@raftkit/rpc/etcd';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  bytes,
  Cluster,
  type Member,
  type RpcError,
  rpcError,
  text,
  waitFor,
} from './cluster-harness.js';

// End-to-end: three real kv-server processes speaking etcd's v3 API over gRPC. The tests
// of the first describe share one cluster and run in order (each leaves it with a leader
// and every member running, except the last).

const INVALID_ARGUMENT = 3;
const OUT_OF_RANGE = 11;
const UNAVAILABLE = 14;

const WatchClient = grpc.makeGenericClientConstructor(WATCH_SERVICE, 'Watch');

/** openWatch opens a Watch stream on key `nl/w`, with etcd's WithRequireLeader or not. */
function openWatch(address: string, requireLeader: boolean) {
  const client = new WatchClient(address, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (requireLeader) metadata.set('hasleader', 'true');
  const stream = (
    client as unknown as {
      watch(metadata: grpc.Metadata): grpc.ClientDuplexStream<pb.WatchRequest, pb.WatchResponse>;
    }
  ).watch(metadata);
  let created = false;
  let failure: grpc.ServiceError | undefined;
  stream.on('data', (response: pb.WatchResponse) => {
    if (response.created) created = true;
  });
  stream.on('error', (error: grpc.ServiceError) => {
    failure = error;
  });
  stream.write({ createRequest: { key: bytes('nl/w') } });
  return {
    created: () => created,
    error: () => failure,
    close: () => {
      stream.cancel();
      client.close();
    },
  };
}

/** prefixEnd is etcd's `clientv3.GetPrefixRangeEnd`. */
function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

interface Kv {
  key: string;
  value: string;
  createRevision: bigint;
  modRevision: bigint;
  version: bigint;
}

const plain = (kvs: readonly pb.KeyValue[]): Kv[] =>
  kvs.map((kv) => ({
    key: text(kv.key),
    value: text(kv.value),
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    version: kv.version,
  }));

async function readPrefix(member: Member, prefix: string, serializable = false) {
  const response = await member.api.range(
    { key: bytes(prefix), rangeEnd: prefixEnd(prefix), serializable },
    { timeoutMs: 5000 },
  );
  return { revision: response.header!.revision, kvs: plain(response.kvs), count: response.count };
}

/** Ack is one write a client got an OK for. */
interface Ack {
  key: string;
  value: string;
  revision: bigint;
}

/**
 * putRetrying sends one logical Put (one request id) to the given members in turn until
 * one answers OK or the deadline passes; transient errors (no leader, timeouts, a dead
 * endpoint) are retried, anything else fails the test.
 */
async function putRetrying(
  members: () => Member[],
  key: string,
  value: string,
  deadlineMs = 15_000,
): Promise<Ack> {
  const requestId = randomUUID();
  const deadline = Date.now() + deadlineMs;
  let attempt = 0;
  let last: unknown;
  while (Date.now() < deadline) {
    const candidates = members();
    const member = candidates[attempt++ % Math.max(1, candidates.length)];
    if (member !== undefined) {
      try {
        const response = await member.api.put(
          { key: bytes(key), value: bytes(value) },
          { timeoutMs: 2000, metadata: { 'raftkit-request-id': requestId } },
        );
        return { key, value, revision: response.header!.revision };
      } catch (error) {
        last = error;
        const code = (error as RpcError).code;
        // UNAVAILABLE (no leader, leader changed, timed out, connection refused) and
        // DEADLINE_EXCEEDED (4) are retried with the same request id.
        if (code !== UNAVAILABLE && code !== 4) throw error;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`put ${key} got no OK within ${deadlineMs} ms: ${String(last)}`);
}

/** expectAcksPresent reads every acknowledged key back from `member` (linearizable). */
async function expectAcksPresent(member: Member, prefix: string, acks: readonly Ack[]) {
  const { kvs } = await readPrefix(member, prefix);
  const byKey = new Map(kvs.map((kv) => [kv.key, kv]));
  const missing = acks.filter((ack) => byKey.get(ack.key)?.value !== ack.value);
  expect(missing, `acknowledged writes missing on ${member.name}`).toEqual([]);
  for (const ack of acks) {
    const kv = byKey.get(ack.key)!;
    // Every key was written once (one request id): version 1, created and last modified
    // at the revision its OK reported.
    expect({
      key: kv.key,
      mod: kv.modRevision,
      create: kv.createRevision,
      version: kv.version,
    }).toEqual({
      key: ack.key,
      mod: ack.revision,
      create: ack.revision,
      version: 1n,
    });
  }
}

describe('a three-member raftkit cluster (etcd v3 API over gRPC)', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await Cluster.start({ size: 3 });
  }, 40_000);

  afterEach((context) => {
    if (context.task.result?.state === 'fail' && !context.task.fails && cluster !== undefined) {
      console.error(`--- cluster output (${context.task.name}) ---\n${cluster.logs()}`);
    }
  });

  afterAll(async () => {
    await cluster?.destroy();
  });

  it('accepts writes through every member (followers forward) and reads them from every member', async () => {
    const leader = await cluster.waitForLeader();
    expect(cluster.followersOf(leader)).toHaveLength(2);

    // One write through each member, sequentially: revisions strictly increase by one.
    const revisions: bigint[] = [];
    for (const member of cluster.members) {
      const response = await member.api.put({
        key: bytes(`w/${member.name}`),
        value: bytes(`via ${member.name}`),
      });
      expect(response.header!.memberId).not.toBe(0n);
      revisions.push(response.header!.revision);
    }
    expect(revisions[1]).toBe(revisions[0]! + 1n);
    expect(revisions[2]).toBe(revisions[1]! + 1n);

    // A second write to one key through another member: same create, new mod, version 2.
    const update = await cluster.members[2]!.api.put({
      key: bytes('w/m1'),
      value: bytes('updated via m3'),
      prevKv: true,
    });
    expect(text(update.prevKv!.value)).toBe('via m1');
    expect(update.prevKv!.modRevision).toBe(revisions[0]);

    const expected: Kv[] = [
      {
        key: 'w/m1',
        value: 'updated via m3',
        createRevision: revisions[0]!,
        modRevision: update.header!.revision,
        version: 2n,
      },
      {
        key: 'w/m2',
        value: 'via m2',
        createRevision: revisions[1]!,
        modRevision: revisions[1]!,
        version: 1n,
      },
      {
        key: 'w/m3',
        value: 'via m3',
        createRevision: revisions[2]!,
        modRevision: revisions[2]!,
        version: 1n,
      },
    ];
    // Linearizable reads: every member sees the write at once, at the same revision.
    for (const member of cluster.members) {
      const read = await readPrefix(member, 'w/');
      expect(read.kvs, `linearizable read on ${member.name}`).toEqual(expected);
      expect(read.count).toBe(3n);
      expect(read.revision).toBe(update.header!.revision);
    }
    // Serializable reads are local: poll until each member has applied, then equal.
    for (const member of cluster.members) {
      const read = await waitFor(
        `${member.name} to apply revision ${update.header!.revision}`,
        async () => {
          const r = await readPrefix(member, 'w/', true);
          return r.revision >= update.header!.revision ? r : undefined;
        },
      );
      expect(read.kvs, `serializable read on ${member.name}`).toEqual(expected);
    }

    // Delete and txn through followers too.
    const [f1, f2] = cluster.followersOf(leader) as [Member, Member];
    const deleted = await f1.api.deleteRange({ key: bytes('w/m2'), prevKv: true });
    expect(deleted.deleted).toBe(1n);
    expect(text(deleted.prevKvs[0]!.value)).toBe('via m2');
    const txn = await f2.api.txn({
      compare: [{ key: bytes('w/m3'), target: 0, result: 0, version: 1n }],
      success: [{ requestPut: { key: bytes('w/m3'), value: bytes('txn via follower') } }],
      failure: [],
    });
    expect(txn.succeeded).toBe(true);
    expect(txn.header!.revision).toBe(deleted.header!.revision + 1n);
    for (const member of cluster.members) {
      const read = await readPrefix(member, 'w/');
      expect(read.kvs.map((kv) => [kv.key, kv.value, kv.version])).toEqual([
        ['w/m1', 'updated via m3', 2n],
        ['w/m3', 'txn via follower', 2n],
      ]);
    }
  });

  it('serves linearizable reads on any member right after a write acknowledged by another', async () => {
    let n = 0;
    for (let round = 0; round < 2; round++) {
      for (const writer of cluster.members) {
        for (const reader of cluster.members) {
          const value = `value-${n++}`;
          const put = await writer.api.put({ key: bytes('lin/key'), value: bytes(value) });
          const read = await reader.api.range({ key: bytes('lin/key') });
          expect(
            { value: text(read.kvs[0]?.value), mod: read.kvs[0]?.modRevision },
            `${writer.name} wrote, ${reader.name} read`,
          ).toEqual({ value, mod: put.header!.revision });
          expect(read.header!.revision).toBeGreaterThanOrEqual(put.header!.revision);
        }
      }
    }
    const final = await cluster.members[0]!.api.range({ key: bytes('lin/key') });
    expect(final.kvs[0]!.version).toBe(BigInt(n));
  });

  it("answers etcd's errors for empty keys, oversized txns and compacted or future revisions", async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.followersOf(leader)[0]!;
    for (const member of [leader, follower]) {
      for (const call of [
        member.api.put({ key: Buffer.alloc(0), value: bytes('v') }),
        member.api.range({ key: Buffer.alloc(0) }),
        member.api.deleteRange({ key: Buffer.alloc(0) }),
        member.api.txn({ success: [{ requestPut: { key: Buffer.alloc(0), value: bytes('v') } }] }),
      ]) {
        const error = await rpcError(call);
        expect({ code: error.code, details: error.details }).toEqual({
          code: INVALID_ARGUMENT,
          details: 'etcdserver: key is not provided',
        });
      }
      // --max-txn-ops defaults to 128, as in etcd.
      const ops = (count: number): pb.RequestOp[] =>
        Array.from({ length: count }, (_, i) => ({
          requestPut: { key: bytes(`ops/${i}`), value: bytes('x') },
        }));
      const tooMany = await rpcError(member.api.txn({ success: ops(129) }));
      expect({ code: tooMany.code, details: tooMany.details }).toEqual({
        code: INVALID_ARGUMENT,
        details: 'etcdserver: too many operations in txn request',
      });
      const ok = await member.api.txn({ success: ops(128) });
      expect(ok.responses).toHaveLength(128);
    }

    const first = await follower.api.put({ key: bytes('compact/k'), value: bytes('v1') });
    const second = await follower.api.put({ key: bytes('compact/k'), value: bytes('v2') });
    const past = await leader.api.range({
      key: bytes('compact/k'),
      revision: first.header!.revision,
    });
    expect(text(past.kvs[0]!.value)).toBe('v1');
    expect(past.header!.revision).toBe(second.header!.revision);

    const future = await rpcError(
      follower.api.range({ key: bytes('compact/k'), revision: second.header!.revision + 100n }),
    );
    expect({ code: future.code, details: future.details }).toEqual({
      code: OUT_OF_RANGE,
      details: 'etcdserver: mvcc: required revision is a future revision',
    });

    const compact = await follower.api.compact({ revision: second.header!.revision });
    expect(compact.header!.revision).toBeGreaterThanOrEqual(second.header!.revision);
    for (const member of cluster.members) {
      const error = await rpcError(
        member.api.range({ key: bytes('compact/k'), revision: first.header!.revision }),
      );
      expect({ code: error.code, details: error.details }, member.name).toEqual({
        code: OUT_OF_RANGE,
        details: 'etcdserver: mvcc: required revision has been compacted',
      });
      // The compaction revision itself is still readable.
      const atCompaction = await member.api.range({
        key: bytes('compact/k'),
        revision: second.header!.revision,
      });
      expect(text(atCompaction.kvs[0]!.value)).toBe('v2');
    }
    const again = await rpcError(leader.api.compact({ revision: first.header!.revision }));
    expect({ code: again.code, details: again.details }).toEqual({
      code: OUT_OF_RANGE,
      details: 'etcdserver: mvcc: required revision has been compacted',
    });
  });

  it('applies a Put retried with the same raftkit-request-id once and answers it with the first result', async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.followersOf(leader)[0]!;
    const before = (await leader.api.range({ key: bytes('once/k') })).header!.revision;
    const metadata = { 'raftkit-request-id': `e2e-${randomUUID()}` };
    const request = { key: bytes('once/k'), value: bytes('v'), prevKv: true };

    const first = await follower.api.put(request, { metadata });
    const second = await follower.api.put(request, { metadata });
    expect(first.header!.revision).toBe(before + 1n);
    expect(second).toEqual(first);
    // The same id through another member (the retry of a client that failed over).
    const third = await leader.api.put(request, { metadata });
    expect(third.header!.revision).toBe(first.header!.revision);
    expect(third.prevKv).toEqual(first.prevKv);

    const after = await leader.api.range({ key: bytes('once/k') });
    expect(after.header!.revision).toBe(before + 1n);
    expect(after.kvs[0]!.version).toBe(1n);

    // A different id is a different write.
    const other = await follower.api.put(request, {
      metadata: { 'raftkit-request-id': `e2e-${randomUUID()}` },
    });
    expect(other.header!.revision).toBe(before + 2n);
    expect(text(other.prevKv!.value)).toBe('v');
    expect((await follower.api.range({ key: bytes('once/k') })).kvs[0]!.version).toBe(2n);
  });

  it('elects a new leader after the leader is SIGKILLed, keeps every acknowledged write, and the old leader catches up', async () => {
    const oldLeader = await cluster.waitForLeader();
    const acks: Ack[] = [];
    for (let i = 0; i < 10; i++) {
      acks.push(await putRetrying(() => cluster.running, `lk/before-${i}`, `b${i}`));
    }
    const exit = await oldLeader.kill('SIGKILL');
    expect(exit?.signal).toBe('SIGKILL');

    // Writes through the survivors resume once a new leader is elected.
    const resumedAt = Date.now();
    for (let i = 0; i < 10; i++) {
      acks.push(await putRetrying(() => cluster.running, `lk/after-${i}`, `a${i}`));
    }
    expect(Date.now() - resumedAt).toBeLessThan(15_000);
    const newLeader = await cluster.waitForLeader();
    expect(newLeader).not.toBe(oldLeader);
    expect(cluster.running).toHaveLength(2);
    for (const member of cluster.running) await expectAcksPresent(member, 'lk/', acks);

    // The old leader comes back with its data dir and catches up.
    oldLeader.start();
    await oldLeader.waitReady();
    const last = acks.at(-1)!.revision;
    await waitFor(`${oldLeader.name} to catch up to revision ${last}`, async () => {
      const r = await readPrefix(oldLeader, 'lk/', true);
      return r.revision >= last ? r : undefined;
    });
    await cluster.waitForLeader();
    await expectAcksPresent(oldLeader, 'lk/', acks);
    // Every member holds the same history: HashKV agrees at the same revision (the old
    // leader's part of it came from the log it replayed and the entries it received).
    const hashes = await Promise.all(
      cluster.members.map((member) => member.api.hashKV({ revision: last })),
    );
    expect(new Set(hashes.map((h) => h.hash)).size).toBe(1);
    expect(hashes.map((h) => h.hashRevision)).toEqual([last, last, last]);
  });

  it('recovers every key after a full-cluster restart (SIGTERM all, start all on the same data dirs)', async () => {
    const leader = await cluster.waitForLeader();
    await leader.api.put({ key: bytes('restart/k'), value: bytes('before restart') });
    const before = await leader.api.range({ key: Buffer.from([0]), rangeEnd: Buffer.from([0]) });
    expect(before.count).toBeGreaterThan(10n);

    const exits = await cluster.stopAll('SIGTERM');
    // SIGTERM is a clean shutdown: exit code 0.
    expect(exits.map((exit) => exit?.code)).toEqual([0, 0, 0]);

    await cluster.startAll();
    for (const member of cluster.members) {
      const after = await member.api.range({ key: Buffer.from([0]), rangeEnd: Buffer.from([0]) });
      expect(plain(after.kvs), `all keys on ${member.name}`).toEqual(plain(before.kvs));
      expect(after.header!.revision).toBe(before.header!.revision);
    }
    // And the cluster takes writes again, continuing the revision sequence.
    const put = await cluster.members[1]!.api.put({
      key: bytes('restart/k'),
      value: bytes('after'),
    });
    expect(put.header!.revision).toBe(before.header!.revision + 1n);
  });

  it('loses no acknowledged write when every member is SIGKILLed in the middle of a write load', async () => {
    await cluster.waitForLeader();
    const acks: Ack[] = [];
    const failures: unknown[] = [];
    let stop = false;
    const writer = async (member: Member, w: number) => {
      for (let i = 0; !stop; i++) {
        const key = `load/${w}/${String(i).padStart(5, '0')}`;
        try {
          const response = await member.api.put(
            { key: bytes(key), value: bytes(`v${w}-${i}`) },
            { timeoutMs: 3000, metadata: { 'raftkit-request-id': randomUUID() } },
          );
          acks.push({ key, value: `v${w}-${i}`, revision: response.header!.revision });
        } catch (error) {
          if (!stop) failures.push(error);
          return;
        }
      }
    };
    // Two writers per member, six in flight at any moment.
    const writers = cluster.members.flatMap((member, m) => [
      writer(member, m * 2),
      writer(member, m * 2 + 1),
    ]);
    await waitFor('120 acknowledged writes', () => (acks.length >= 120 ? true : undefined), 20_000);
    stop = true;
    const exits = await Promise.all(cluster.members.map((member) => member.kill('SIGKILL')));
    expect(exits.map((exit) => exit?.signal)).toEqual(['SIGKILL', 'SIGKILL', 'SIGKILL']);
    await Promise.all(writers);
    expect(failures, 'no write failed before the kill').toEqual([]);

    const leader = await cluster.startAll();
    await expectAcksPresent(leader, 'load/', acks);
    for (const member of cluster.followersOf(leader)) {
      await expectAcksPresent(member, 'load/', acks);
    }
  });

  it('answers "etcdserver: no leader" on a member that lost its quorum', async () => {
    const leader = await cluster.waitForLeader();
    const survivor = cluster.followersOf(leader)[0]!;
    // Watches on the survivor: one opened with etcd's WithRequireLeader, one without.
    const required = openWatch(survivor.address, true);
    const plain = openWatch(survivor.address, false);
    await waitFor('both watches created', () =>
      required.created() && plain.created() ? true : undefined,
    );
    await Promise.all(
      cluster.members.filter((m) => m !== survivor).map((member) => member.kill('SIGKILL')),
    );
    await waitFor(`${survivor.name} to see no leader`, async () =>
      (await survivor.api.status()).leader === 0n ? true : undefined,
    );
    const put = await rpcError(survivor.api.put({ key: bytes('nl/k'), value: bytes('v') }));
    expect({ code: put.code, details: put.details }).toEqual({
      code: UNAVAILABLE,
      details: 'etcdserver: no leader',
    });
    const read = await rpcError(survivor.api.range({ key: bytes('nl/k') }));
    expect({ code: read.code, details: read.details }).toEqual({
      code: UNAVAILABLE,
      details: 'etcdserver: no leader',
    });
    // A serializable read needs no leader.
    const local = await survivor.api.range({ key: bytes('restart/k'), serializable: true });
    expect(text(local.kvs[0]!.value)).toBe('after');
    // The WithRequireLeader watch ends with `no leader` (after three leaderless checks an
    // election timeout apart); the other one stays; a new one is refused at once.
    const ended = await waitFor('the require-leader watch to end', () => required.error(), 10_000);
    expect({ code: ended.code, details: ended.details }).toEqual({
      code: UNAVAILABLE,
      details: 'etcdserver: no leader',
    });
    expect(plain.error()).toBeUndefined();
    const refused = openWatch(survivor.address, true);
    const error = await waitFor('the new require-leader watch to be refused', () =>
      refused.error(),
    );
    expect(error.details).toBe('etcdserver: no leader');
    for (const watch of [required, plain, refused]) watch.close();
  });
});

describe('a one-member raftkit cluster with --max-request-bytes 1024 --max-txn-ops 4', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await Cluster.start({
      size: 1,
      extraArgs: ['--max-request-bytes', '1024', '--max-txn-ops', '4'],
    });
  }, 30_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  it('refuses requests over --max-request-bytes and txns over --max-txn-ops', async () => {
    const api = cluster.members[0]!.api;
    const small = await api.put({ key: bytes('k'), value: Buffer.alloc(500, 'a') });
    expect(small.header!.revision).toBe(2n);

    for (const call of [
      api.put({ key: bytes('k'), value: Buffer.alloc(2000, 'a') }),
      api.txn({ success: [{ requestPut: { key: bytes('k'), value: Buffer.alloc(2000, 'a') } }] }),
    ]) {
      const error = await rpcError(call);
      expect({ code: error.code, details: error.details }).toEqual({
        code: INVALID_ARGUMENT,
        details: 'etcdserver: request is too large',
      });
    }

    const ops = (count: number): pb.RequestOp[] =>
      Array.from({ length: count }, (_, i) => ({
        requestPut: { key: bytes(`t/${i}`), value: bytes('x') },
      }));
    const tooMany = await rpcError(api.txn({ success: ops(5) }));
    expect({ code: tooMany.code, details: tooMany.details }).toEqual({
      code: INVALID_ARGUMENT,
      details: 'etcdserver: too many operations in txn request',
    });
    // The limit counts the ops of the branch taken: failure may hold 4 too.
    const ok = await api.txn({ success: ops(4), failure: ops(4) });
    expect(ok.succeeded).toBe(true);
    expect(ok.header!.revision).toBe(3n);

    // Nothing of the refused requests was applied.
    const all = await api.range({ key: Buffer.from([0]), rangeEnd: Buffer.from([0]) });
    expect(all.count).toBe(5n);
    expect(all.kvs.find((kv) => text(kv.key) === 'k')!.value.length).toBe(500);
  });

  it('splits a watch response larger than --max-request-bytes for a watcher that asked (fragment)', async () => {
    const member = cluster.members[0]!;
    const first = (await member.api.put({ key: bytes('fr/0'), value: Buffer.alloc(600, 'a') }))
      .header!.revision;
    for (let i = 1; i < 6; i++) {
      await member.api.put({ key: bytes(`fr/${i}`), value: Buffer.alloc(600, 'a') });
    }
    const replay = async (fragment: boolean) => {
      const client = new WatchClient(member.address, grpc.credentials.createInsecure());
      const stream = (
        client as unknown as {
          watch(): grpc.ClientDuplexStream<pb.WatchRequest, pb.WatchResponse>;
        }
      ).watch();
      const responses: pb.WatchResponse[] = [];
      stream.on('data', (response: pb.WatchResponse) => responses.push(response));
      stream.on('error', () => {});
      stream.write({
        createRequest: {
          key: bytes('fr/'),
          rangeEnd: bytes('fr0'),
          startRevision: first,
          fragment,
        },
      });
      const events = () => responses.flatMap((r) => r.events);
      await waitFor('the replay', () => (events().length >= 6 ? true : undefined));
      stream.cancel();
      client.close();
      return { responses: responses.filter((r) => r.events.length > 0), events: events() };
    };
    // Without fragment: the replay is one response of six events (3.6 KB, over the limit).
    const whole = await replay(false);
    expect(whole.responses.map((r) => [r.events.length, r.fragment])).toEqual([[6, false]]);
    // With fragment: parts within 1,024 bytes, all but the last marked, events in order.
    const parts = await replay(true);
    expect(parts.responses.length).toBeGreaterThan(1);
    expect(parts.responses.map((r) => r.fragment)).toEqual(
      parts.responses.map((_, i) => i < parts.responses.length - 1),
    );
    expect(parts.events.map((e) => text(e.kv!.key))).toEqual(
      whole.events.map((e) => text(e.kv!.key)),
    );
  });
});
