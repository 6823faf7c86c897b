import type { KeyValue } from './types.js';

/**
 * RevisionEntry is one put of a key: its revision, its position among the changes of
 * its write txn (etcd's sub-revision: 0 for the txn's first change), value and lease.
 */
export interface RevisionEntry {
  readonly mod: number;
  readonly sub: number;
  readonly value: Uint8Array;
  readonly lease: bigint;
}

/**
 * Generation is one life of a key, from the put that created it to the delete that
 * ended it (etcd's `generation`). `revs` holds the puts still kept (compaction drops the
 * older ones), `created` the revision of the creating put even once that put is dropped,
 * `version` the version of the last entry of `revs`, and `tombstone` the revision of the
 * delete that ended it, 0 while the key is alive.
 */
export interface Generation {
  created: number;
  version: number;
  revs: RevisionEntry[];
  tombstone: number;
  /** tombstoneSub is the delete's sub-revision (0 while alive). */
  tombstoneSub: number;
}

/**
 * KeyIndex is the history of one key since the last compaction, as a list of
 * generations oldest first (etcd's `keyIndex`). Several changes may share one main
 * revision when a txn writes the key twice (etcd tells them apart by sub-revision): they
 * are kept in the order they happened and reads at that revision see the last one.
 */
export class KeyIndex {
  /** key is the key's bytes, shared with every {@link KeyValue} this index returns. */
  readonly key: Uint8Array;
  /** generations is the key's history, oldest first; the last may be alive. */
  generations: Generation[];

  constructor(key: Uint8Array, generations: Generation[] = []) {
    this.key = key;
    this.generations = generations;
  }

  /** isEmpty tells whether no history is left, so the key can leave the index. */
  isEmpty(): boolean {
    return this.generations.length === 0;
  }

  /**
   * put records a put at revision `rev` (sub-revision `sub`), starting a new generation
   * if the key is dead.
   */
  put(rev: number, value: Uint8Array, lease: bigint, sub = 0): void {
    const last = this.generations[this.generations.length - 1];
    if (last !== undefined && last.tombstone === 0) {
      last.revs.push({ mod: rev, sub, value, lease });
      last.version++;
      return;
    }
    this.generations.push({
      created: rev,
      version: 1,
      revs: [{ mod: rev, sub, value, lease }],
      tombstone: 0,
      tombstoneSub: 0,
    });
  }

  /** liveLease is the lease of the key's latest put while the key is alive, else undefined. */
  liveLease(): bigint | undefined {
    const last = this.generations[this.generations.length - 1];
    if (last === undefined || last.tombstone !== 0) return undefined;
    return last.revs[last.revs.length - 1]?.lease;
  }

  /** tombstone records a delete at revision `rev` (sub-revision `sub`); false if the key is not alive. */
  tombstone(rev: number, sub = 0): boolean {
    const last = this.generations[this.generations.length - 1];
    if (last === undefined || last.tombstone !== 0) return false;
    last.tombstone = rev;
    last.tombstoneSub = sub;
    return true;
  }

  /** get returns the key's state as of revision `atRev`, or undefined if it did not exist. */
  get(atRev: number): KeyValue | undefined {
    for (let gi = this.generations.length - 1; gi >= 0; gi--) {
      const g = this.generations[gi] as Generation;
      const first = g.revs[0];
      if (first === undefined || first.mod > atRev) continue;
      if (g.tombstone !== 0 && g.tombstone <= atRev) return undefined;
      const i = lastAtOrBefore(g.revs, atRev);
      const e = g.revs[i] as RevisionEntry;
      return {
        key: this.key,
        createRevision: g.created,
        modRevision: e.mod,
        version: g.version - (g.revs.length - 1 - i),
        value: e.value,
        lease: e.lease,
      };
    }
    return undefined;
  }

  /**
   * compact drops the history that no read at a revision >= `atRev` can see: whole
   * generations deleted at or before `atRev`, and in the generation alive at `atRev`
   * every put older than the last one at or before it (etcd's `keyIndex.compact`).
   */
  compact(atRev: number): void {
    let gi = 0;
    while (gi < this.generations.length) {
      const g = this.generations[gi] as Generation;
      if (g.tombstone === 0 || g.tombstone > atRev) break;
      gi++;
    }
    if (gi > 0) this.generations = this.generations.slice(gi);
    const g = this.generations[0];
    if (g === undefined) return;
    const i = lastAtOrBefore(g.revs, atRev);
    if (i > 0) g.revs = g.revs.slice(i);
  }

  /**
   * rollback undoes every change made at revision `rev`, newest first; used to abandon a
   * txn whose changes are all at the newest revision.
   */
  rollback(rev: number): void {
    for (;;) {
      const g = this.generations[this.generations.length - 1];
      if (g === undefined) return;
      if (g.tombstone === rev) {
        g.tombstone = 0;
        g.tombstoneSub = 0;
        continue;
      }
      if (g.tombstone !== 0) return;
      const e = g.revs[g.revs.length - 1];
      if (e === undefined || e.mod !== rev) return;
      g.revs.pop();
      g.version--;
      if (g.revs.length === 0) this.generations.pop();
    }
  }
}

/** lastAtOrBefore finds the index of the last entry with `mod <= atRev`, or -1. */
function lastAtOrBefore(revs: readonly RevisionEntry[], atRev: number): number {
  let lo = 0;
  let hi = revs.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if ((revs[mid] as RevisionEntry).mod <= atRev) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}
