import { EMPTY_BYTES, type KeyRange } from './key-bytes.js';
import type { Generation } from './key-index.js';
import type { TreeIndex } from './tree-index.js';
import type { KeyValue } from './types.js';

/**
 * MvccEvent is one change made by a write transaction (etcd's `mvccpb.Event`): a put
 * with the key's new state, or a delete whose `kv` carries only the key and the delete's
 * revision as `modRevision` (other fields zero), as etcd's tombstone events do.
 */
export interface MvccEvent {
  readonly type: 'put' | 'delete';
  readonly kv: KeyValue;
}

/**
 * CommitListener hears each committed write transaction: the store's new revision and
 * the txn's changes in the order they were made. It must not throw or write the store.
 */
export type CommitListener = (revision: number, events: readonly MvccEvent[]) => void;

/** deleteEvent is the event of deleting `key` at revision `rev`. */
export function deleteEvent(key: Uint8Array, rev: number): MvccEvent {
  return {
    type: 'delete',
    kv: { key, createRevision: 0, modRevision: rev, version: 0, value: EMPTY_BYTES, lease: 0n },
  };
}

/**
 * collectHistory returns the changes to the keys in `range` at revisions
 * `fromRev..toRev` that the index still holds (callers check `fromRev` against the
 * compacted revision), ordered by revision; changes sharing a revision (one txn) come
 * in the order the txn made them (sub-revision).
 */
export function collectHistory(
  index: TreeIndex,
  range: KeyRange,
  fromRev: number,
  toRev: number,
): MvccEvent[] {
  const out: MvccEvent[] = [];
  // Each event's sub-revision, to order the changes of one txn as it made them.
  const subs: number[] = [];
  const visitKey = (key: Uint8Array, generations: readonly Generation[]) => {
    for (const g of generations) {
      const last = g.tombstone !== 0 ? g.tombstone : (g.revs[g.revs.length - 1]?.mod ?? 0);
      if (last < fromRev) continue;
      const n = g.revs.length;
      for (let i = 0; i < n; i++) {
        const e = g.revs[i]!;
        if (e.mod < fromRev) continue;
        if (e.mod > toRev) break;
        out.push({
          type: 'put',
          kv: {
            key,
            createRevision: g.created,
            modRevision: e.mod,
            version: g.version - (n - 1 - i),
            value: e.value,
            lease: e.lease,
          },
        });
        subs.push(e.sub);
      }
      if (g.tombstone !== 0 && g.tombstone >= fromRev && g.tombstone <= toRev) {
        out.push(deleteEvent(key, g.tombstone));
        subs.push(g.tombstoneSub);
      }
    }
  };
  if (range.single) {
    const ki = index.get(range.key);
    if (ki !== undefined) visitKey(ki.key, ki.generations);
  } else {
    // A walk over the whole index; catching up from history is rare next to live events.
    for (const [k, ki] of index.entries()) {
      if (k < range.start) continue;
      if (range.end !== undefined && k >= range.end) break;
      visitKey(ki.key, ki.generations);
    }
  }
  // By revision, then by sub-revision: a txn's changes in the order it made them, as
  // etcd replays them (and as they were sent live).
  const order = out.map((_, i) => i);
  order.sort((a, b) => out[a]!.kv.modRevision - out[b]!.kv.modRevision || subs[a]! - subs[b]!);
  return order.map((i) => out[i]!);
}
