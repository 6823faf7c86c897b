import { describe, expect, it } from 'vitest';
import type { EtcdEndpoint } from '../src/etcd-client.js';
import { compareReplicaHashes, compareStateHashes } from '../src/replica-hash.js';

/** fake is an endpoint at `revision` whose HashKV answers hash(rev), or fails. */
function fake(revision: number, hash: (rev: number) => number, down = false): EtcdEndpoint {
  return {
    status: async () => {
      if (down) throw new Error('unavailable');
      return { header: { revision: BigInt(revision) } };
    },
    hashKV: async (rev: number) => {
      if (rev > revision) throw new Error('future revision');
      return { hash: hash(rev) };
    },
  } as unknown as EtcdEndpoint;
}

describe('compareReplicaHashes', () => {
  it('compares at the lowest revision every member reached', async () => {
    const byRev = (rev: number) => rev * 7;
    const members: Record<string, EtcdEndpoint> = {
      a: fake(10, byRev),
      b: fake(12, byRev),
      c: fake(11, byRev),
    };
    const result = await compareReplicaHashes((n) => members[n]!, ['a', 'b', 'c'], 2000);
    expect(result).toEqual({
      revision: 10,
      hashes: { a: 70, b: 70, c: 70 },
      diverged: false,
      unanswered: [],
    });
  });

  it('reports a divergence', async () => {
    const members: Record<string, EtcdEndpoint> = {
      a: fake(10, (rev) => rev),
      b: fake(10, (rev) => rev + 1),
    };
    const result = await compareReplicaHashes((n) => members[n]!, ['a', 'b'], 2000);
    expect(result.diverged).toBe(true);
    expect(result.hashes).toEqual({ a: 10, b: 11 });
  });

  it('names the members that never answered, comparing the others', async () => {
    const members: Record<string, EtcdEndpoint> = {
      a: fake(10, () => 1),
      b: fake(10, () => 1, true),
    };
    const result = await compareReplicaHashes((n) => members[n]!, ['a', 'b'], 1200);
    expect(result).toMatchObject({ revision: 10, diverged: false, unanswered: ['b'] });
  });
});

/** member is an endpoint whose applied index follows `applied()` and whose Hash is `hash()`. */
function member(applied: () => number, hash: () => number): EtcdEndpoint {
  return {
    status: async () => ({ raftAppliedIndex: BigInt(applied()), header: { revision: 1n } }),
    hash: async () => ({ hash: hash() }),
  } as unknown as EtcdEndpoint;
}

describe('compareStateHashes', () => {
  it('compares once every member applied the same index, and reports a divergence', async () => {
    let lagging = 5;
    const members: Record<string, EtcdEndpoint> = {
      a: member(
        () => 7,
        () => 1,
      ),
      b: member(
        () => Math.min(7, lagging++),
        () => 1,
      ), // catches up to 7 after a few polls
      c: member(
        () => 7,
        () => 2,
      ),
    };
    const result = await compareStateHashes((n) => members[n]!, ['a', 'b', 'c'], 5000);
    expect(result).toMatchObject({ appliedIndex: 7, diverged: true, hashes: { a: 1, c: 2 } });
  });

  it('gives up without a verdict when the members never settle', async () => {
    let moving = 0;
    const members: Record<string, EtcdEndpoint> = {
      a: member(
        () => moving++,
        () => 1,
      ),
      b: member(
        () => 1000,
        () => 1,
      ),
    };
    const result = await compareStateHashes((n) => members[n]!, ['a', 'b'], 800);
    expect(result).toEqual({ appliedIndex: 0, hashes: {}, diverged: false });
  });
});
