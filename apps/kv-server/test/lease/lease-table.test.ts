import { describe, expect, it } from 'vitest';
import {
  LeaseError,
  type LeaseErrorReason,
  type LeaseEvent,
  LeaseTable,
  MAX_LEASE_TTL,
} from '../../src/lease/lease-table.js';
import { bytesToKeyString, MvccStore } from '../../src/mvcc/index.js';
import { b } from '../mvcc/helpers.js';
import { refusal } from './helpers.js';

/** recording returns a table whose listener pushes every event to `events`. */
function recording(): { table: LeaseTable; events: LeaseEvent[] } {
  const table = new LeaseTable();
  const events: LeaseEvent[] = [];
  table.listener = (event) => events.push(event);
  return { table, events };
}

/** keysOf lists a lease's keys, sorted (undefined for an unknown lease). */
function keysOf(table: LeaseTable, id: bigint): string[] | undefined {
  const lease = table.get(id);
  return lease === undefined ? undefined : [...lease.keys].sort();
}

describe('LeaseError', () => {
  it("carries the reason and etcd's message for each refusal", () => {
    const cases: [LeaseErrorReason, string][] = [
      ['notFound', 'etcdserver: requested lease not found'],
      ['exists', 'etcdserver: lease already exists'],
      ['ttlTooLarge', 'etcdserver: too large lease TTL'],
    ];
    for (const [reason, message] of cases) {
      const error = new LeaseError(reason);
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe('LeaseError');
      expect(error.reason).toBe(reason);
      expect(error.message).toBe(message);
    }
  });
});

describe('LeaseTable.grant', () => {
  it('adds a lease with its TTL and no keys; ids and entries keep grant order', () => {
    const table = new LeaseTable();
    expect(table.size).toBe(0);
    const lease = table.grant(30n, 10);
    expect(lease).toEqual({ id: 30n, ttl: 10, keys: new Set() });
    table.grant(10n, 5);
    table.grant(20n, 7);
    expect(table.size).toBe(3);
    expect(table.has(30n)).toBe(true);
    expect(table.has(40n)).toBe(false);
    expect(table.get(30n)).toBe(lease);
    expect(table.get(40n)).toBeUndefined();
    expect(table.ids()).toEqual([30n, 10n, 20n]);
    expect(table.entries()).toEqual([
      [30n, 10],
      [10n, 5],
      [20n, 7],
    ]);
  });

  it('refuses an id already granted with "exists" and keeps the first lease untouched', () => {
    const { table, events } = recording();
    const first = table.grant(1n, 10);
    first.keys.add('k');
    expect(refusal(() => table.grant(1n, 99))).toBe('exists');
    expect(table.get(1n)).toBe(first);
    expect(table.get(1n)?.ttl).toBe(10);
    expect(keysOf(table, 1n)).toEqual(['k']);
    expect(table.size).toBe(1);
    expect(events).toEqual([{ type: 'granted', id: 1n, ttl: 10 }]);
  });

  it('refuses a TTL above MAX_LEASE_TTL (9,000,000,000 s) with "ttlTooLarge"; the maximum itself is fine', () => {
    expect(MAX_LEASE_TTL).toBe(9_000_000_000);
    const { table, events } = recording();
    expect(refusal(() => table.grant(1n, MAX_LEASE_TTL + 1))).toBe('ttlTooLarge');
    expect(refusal(() => table.grant(1n, Number.MAX_SAFE_INTEGER))).toBe('ttlTooLarge');
    expect(table.has(1n)).toBe(false);
    expect(events).toEqual([]);
    expect(table.grant(1n, MAX_LEASE_TTL).ttl).toBe(MAX_LEASE_TTL);
  });

  it('checks the TTL before the id, as etcd does (too large wins over exists)', () => {
    const table = new LeaseTable();
    table.grant(1n, 10);
    expect(refusal(() => table.grant(1n, MAX_LEASE_TTL + 1))).toBe('ttlTooLarge');
    expect(table.get(1n)?.ttl).toBe(10);
  });

  it('can grant an id again once it was revoked', () => {
    const table = new LeaseTable();
    table.grant(1n, 10).keys.add('old');
    table.revoke(1n);
    const again = table.grant(1n, 20);
    expect(again.ttl).toBe(20);
    expect(again.keys.size).toBe(0);
    expect(table.ids()).toEqual([1n]);
  });
});

