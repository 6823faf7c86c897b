import { OrderedMap } from '@js-sdsl/ordered-map';
import type { KeyRange } from './key-bytes.js';
import { KeyIndex } from './key-index.js';
import type { KeyValue } from './types.js';

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * TreeIndex is the ordered map from key to {@link KeyIndex} (etcd's `treeIndex`), keyed
 * by the latin1 string form of the key bytes so that map order is bytewise key order.
 * Next to the ordered tree (for ranges) a hash map answers single-key lookups — every
 * put and every single-key read — without walking the tree.
 */
export class TreeIndex {
  private readonly map = new OrderedMap<string, KeyIndex>([], compareStrings);
  private readonly byKey = new Map<string, KeyIndex>();

  /** size is the number of keys with any history left. */
  get size(): number {
    return this.byKey.size;
  }

  /** get returns the history of the key whose string form is `k`. */
  get(k: string): KeyIndex | undefined {
    return this.byKey.get(k);
  }

  /** create adds an empty history for a new key (one not in the index). */
  create(k: string, keyBytes: Uint8Array): KeyIndex {
    const ki = new KeyIndex(keyBytes);
    this.insert(k, ki);
    return ki;
  }

  /** getOrCreate returns the key's history, adding an empty one for a new key. */
  getOrCreate(k: string, keyBytes: Uint8Array): KeyIndex {
    return this.byKey.get(k) ?? this.create(k, keyBytes);
  }

  /** insert adds a whole key history (used when restoring a snapshot). */
  insert(k: string, ki: KeyIndex): void {
    this.map.setElement(k, ki);
    this.byKey.set(k, ki);
  }

  /** remove drops the key's history. */
  remove(k: string): void {
    this.map.eraseElementByKey(k);
    this.byKey.delete(k);
  }

  /**
   * visit calls `fn` with every key in `range` that exists at revision `atRev`, in key
   * order, and with its string form; `fn` returning false stops the walk.
   */
  visit(
    range: KeyRange,
    atRev: number,
    fn: (kv: KeyValue, k: string) => boolean | undefined,
  ): void {
    if (range.single) {
      const kv = this.byKey.get(range.key)?.get(atRev);
      if (kv !== undefined) fn(kv, range.key);
      return;
    }
    const { start, end } = range;
    if (end !== undefined && end <= start) return;
    const stop = this.map.end();
    for (let it = this.map.lowerBound(start); !it.equals(stop); it = it.next()) {
      const [k, ki] = it.pointer;
      if (end !== undefined && k >= end) return;
      const kv = ki.get(atRev);
      if (kv !== undefined && fn(kv, k) === false) return;
    }
  }

  /** count returns how many keys in `range` exist at revision `atRev`. */
  count(range: KeyRange, atRev: number): number {
    let n = 0;
    this.visit(range, atRev, () => {
      n++;
      return true;
    });
    return n;
  }

  /** compact compacts every key's history at `atRev` and drops keys left with none. */
  compact(atRev: number): void {
    const stop = this.map.end();
    let it = this.map.begin();
    while (!it.equals(stop)) {
      const [k, ki] = it.pointer;
      ki.compact(atRev);
      if (ki.isEmpty()) {
        this.byKey.delete(k);
        it = this.map.eraseElementByIterator(it);
      } else {
        it = it.next();
      }
    }
  }

  /** entries yields every key's string form and history in key order. */
  *entries(): IterableIterator<[string, KeyIndex]> {
    for (const [k, ki] of this.map) yield [k, ki];
  }
}
