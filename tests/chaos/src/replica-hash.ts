// Replica agreement: after the run, every member's key-value history up to a common
// revision must be the same. Maintenance.HashKV at the lowest revision all members have
// reached gives one hash per member; two different hashes mean two state machines
// applied different things (a safety bug the linearizability check may not see, e.g. a
// divergence on keys no client read again).
import { sleep } from './clock.js';
import type { EtcdEndpoint } from './etcd-client.js';

/** ReplicaHashes is what the comparison found. */
export interface ReplicaHashes {
  /** revision is the revision the hashes cover (0 when no comparison could be made). */
  readonly revision: number;
  /** hashes maps each member to its HashKV at `revision`. */
  readonly hashes: Readonly<Record<string, number>>;
  /** diverged is true when two members answered different hashes at one revision. */
  readonly diverged: boolean;
  /** unanswered lists members that never answered (the comparison then covers the rest). */
  readonly unanswered: readonly string[];
}

/**
 * compareReplicaHashes asks every member in `names` for its revision, then for its
 * HashKV at the lowest one, retrying until every member answered or `timeoutMs` passed.
 */
export async function compareReplicaHashes(
  endpoint: (name: string) => EtcdEndpoint,
  names: readonly string[],
  timeoutMs: number,
): Promise<ReplicaHashes> {
  const deadline = Date.now() + timeoutMs;
  let best: ReplicaHashes = { revision: 0, hashes: {}, diverged: false, unanswered: [...names] };
  while (Date.now() < deadline) {
    const statuses = await Promise.all(
      names.map((name) =>
        endpoint(name)
          .status(2000)
          .then(
            (status) => ({ name, revision: Number(status.header?.revision ?? 0) }),
            () => undefined,
          ),
      ),
    );
    const answered = statuses.filter((s) => s !== undefined);
    if (answered.length > 0) {
      const revision = Math.min(...answered.map((s) => s.revision));
      const hashes: Record<string, number> = {};
      await Promise.all(
        answered.map(async ({ name }) => {
          try {
            hashes[name] = (await endpoint(name).hashKV(revision, 5000)).hash;
          } catch {
            // Not answered this round.
          }
        }),
      );
      const unanswered = names.filter((name) => hashes[name] === undefined);
      const diverged = new Set(Object.values(hashes)).size > 1;
      best = { revision, hashes, diverged, unanswered };
      if (diverged || unanswered.length === 0) return best;
    }
    await sleep(500);
  }
  return best;
}

/** StateHashes is what the whole-state comparison found (raftkit's Maintenance.Hash). */
export interface StateHashes {
  /** appliedIndex is the raft index every member had applied (0: they never settled). */
  readonly appliedIndex: number;
  readonly hashes: Readonly<Record<string, number>>;
  readonly diverged: boolean;
}

/**
 * compareStateHashes waits until every member in `names` reports the same applied raft
 * index, twice in a row around asking each for Maintenance.Hash (nothing was applied in
 * between), and compares the hashes: raftkit's covers the whole applied state — the
 * key-value history, the leases with their keys, the membership — so it also catches a
 * divergence HashKV cannot see. Gives up (appliedIndex 0) after `timeoutMs`.
 */
export async function compareStateHashes(
  endpoint: (name: string) => EtcdEndpoint,
  names: readonly string[],
  timeoutMs: number,
): Promise<StateHashes> {
  const deadline = Date.now() + timeoutMs;
  const appliedIndexes = async (): Promise<number[] | undefined> => {
    const statuses = await Promise.all(
      names.map((name) =>
        endpoint(name)
          .status(2000)
          .then(
            (status) => Number(status.raftAppliedIndex),
            () => undefined,
          ),
      ),
    );
    return statuses.every((s) => s !== undefined) ? (statuses as number[]) : undefined;
  };
  const settled = (indexes: number[] | undefined): number | undefined =>
    indexes !== undefined && indexes.length > 0 && indexes.every((i) => i === indexes[0])
      ? indexes[0]
      : undefined;
  while (Date.now() < deadline) {
    const before = settled(await appliedIndexes());
    if (before !== undefined) {
      const hashes: Record<string, number> = {};
      try {
        await Promise.all(
          names.map(async (name) => {
            hashes[name] = (await endpoint(name).hash(5000)).hash;
          }),
        );
        const after = settled(await appliedIndexes());
        if (after === before) {
          return {
            appliedIndex: before,
            hashes,
            diverged: new Set(Object.values(hashes)).size > 1,
          };
        }
      } catch {
        // A member did not answer: try again.
      }
    }
    await sleep(300);
  }
  return { appliedIndex: 0, hashes: {}, diverged: false };
}
