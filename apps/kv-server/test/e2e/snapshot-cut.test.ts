import { createHash, randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type * as pb from '@raftkit/rpc/etcd';
import { SnapshotStore } from '@raftkit/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytes, Cluster, logFields, type Member, sleep, text, waitFor } from './cluster-harness.js';

// A snapshot transfer cut by the leader's death (issue #7): a follower that fell behind
// the leader's compacted log is being sent a snapshot of several MiB when the leader is SIGKILLed.
// "Mid-stream" is made deterministic by the harness's peer proxy, which the members dial
// instead of each other: it lets exactly HOLD_AFTER bytes of the transfer reach the
// follower and holds the rest back, then the test kills the leader. The follower must keep
// its old state (nothing partial installed, nothing half-written in its snap dir), the two
// survivors must elect a new leader, and that leader must complete a transfer of its own.
const SNAPSHOT_COUNT = 40;
const CATCHUP_ENTRIES = 10;
const BASE_KEYS = 20;
const BIG_KEYS = 120;
const BIG_VALUE_BYTES = 64 * 1024; // 120 × 64 KiB = 7.5 MiB of values
const HOLD_AFTER = 2 * 1024 * 1024; // bytes of the transfer the follower gets before the cut
const MIN_SNAPSHOT_BYTES = 4 * 1024 * 1024; // so HOLD_AFTER is well inside the transfer

const ALL: pb.RangeRequest = { key: bytes('cut/'), rangeEnd: bytes('cut0'), serializable: true };

/** nodeIdOf is the raft node id of a member: the low 53 bits of its member id. */
const nodeIdOf = (memberId: bigint) => Number(memberId & ((1n << 53n) - 1n));

/** contents is a member's whole `cut/` range, one line per key with its revisions. */
async function contents(member: Member): Promise<{ revision: bigint; kvs: string[] }> {
  const response = await member.api.range(ALL, { timeoutMs: 10_000 });
  return {
    revision: response.header?.revision ?? -1n,
    kvs: response.kvs.map(
      (kv) =>
        `${text(kv.key)} create=${kv.createRevision} mod=${kv.modRevision} version=${kv.version} ` +
        `sha256=${createHash('sha256').update(kv.value).digest('hex')}`,
    ),
  };
}

/** snapDir lists a member's snapshot directory as "name:size" entries. */
async function snapDir(member: Member): Promise<string[]> {
  const dir = join(member.dataDir, 'snap');
  const names = (await readdir(dir)).sort();
  return Promise.all(names.map(async (name) => `${name}:${(await stat(join(dir, name))).size}`));
}

/**
 * receivedSnapshots lists the member's snapshot files above `applied` (only a snapshot
 * from the leader can be there) and partial files. A member may take its own snapshot
 * of what it already applied at any time (each member's schedule has its own phase).
 */
async function receivedSnapshots(member: Member, applied: bigint): Promise<string[]> {
  return (await snapDir(member)).filter((entry) => {
    const match = /^snap-([0-9a-f]{16})-[0-9a-f]{16}\.snap:/.exec(entry);
    return match === null || BigInt(`0x${match[1]}`) > applied;
  });
}

/** within fails with `what` if `promise` has not settled after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * waitSnapshotPast waits for a "snapshot taken" log line of a snapshot of at least
 * `minBytes` after which the log was compacted past `index`.
 */
async function waitSnapshotPast(member: Member, index: number, minBytes: number): Promise<void> {
  await member.waitForLog(
    (line) => {
      const fields = logFields(line);
      return (
        fields?.msg === 'snapshot taken' &&
        Number(fields.compactedTo) > index &&
        Number(fields.bytes) >= minBytes
      );
    },
    { timeoutMs: 30_000 },
  );
}

describe('a snapshot transfer cut by the leader dying mid-stream', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await Cluster.start({
      size: 3,
      peerProxy: true,
      extraArgs: [
        '--snapshot-count',
        String(SNAPSHOT_COUNT),
        '--experimental-snapshot-catchup-entries',
        String(CATCHUP_ENTRIES),
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  it('the follower keeps its old state, and the new leader completes the transfer', async () => {
    try {
      await cutTransfer();
    } catch (error) {
      throw new Error(`${String(error)}\n--- member output ---\n${cluster.logs()}`, {
        cause: error,
      });
    }
  }, 90_000);

  async function cutTransfer() {
    const leader = await cluster.waitForLeader();
    const [follower, survivor] = cluster.followersOf(leader) as [Member, Member];
    const followerProxy = follower.proxy!;
    const expected = new Map<string, Buffer>();

    // 1. A small base every member applies, then the follower stops at a quiet point.
    for (let i = 0; i < BASE_KEYS; i++) {
      const key = `cut/base/${String(i).padStart(2, '0')}`;
      expected.set(key, bytes(`base-${i}`));
      await leader.api.put({ key: bytes(key), value: expected.get(key)! });
    }
    // Quiet means: every member has applied exactly the leader's commit index, twice in a
    // row, so nothing is in flight when the follower stops.
    let quietAt = -1n;
    await waitFor(
      'every member to apply the base',
      async () => {
        const statuses = await Promise.all(cluster.members.map((m) => m.api.status()));
        const commit = statuses[leader.index]!.raftIndex;
        const quiet = statuses.every((s) => s.raftAppliedIndex === commit);
        const settled = quiet && commit === quietAt;
        quietAt = quiet ? commit : -1n;
        return settled ? true : undefined;
      },
      10_000,
      200,
    );
    const before = await contents(follower);
    expect(before.kvs).toHaveLength(BASE_KEYS);
    const appliedBefore = (await follower.api.status()).raftAppliedIndex;
    const followerId = (await follower.api.status()).header!.memberId;
    await follower.kill('SIGTERM');

    // 2. 7.5 MiB of large values through the leader: both survivors snapshot and compact
    // their logs past everything the follower has, so only a snapshot can catch it up.
    let next = 0;
    const writer = async () => {
      while (next < BIG_KEYS) {
        const i = next++;
        const key = `cut/big/${String(i).padStart(3, '0')}`;
        const value = randomBytes(BIG_VALUE_BYTES);
        expected.set(key, value);
        await leader.api.put({ key: bytes(key), value }, { timeoutMs: 15_000 });
      }
    };
    // The snapshot a leader sends is its latest, so this one or a bigger one.
    const compacted = Promise.all([
      waitSnapshotPast(leader, Number(appliedBefore) + 1, MIN_SNAPSHOT_BYTES),
      waitSnapshotPast(survivor, Number(appliedBefore) + 1, MIN_SNAPSHOT_BYTES),
    ]);
    compacted.catch(() => {}); // awaited below; this only keeps an early failure handled
    await Promise.all(Array.from({ length: 8 }, writer));
    await compacted;

    // 3. Restart the follower with the proxy armed: the leader's snapshot transfer stops
    // after HOLD_AFTER bytes, so it is in the middle of the stream when the leader dies.
    const firstCut = followerProxy.holdNext(HOLD_AFTER);
    const sending = leader.waitForLog((line) => logFields(line)?.msg === 'sending snapshot', {
      timeoutMs: 30_000,
    });
    sending.catch(() => {});
    follower.start();
    const held = await within(firstCut, 20_000, "the leader's snapshot transfer to start");
    expect(held.forwarded).toBe(HOLD_AFTER);
    expect(logFields(await sending)?.to).toBe(nodeIdOf(followerId));
    // Arm the next hold before the cut: the new leader's transfer must stop there too, so
    // the follower's state can be checked while a second transfer is in flight.
    const secondCut = followerProxy.holdNext(HOLD_AFTER);
    // The follower's peer server says how the cut transfer ended: refused as incomplete
    // after the whole chunks that had arrived (the rest of the partial data is dropped).
    const refusal = follower.waitForLog((line) => logFields(line)?.msg === 'snapshot refused', {
      timeoutMs: 15_000,
    });
    refusal.catch(() => {}); // awaited below; this only keeps an early failure handled
    await leader.kill('SIGKILL');
    held.drop();
    const reason = String(logFields(await refusal)?.reason);
    expect(reason).toMatch(/^the transfer ended after \d+ bytes, before its last chunk$/);
    expect(Number(/after (\d+) bytes/.exec(reason)![1])).toBeGreaterThan(0);

    // 4. The follower is still exactly where it stopped: same applied index, revision and
    // data, no snapshot from the leader in its snap dir (no file above its applied index, no partial file).
    const assertOldState = async (when: string) => {
      const status = await follower.api.status();
      expect(status.raftAppliedIndex, when).toBe(appliedBefore);
      expect(await contents(follower), when).toEqual(before);
      expect(await receivedSnapshots(follower, appliedBefore), when).toEqual([]);
      expect(follower.logs(), when).not.toMatch(/restored snapshot|snapshot received/);
    };
    await follower.waitReady();
    await assertOldState('right after the leader was killed mid-transfer');

    // 5. The survivors elect a new leader (the survivor: the follower's log is shorter),
    // which sends its own snapshot; hold that one mid-stream as well and look again.
    const held2 = await within(secondCut, 20_000, "the new leader's snapshot transfer");
    expect(held2.forwarded).toBe(HOLD_AFTER);
    const survivorStatus = await survivor.api.status();
    expect(survivorStatus.leader).toBe(survivorStatus.header!.memberId);
    await assertOldState("while the new leader's transfer is in flight");
    held2.resume();

    // 6. The transfer completes: the follower installs the snapshot, catches up (also on
    // a write made after the cut) and serves exactly the survivor's data.
    // Retried under one request id (applied once): the follower's restore of a few MB
    // blocks it for a moment, which on a loaded machine can cost the leader its quorum
    // (check-quorum at a 500 ms election timeout) and time the first attempt out.
    const requestId = `cut-after-${process.pid}`;
    for (let attempt = 1; ; attempt++) {
      try {
        await survivor.api.put(
          { key: bytes('cut/after'), value: bytes('after') },
          { timeoutMs: 20_000, metadata: { 'raftkit-request-id': requestId } },
        );
        break;
      } catch (error) {
        if (attempt >= 5) throw error;
        await sleep(200);
      }
    }
    expected.set('cut/after', bytes('after'));
    const target = (await survivor.api.status()).raftIndex;
    await waitFor(
      'the follower to catch up from the new leader',
      async () => {
        const status = await follower.api.status({ timeoutMs: 1000 });
        return status.raftAppliedIndex >= target ? status : undefined;
      },
      20_000,
    );
    expect(follower.logs()).toMatch(/restored snapshot/);
    expect(follower.logs()).toMatch(/snapshot received/);
    const fromSurvivor = await contents(survivor);
    const fromFollower = await contents(follower);
    expect(fromFollower).toEqual(fromSurvivor);
    expect(fromFollower.kvs).toHaveLength(expected.size);
    const values = await follower.api.range(ALL, { timeoutMs: 10_000 });
    for (const kv of values.kvs) {
      expect(Buffer.from(kv.value).equals(expected.get(text(kv.key))!), text(kv.key)).toBe(true);
    }

    // 7. The killed leader restarts from its own disk and agrees with both.
    leader.start();
    await cluster.waitForLeader();
    const target2 = (await survivor.api.status()).raftIndex;
    await waitFor(
      'the old leader to catch up',
      async () => {
        const status = await leader.api.status({ timeoutMs: 1000 });
        return status.raftAppliedIndex >= target2 ? status : undefined;
      },
      20_000,
    );
    expect(await contents(leader)).toEqual(fromSurvivor);

    // 8. What the follower has on disk is whole: every snapshot file verifies.
    await follower.kill('SIGTERM');
    const names = await readdir(join(follower.dataDir, 'snap'));
    expect(names.filter((name) => name.includes('partial'))).toEqual([]);
    const store = await SnapshotStore.open(join(follower.dataDir, 'snap'));
    const files = await store.list();
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) await store.verify(file);
    expect(files.at(-1)!.index).toBeGreaterThan(Number(appliedBefore));
  }
});