describe('LeaseTable.revoke', () => {
  it('removes the lease and returns it with its keys', () => {
    const table = new LeaseTable();
    table.grant(1n, 10);
    table.grant(2n, 20);
    table.applyChanges([
      { key: 'a', from: 0n, to: 1n },
      { key: 'b', from: 0n, to: 1n },
      { key: 'c', from: 0n, to: 2n },
    ]);
    const revoked = table.revoke(1n);
    expect(revoked.id).toBe(1n);
    expect(revoked.ttl).toBe(10);
    expect([...revoked.keys].sort()).toEqual(['a', 'b']);
    expect(table.has(1n)).toBe(false);
    expect(table.get(1n)).toBeUndefined();
    expect(table.size).toBe(1);
    expect(table.ids()).toEqual([2n]);
    expect(keysOf(table, 2n)).toEqual(['c']);
  });

  it('refuses an unknown id (never granted, or already revoked) with "notFound"', () => {
    const { table, events } = recording();
    expect(refusal(() => table.revoke(1n))).toBe('notFound');
    table.grant(1n, 10);
    table.revoke(1n);
    expect(refusal(() => table.revoke(1n))).toBe('notFound');
    expect(refusal(() => table.revoke(0n))).toBe('notFound');
    expect(events).toEqual([
      { type: 'granted', id: 1n, ttl: 10 },
      { type: 'revoked', id: 1n },
    ]);
  });
});

describe('LeaseTable.applyChanges', () => {
  it('attaches, moves between leases and detaches keys', () => {
    const table = new LeaseTable();
    table.grant(1n, 10);
    table.grant(2n, 10);
    table.applyChanges([
      { key: 'a', from: 0n, to: 1n },
      { key: 'b', from: 0n, to: 1n },
    ]);
    expect(keysOf(table, 1n)).toEqual(['a', 'b']);
    expect(keysOf(table, 2n)).toEqual([]);
    // Move a to lease 2.
    table.applyChanges([{ key: 'a', from: 1n, to: 2n }]);
    expect(keysOf(table, 1n)).toEqual(['b']);
    expect(keysOf(table, 2n)).toEqual(['a']);
    // Detach both.
    table.applyChanges([
      { key: 'a', from: 2n, to: 0n },
      { key: 'b', from: 1n, to: 0n },
    ]);
    expect(keysOf(table, 1n)).toEqual([]);
    expect(keysOf(table, 2n)).toEqual([]);
  });

  it('applies the changes of one batch in order', () => {
    const table = new LeaseTable();
    table.grant(1n, 10);
    table.grant(2n, 10);
    // Attached, then moved, then detached and attached again: the last change wins.
    table.applyChanges([
      { key: 'k', from: 0n, to: 1n },
      { key: 'k', from: 1n, to: 2n },
      { key: 'k', from: 2n, to: 0n },
      { key: 'k', from: 0n, to: 1n },
    ]);
    expect(keysOf(table, 1n)).toEqual(['k']);
    expect(keysOf(table, 2n)).toEqual([]);
  });

  it('ignores the side of a change that names no lease in the table', () => {
    const table = new LeaseTable();
    table.grant(1n, 10);
    table.applyChanges([
      { key: 'a', from: 0n, to: 9n },
      { key: 'b', from: 9n, to: 1n },
      { key: 'c', from: 0n, to: 1n },
      { key: 'c', from: 1n, to: 8n },
    ]);
    expect(table.ids()).toEqual([1n]);
    expect(table.has(9n)).toBe(false);
    expect(keysOf(table, 1n)).toEqual(['b']);
  });

  it('does not notify the listener', () => {
    const { table, events } = recording();
    table.grant(1n, 10);
    events.length = 0;
    table.applyChanges([{ key: 'a', from: 0n, to: 1n }]);
    expect(events).toEqual([]);
  });
});

