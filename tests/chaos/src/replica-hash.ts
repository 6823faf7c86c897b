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
