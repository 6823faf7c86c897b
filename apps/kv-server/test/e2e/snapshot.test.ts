import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytes, Cluster, text, waitFor } from './cluster-harness.js';

// Snapshots end to end, CI-sized: members snapshot every 200 applied entries and keep
// 50 behind it, so a follower that misses ~1,500 writes can only be caught up by
// InstallSnapshot (the entries it needs are compacted on the leader).
const WRITES = 1500;

describe('snapshots, compaction and InstallSnapshot across real processes', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await Cluster.start({
      size: 3,
      extraArgs: ['--snapshot-count', '200', '--experimental-snapshot-catchup-entries', '50'],
    });
  }, 60_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  it('a stopped follower is caught up by InstallSnapshot and serves identical data; the log stays bounded', async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.followersOf(leader)[0]!;
    await follower.kill('SIGTERM');

    // Concurrent writers through the leader.
    let next = 0;
    const writer = async () => {
      while (next < WRITES) {
        const i = next++;
        await leader.api.put({
          key: bytes(`snap/${String(i).padStart(5, '0')}`),
          value: bytes(`v${i}`),
        });
      }
    };
    await Promise.all(Array.from({ length: 16 }, writer));
    // Status.dbSize is the data dir's size as the member measures it (files the
    // snapshot store or LevelDB remove while it walks are skipped, not an error).
    const leaderStatus = await leader.api.status();
    const sizeAfterFirstBatch = Number(leaderStatus.dbSize);
    expect(sizeAfterFirstBatch).toBeGreaterThan(0);

    follower.start();
    await waitFor(
      'the restarted follower to apply everything',
      async () => {
        const status = await follower.api.status({ timeoutMs: 1000 });
        return status.raftAppliedIndex >= leaderStatus.raftIndex ? status : undefined;
      },
      30_000,
    );
    expect(follower.logs()).toMatch(/restored snapshot|log restored from snapshot/);

    const range = { key: bytes('snap/'), rangeEnd: bytes('snap0'), serializable: true };
    const fromLeader = await leader.api.range(range);
    const fromFollower = await follower.api.range(range);
    expect(Number(fromFollower.count)).toBe(WRITES);
    expect(
      fromFollower.kvs.map((kv) => `${text(kv.key)}=${text(kv.value)}@${kv.modRevision}`),
    ).toEqual(fromLeader.kvs.map((kv) => `${text(kv.key)}=${text(kv.value)}@${kv.modRevision}`));

    // Another batch of the same size: with compaction the data dir does not keep growing
    // with the number of writes (LevelDB compacts lazily, so allow slack, not growth
    // proportional to the log).
    next = 0;
    await Promise.all(Array.from({ length: 16 }, writer));
    const sizeAfterSecondBatch = Number((await leader.api.status()).dbSize);
    expect(sizeAfterSecondBatch).toBeLessThan(sizeAfterFirstBatch * 2.5);
  }, 120_000);

  it('a member restarted from its own snapshot serves the same data', async () => {
    const leader = await cluster.waitForLeader();
    const member = cluster.followersOf(leader)[1]!;
    await member.kill('SIGKILL');
    member.start();
    await member.waitReady();
    const leaderStatus = await leader.api.status();
    await waitFor('the member to catch up', async () => {
      const status = await member.api.status({ timeoutMs: 1000 });
      return status.raftAppliedIndex >= leaderStatus.raftIndex ? status : undefined;
    });
    expect(member.logs()).toMatch(/state machine restored from the stored snapshot/);
    const read = await member.api.range({ key: bytes('snap/00042'), serializable: true });
    expect(text(read.kvs[0]?.value)).toBe('v42');
  }, 60_000);
});