describe('LeaseTable.reset', () => {
  it("replaces every lease by the snapshot's and re-attaches the restored store's keys", () => {
    const table = new LeaseTable();
    table.grant(1n, 10);
    table.grant(2n, 20);
    table.applyChanges([{ key: 'old', from: 0n, to: 1n }]);

    // A store as a snapshot restores it: keys attached to leases 2, 3 and 7 (7 is not in
    // the snapshot's lease block), a key with no lease, and a deleted key that had one.
    const store = new MvccStore();
    store.put({ key: b('x'), value: b('1'), lease: 3n });
    store.put({ key: b('y'), value: b('1'), lease: 2n });
    store.put({ key: b('z'), value: b('1'), lease: 3n });
    store.put({ key: b('plain'), value: b('1') });
    store.put({ key: b('orphan'), value: b('1'), lease: 7n });
    store.put({ key: b('gone'), value: b('1'), lease: 3n });
    store.deleteRange({ key: b('gone') });
    store.put({ key: b('moved'), value: b('1'), lease: 3n });
    store.put({ key: b('moved'), value: b('2'), lease: 2n });

    table.reset(
      [
        [3n, 30],
        [2n, 25],
      ],
      (fn) => store.forEachLeasedKey(fn),
    );
    expect(table.ids()).toEqual([3n, 2n]);
    expect(table.entries()).toEqual([
      [3n, 30],
      [2n, 25],
    ]);
    expect(table.has(1n)).toBe(false);
    expect(table.has(7n)).toBe(false);
    expect(keysOf(table, 3n)).toEqual(['x', 'z']);
    expect(keysOf(table, 2n)).toEqual(['moved', 'y']);
    // The new lease 2 is a fresh one: its TTL is the snapshot's.
    expect(table.get(2n)?.ttl).toBe(25);
  });

  it('to no leases empties the table', () => {
    const table = new LeaseTable();
    table.grant(1n, 10);
    table.reset([], () => {});
    expect(table.size).toBe(0);
    expect(table.ids()).toEqual([]);
  });

  it('keys are the store key strings (bytesToKeyString) also for non-UTF-8 bytes', () => {
    const store = new MvccStore();
    const key = new Uint8Array([0xff, 0x00, 0x80]);
    store.put({ key, value: b('v'), lease: 4n });
    const table = new LeaseTable();
    table.reset([[4n, 5]], (fn) => store.forEachLeasedKey(fn));
    expect([...(table.get(4n)?.keys ?? [])]).toEqual([bytesToKeyString(key)]);
  });
});

describe('LeaseTable listener', () => {
  it('hears grants, revocations and resets in order, after the table changed', () => {
    const table = new LeaseTable();
    const seen: { event: LeaseEvent; size: number; has1: boolean }[] = [];
    table.listener = (event) => seen.push({ event, size: table.size, has1: table.has(1n) });
    table.grant(1n, 10);
    table.grant(2n, 20);
    table.revoke(1n);
    table.reset([[5n, 50]], () => {});
    expect(seen).toEqual([
      { event: { type: 'granted', id: 1n, ttl: 10 }, size: 1, has1: true },
      { event: { type: 'granted', id: 2n, ttl: 20 }, size: 2, has1: true },
      { event: { type: 'revoked', id: 1n }, size: 1, has1: false },
      { event: { type: 'reset' }, size: 1, has1: false },
    ]);
  });

  it('hears the reset after the keys were re-attached', () => {
    const table = new LeaseTable();
    let keysAtReset: string[] | undefined;
    table.listener = (event) => {
      if (event.type === 'reset') keysAtReset = keysOf(table, 1n);
    };
    table.reset([[1n, 10]], (fn) => {
      fn('a', 1n);
      fn('b', 1n);
    });
    expect(keysAtReset).toEqual(['a', 'b']);
  });

  it('hears nothing of a refused request', () => {
    const { table, events } = recording();
    table.grant(1n, 10);
    events.length = 0;
    expect(refusal(() => table.grant(1n, 10))).toBe('exists');
    expect(refusal(() => table.grant(2n, MAX_LEASE_TTL + 1))).toBe('ttlTooLarge');
    expect(refusal(() => table.revoke(3n))).toBe('notFound');
    expect(events).toEqual([]);
  });

  it('is optional: a table without a listener works alike', () => {
    const table = new LeaseTable();
    expect(table.listener).toBeUndefined();
    table.grant(1n, 10);
    table.revoke(1n);
    table.reset([[2n, 3]], () => {});
    expect(table.ids()).toEqual([2n]);
  });
});
