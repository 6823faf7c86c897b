import { describe, expect, it } from 'vitest';
import { KvStateMachine } from '../src/kv-state-machine.js';
import { grant, put, snapshotAt } from './log-entries.js';

// Maintenance.Hash: one hash of the whole applied state, equal on members that applied
// the same log prefix (also through a snapshot), different when any part differs.

const members = [{ id: 0x11n, name: 'a', peerUrls: ['http://127.0.0.1:1'] }];
/** fresh is a member's state machine at the cluster's initial snapshot. */
function fresh(): KvStateMachine {
  const machine = new KvStateMachine({ awaitingSnapshot: true });
  machine.restore(snapshotAt(1, KvStateMachine.initialImage(members)));
  return machine;
}

describe('KvStateMachine.hash', () => {
  it('agrees between members that applied the same entries, directly or from a snapshot', () => {
    const log = [grant(7n, 30), put('a', '1', 7n), put('b', '2'), put('a', '3', 7n)];
    const one = fresh();
    const two = fresh();
    one.apply(log);
    two.apply(log);
    expect(two.hash()).toBe(one.hash());
    const restored = new KvStateMachine({ awaitingSnapshot: true });
    restored.restore(snapshotAt(5, one.snapshot()));
    expect(restored.hash()).toBe(one.hash());
  });

  it('changes with the data, the leases and the membership', () => {
    const base = fresh();
    base.apply([put('a', '1')]);
    const other = fresh();
    other.apply([put('a', '2')]);
    expect(other.hash()).not.toBe(base.hash());
    const leased = fresh();
    leased.apply([put('a', '1'), grant(9n, 30)]);
    // Same key-value history but one more lease (a grant writes no revision).
    expect(leased.store.hashKV().hash).toBe(base.store.hashKV().hash);
    expect(leased.hash()).not.toBe(base.hash());
    const renamed = fresh();
    renamed.apply([put('a', '1')]);
    renamed.cluster.updateMember(0x11n, { name: 'b' });
    expect(renamed.hash()).not.toBe(base.hash());
  });
});

describe('request ids remembered through a snapshot', () => {
  // Two grants of one lease (the second refused) and two puts (the second names no lease).
  const log = () => [
    grant(5n, 30, 'g-ok'),
    grant(5n, 30, 'g-exists'),
    put('a', '1', 0n, 'p-ok'),
    put('b', '1', 99n, 'p-no-lease'),
  ];
  it('keep a revision for every success and 0 for a failure (the services tell them apart)', () => {
    const machine = fresh();
    machine.apply(log());
    const restored = new KvStateMachine({ awaitingSnapshot: true });
    restored.restore(snapshotAt(5, machine.snapshot()));
    const retried = restored.apply(log());
    expect(retried.map((r) => [r.kind, r.kind === 'duplicate' ? r.revision > 0 : null])).toEqual([
      ['duplicate', true],
      ['duplicate', false],
      ['duplicate', true],
      ['duplicate', false],
    ]);
  });
});
