import type { Entry, Snapshot } from '@raftkit/core';
import { encodeEtcdMessage, encodeWith, etcdType } from '@raftkit/rpc/etcd';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeKvCommand } from '../../src/kv-command.js';
import { type KvResult, KvStateMachine } from '../../src/kv-state-machine.js';
import { LeaseError, type LeaseEvent, MAX_LEASE_TTL } from '../../src/lease/lease-table.js';
import { bytesToKeyString, MvccError, type MvccEvent } from '../../src/mvcc/index.js';

const LEASE_GRANT_REQUEST = etcdType('LeaseGrantRequest');
const LEASE_REVOKE_REQUEST = etcdType('LeaseRevokeRequest');

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);
const ZERO = new Uint8Array([0]);

let index = 0;
const entry = (data: Uint8Array): Entry => ({ term: 1, index: ++index, type: 'normal', data });

const grant = (id: bigint, ttl: number | bigint, requestId?: string) =>
  entry(
    encodeKvCommand(
      'leaseGrant',
      requestId,
      encodeWith(LEASE_GRANT_REQUEST, { ID: id, TTL: BigInt(ttl) }),
    ),
  );
const revoke = (id: bigint, requestId?: string) =>
  entry(encodeKvCommand('leaseRevoke', requestId, encodeWith(LEASE_REVOKE_REQUEST, { ID: id })));
const put = (key: string, value: string, lease?: bigint) =>
  entry(
    encodeKvCommand(
      'put',
      undefined,
      encodeEtcdMessage('PutRequest', {
        key: bytes(key),
        value: bytes(value),
        ...(lease === undefined ? {} : { lease }),
      }),
    ),
  );
const del = (key: string) =>
  entry(
    encodeKvCommand(
      'deleteRange',
      undefined,
      encodeEtcdMessage('DeleteRangeRequest', { key: bytes(key) }),
    ),
  );
const txnPuts = (puts: [string, bigint][]) =>
  entry(
    encodeKvCommand(
      'txn',
      undefined,
      encodeEtcdMessage('TxnRequest', {
        compare: [],
        success: puts.map(([key, lease]) => ({
          requestPut: { key: bytes(key), value: bytes('t'), lease },
        })),
        failure: [],
      }),
    ),
  );
const compaction = (revision: number) =>
  entry(
    encodeKvCommand(
      'compaction',
      undefined,
      encodeEtcdMessage('CompactionRequest', { revision: BigInt(revision) }),
    ),
  );

const snapshotAt = (at: number, data: Uint8Array): Snapshot => ({
  metadata: {
    index: at,
    term: 1,
    confState: { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
  },
  data,
});

/** applyOne applies one entry and returns its result. */
function applyOne(machine: KvStateMachine, e: Entry): KvResult {
  const [result] = machine.apply([e]);
  if (result === undefined) throw new Error('no result');
  return result;
}

/** leaseErrorOf returns the LeaseError reason of an error result (fails otherwise). */
function leaseErrorOf(result: KvResult): string {
  if (result.kind !== 'error') throw new Error(`expected an error result, got ${result.kind}`);
  expect(result.error).toBeInstanceOf(LeaseError);
  return (result.error as LeaseError).reason;
}

/** mvccErrorOf returns the MvccError code of an error result (fails otherwise). */
function mvccErrorOf(result: KvResult): string {
  if (result.kind !== 'error') throw new Error(`expected an error result, got ${result.kind}`);
  expect(result.error).toBeInstanceOf(MvccError);
  return (result.error as MvccError).code;
}

/** keysOf lists a lease's keys as text, sorted (undefined for an unknown lease). */
function keysOf(machine: KvStateMachine, id: bigint): string[] | undefined {
  const lease = machine.leases.get(id);
  return lease === undefined ? undefined : [...lease.keys].sort();
}

/** liveKeys lists every live key and its lease. */
function liveKeys(machine: KvStateMachine): [string, bigint][] {
  return machine.store
    .range({ key: ZERO, rangeEnd: ZERO })
    .kvs.map((kv) => [text(kv.key), kv.lease] as [string, bigint]);
}

/** commits records every commit the machine's store reports from now on. */
function commits(machine: KvStateMachine) {
  const out: { revision: number; events: readonly MvccEvent[] }[] = [];
  machine.store.onCommit = (revision, events) => out.push({ revision, events });
  return out;
}

const eventsOf = (events: readonly MvccEvent[]) =>
  events.map((event) => [event.type, text(event.kv.key), event.kv.modRevision]);

/** LEASE_BLOCK is the size of a v3 image's lease block with `n` leases. */
const leaseBlock = (n: number) => 4 + 16 * n;

describe('KvStateMachine leases: grant', () => {
  it('grants a lease at the current revision without writing a revision', () => {
    const machine = new KvStateMachine();
    machine.apply([put('x', '1')]);
    const events: LeaseEvent[] = [];
    machine.leases.listener = (event) => events.push(event);
    expect(applyOne(machine, grant(7n, 30))).toEqual({
      kind: 'leaseGrant',
      id: 7n,
      ttl: 30,
      revision: 2,
    });
    expect(machine.store.revision).toBe(2);
    expect(machine.leases.entries()).toEqual([[7n, 30]]);
    expect(events).toEqual([{ type: 'granted', id: 7n, ttl: 30 }]);
  });

  it('refuses an id already granted with LeaseError exists and keeps the lease', () => {
    const machine = new KvStateMachine();
    machine.apply([grant(7n, 30), put('k', 'v', 7n)]);
    const result = applyOne(machine, grant(7n, 60));
    expect(leaseErrorOf(result)).toBe('exists');
    expect(machine.leases.entries()).toEqual([[7n, 30]]);
    expect(keysOf(machine, 7n)).toEqual(['k']);
  });

  it('refuses a TTL above MAX_LEASE_TTL with LeaseError ttlTooLarge; the maximum is granted', () => {
    const machine = new KvStateMachine();
    expect(leaseErrorOf(applyOne(machine, grant(1n, BigInt(MAX_LEASE_TTL) + 1n)))).toBe(
      'ttlTooLarge',
    );
    expect(machine.leases.size).toBe(0);
    expect(applyOne(machine, grant(1n, MAX_LEASE_TTL))).toMatchObject({
      kind: 'leaseGrant',
      ttl: MAX_LEASE_TTL,
    });
  });

  it('ignores a grant with id 0 or a TTL below 1 (a proposer never sends one)', () => {
    const machine = new KvStateMachine();
    expect(applyOne(machine, grant(0n, 10))).toEqual({ kind: 'ignored' });
    expect(applyOne(machine, grant(5n, 0))).toEqual({ kind: 'ignored' });
    expect(applyOne(machine, grant(5n, -3))).toEqual({ kind: 'ignored' });
    expect(machine.leases.size).toBe(0);
  });

  it('answers a retried grant (same request id) with the first result, not "exists"', () => {
    const machine = new KvStateMachine();
    const first = applyOne(machine, grant(7n, 30, 'req-grant'));
    const again = applyOne(machine, grant(7n, 30, 'req-grant'));
    expect(again).toBe(first);
    expect(machine.leases.size).toBe(1);
  });
});

describe('KvStateMachine leases: put with a lease', () => {
  it('attaches the key to the granted lease, and moves and detaches it by later writes', () => {
    const machine = new KvStateMachine();
    machine.apply([grant(1n, 10), grant(2n, 10)]);
    machine.apply([put('a', '1', 1n), put('b', '1', 1n), put('c', '1', 2n)]);
    expect(keysOf(machine, 1n)).toEqual(['a', 'b']);
    expect(keysOf(machine, 2n)).toEqual(['c']);
    machine.apply([put('a', '2', 2n), put('b', '2'), del('c')]);
    expect(keysOf(machine, 1n)).toEqual([]);
    expect(keysOf(machine, 2n)).toEqual(['a']);
    machine.apply([
      txnPuts([
        ['b', 1n],
        ['d', 1n],
      ]),
    ]);
    expect(keysOf(machine, 1n)).toEqual(['b', 'd']);
  });

  it('refuses a put to a lease never granted with ErrLeaseNotFound and writes nothing', () => {
    const machine = new KvStateMachine();
    machine.apply([grant(1n, 10), put('k', 'v', 1n)]);
    const revision = machine.store.revision;
    const result = applyOne(machine, put('k', 'w', 2n));
    expect(mvccErrorOf(result)).toBe('ErrLeaseNotFound');
    expect(mvccErrorOf(applyOne(machine, txnPuts([['z', 2n]])))).toBe('ErrLeaseNotFound');
    expect(machine.store.revision).toBe(revision);
    expect(liveKeys(machine)).toEqual([['k', 1n]]);
    expect(keysOf(machine, 1n)).toEqual(['k']);
  });

  it('refuses a put to a revoked lease with ErrLeaseNotFound', () => {
    const machine = new KvStateMachine();
    machine.apply([grant(1n, 10), revoke(1n)]);
    expect(mvccErrorOf(applyOne(machine, put('k', 'v', 1n)))).toBe('ErrLeaseNotFound');
  });
});

describe('KvStateMachine leases: revoke', () => {
  it("deletes all the lease's keys at one new revision and tells the commit listeners", () => {
    const machine = new KvStateMachine();
    machine.apply([
      grant(1n, 10),
      grant(2n, 10),
      put('a', '1', 1n),
      put('b', '1', 1n),
      put('c', '1'),
      put('d', '1', 2n),
      put('e', '1', 1n),
    ]);
    const before = machine.store.revision;
    const heard = commits(machine);
    const result = applyOne(machine, revoke(1n));
    expect(result).toEqual({ kind: 'leaseRevoke', revision: before + 1 });
    expect(machine.store.revision).toBe(before + 1);
    expect(heard).toHaveLength(1);
    expect(heard[0]?.revision).toBe(before + 1);
    expect(eventsOf(heard[0]?.events ?? []).sort()).toEqual([
      ['delete', 'a', before + 1],
      ['delete', 'b', before + 1],
      ['delete', 'e', before + 1],
    ]);
    expect(liveKeys(machine)).toEqual([
      ['c', 0n],
      ['d', 2n],
    ]);
    expect(machine.leases.has(1n)).toBe(false);
    expect(machine.leases.ids()).toEqual([2n]);
    expect(keysOf(machine, 2n)).toEqual(['d']);
    // The deleted keys' history shows the revocation at that one revision.
    expect(
      machine.store
        .history(ZERO, ZERO, before + 1, before + 1)
        .map((event) => [event.type, text(event.kv.key)]),
    ).toEqual([
      ['delete', 'a'],
      ['delete', 'b'],
      ['delete', 'e'],
    ]);
  });

  it('deletes only the keys still attached: not those moved to another lease, detached or deleted', () => {
    const machine = new KvStateMachine();
    machine.apply([
      grant(1n, 10),
      grant(2n, 10),
      put('moved', '1', 1n),
      put('detached', '1', 1n),
      put('deleted', '1', 1n),
      put('kept', '1', 1n),
      put('moved', '2', 2n),
      put('detached', '2'),
      del('deleted'),
    ]);
    const heard = commits(machine);
    machine.apply([revoke(1n)]);
    expect(eventsOf(heard[0]?.events ?? []).map(([, key]) => key)).toEqual(['kept']);
    expect(liveKeys(machine)).toEqual([
      ['detached', 0n],
      ['moved', 2n],
    ]);
  });

  it('revoking a lease with no keys writes no revision', () => {
    const machine = new KvStateMachine();
    machine.apply([put('x', '1'), grant(1n, 10)]);
    const heard = commits(machine);
    expect(applyOne(machine, revoke(1n))).toEqual({ kind: 'leaseRevoke', revision: 2 });
    expect(machine.store.revision).toBe(2);
    expect(heard).toEqual([]);
    expect(machine.leases.size).toBe(0);
  });

  it('refuses an unknown or already revoked lease with LeaseError notFound and changes nothing', () => {
    const machine = new KvStateMachine();
    machine.apply([grant(1n, 10), put('a', '1', 1n)]);
    expect(leaseErrorOf(applyOne(machine, revoke(9n)))).toBe('notFound');
    expect(leaseErrorOf(applyOne(machine, revoke(0n)))).toBe('notFound');
    expect(machine.store.revision).toBe(2);
    machine.apply([revoke(1n)]);
    expect(leaseErrorOf(applyOne(machine, revoke(1n)))).toBe('notFound');
    expect(machine.store.revision).toBe(3);
  });

  it('fires the revoked event after the keys are gone', () => {
    const machine = new KvStateMachine();
    machine.apply([grant(1n, 10), put('a', '1', 1n)]);
    let countAtRevoke = -1;
    machine.leases.listener = (event) => {
      if (event.type === 'revoked') countAtRevoke = machine.store.range({ key: bytes('a') }).count;
    };
    machine.apply([revoke(1n)]);
    expect(countAtRevoke).toBe(0);
  });

  it('works after a compaction (the keys are still attached)', () => {
    const machine = new KvStateMachine();
    machine.apply([grant(1n, 10), put('a', '1', 1n), put('a', '2', 1n), put('b', '1', 1n)]);
    machine.apply([compaction(machine.store.revision)]);
    machine.apply([revoke(1n)]);
    expect(liveKeys(machine)).toEqual([]);
  });
});

describe('KvStateMachine leases: snapshot and restore', () => {
  /** source: leases 1 (keys a, b), 2 (key c), 3 (no keys), one key without lease. */
  function source(): KvStateMachine {
    const machine = new KvStateMachine();
    machine.apply([
      grant(3n, 30),
      grant(1n, 10),
      grant(2n, 20),
      put('b', '1', 1n),
      put('a', '1', 1n),
      put('c', '1', 2n),
      put('plain', '1'),
    ]);
    return machine;
  }

  it('keeps the leases (in grant order, with their TTLs) and re-attaches their keys', () => {
    const original = source();
    const image = original.snapshot();
    const restored = new KvStateMachine({ awaitingSnapshot: true });
    const events: LeaseEvent[] = [];
    restored.leases.listener = (event) => events.push(event);
    restored.restore(snapshotAt(7, image));
    expect(events).toEqual([{ type: 'reset' }]);
    expect(restored.leases.entries()).toEqual([
      [3n, 30],
      [1n, 10],
      [2n, 20],
    ]);
    expect(keysOf(restored, 1n)).toEqual(['a', 'b']);
    expect(keysOf(restored, 2n)).toEqual(['c']);
    expect(keysOf(restored, 3n)).toEqual([]);
    expect(restored.snapshot()).toEqual(image);
  });

  it('a restored machine revokes correctly, exactly as the original does', () => {
    const original = source();
    const restored = new KvStateMachine({ awaitingSnapshot: true });
    restored.restore(snapshotAt(7, original.snapshot()));
    const more = [revoke(1n), put('d', '1', 2n), revoke(2n), grant(1n, 5), revoke(3n)];
    const expected = original.apply(more);
    expect(restored.apply(more)).toEqual(expected);
    expect(expected.map((result) => result.kind)).toEqual([
      'leaseRevoke',
      'put',
      'leaseRevoke',
      'leaseGrant',
      'leaseRevoke',
    ]);
    expect(liveKeys(restored)).toEqual([['plain', 0n]]);
    expect(restored.leases.entries()).toEqual([[1n, 5]]);
    expect(restored.snapshot()).toEqual(original.snapshot());
  });

  it('a restored machine refuses puts to leases not in the image', () => {
    const restored = new KvStateMachine({ awaitingSnapshot: true });
    restored.restore(snapshotAt(7, source().snapshot()));
    expect(mvccErrorOf(applyOne(restored, put('x', '1', 99n)))).toBe('ErrLeaseNotFound');
    expect(applyOne(restored, put('x', '1', 3n)).kind).toBe('put');
    expect(keysOf(restored, 3n)).toEqual(['x']);
  });

  it('replaces the leases the machine had before', () => {
    const machine = new KvStateMachine();
    machine.apply([grant(50n, 5), put('mine', '1', 50n)]);
    machine.restore(snapshotAt(7, source().snapshot()));
    expect(machine.leases.has(50n)).toBe(false);
    expect(machine.leases.ids()).toEqual([3n, 1n, 2n]);
    expect(leaseErrorOf(applyOne(machine, revoke(50n)))).toBe('notFound');
  });

  it('captureSnapshot gives the same image as snapshot, lease block included', async () => {
    const machine = source();
    const expected = machine.snapshot();
    const produce = machine.captureSnapshot();
    machine.apply([grant(4n, 40), revoke(1n)]);
    expect(await produce()).toEqual(expected);
  });

  it('writes version 3 with the lease block last: count, then id and TTL as int64 each', () => {
    const image = source().snapshot();
    expect([...image.subarray(0, 5)]).toEqual([0x52, 0x4b, 0x53, 0x4d, 3]);
    const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
    const start = image.length - leaseBlock(3);
    expect(view.getUint32(start)).toBe(3);
    const leases: [bigint, bigint][] = [];
    for (let i = 0; i < 3; i++) {
      leases.push([view.getBigInt64(start + 4 + 16 * i), view.getBigInt64(start + 12 + 16 * i)]);
    }
    expect(leases).toEqual([
      [3n, 30n],
      [1n, 10n],
      [2n, 20n],
    ]);
  });

  it('restores a version-2 image (no lease block) with no leases', () => {
    const original = source();
    const v3 = original.snapshot();
    const v2 = v3.slice(0, v3.length - leaseBlock(3));
    v2[4] = 2;
    const machine = new KvStateMachine();
    machine.apply([grant(50n, 5)]);
    machine.restore(snapshotAt(7, v2));
    expect(machine.leases.size).toBe(0);
    expect(machine.store.revision).toBe(original.store.revision);
    // The keys are restored (their lease ids too); no lease can revoke them.
    expect(liveKeys(machine)).toEqual(liveKeys(original));
    expect(leaseErrorOf(applyOne(machine, revoke(1n)))).toBe('notFound');
    expect(leaseErrorOf(applyOne(machine, revoke(50n)))).toBe('notFound');
    // Its own snapshot is version 3 again, with an empty lease block.
    const again = machine.snapshot();
    expect(again[4]).toBe(3);
    expect(again.subarray(again.length - 4)).toEqual(new Uint8Array(4));
    expect(again.subarray(5, again.length - 4)).toEqual(v2.subarray(5));
  });

  it('restores a hand-built version-2 image of an empty machine', () => {
    const v3 = new KvStateMachine().snapshot();
    // An empty machine's image ends with its empty lease block.
    expect(v3.subarray(v3.length - 4)).toEqual(new Uint8Array(4));
    const v2 = v3.slice(0, v3.length - 4);
    v2[4] = 2;
    const machine = new KvStateMachine({ awaitingSnapshot: true });
    machine.restore(snapshotAt(1, v2));
    expect(machine.leases.size).toBe(0);
    expect(machine.snapshot()).toEqual(v3);
  });

  it('refuses a version-2 image that still has a lease block, and a version-3 one without it', () => {
    const v3 = source().snapshot();
    const machine = new KvStateMachine();
    const v2WithBlock = v3.slice();
    v2WithBlock[4] = 2;
    expect(() => machine.restore(snapshotAt(7, v2WithBlock))).toThrow(MvccError);
    const v3WithoutBlock = v3.slice(0, v3.length - leaseBlock(3));
    expect(() => machine.restore(snapshotAt(7, v3WithoutBlock))).toThrow(MvccError);
    const v4 = v3.slice();
    v4[4] = 4;
    expect(() => machine.restore(snapshotAt(7, v4))).toThrow(MvccError);
  });
});

describe('KvStateMachine leases: corrupt lease block', () => {
  /** corruptions of a one-lease image (lease 1, TTL 10, key k), each with a name. */
  function corruptions(): [string, Uint8Array][] {
    const machine = new KvStateMachine();
    machine.apply([grant(1n, 10), put('k', 'v', 1n)]);
    const image = machine.snapshot();
    const ttlAt = image.length - 8;
    const withTtl = (ttl: bigint) => {
      const copy = image.slice();
      new DataView(copy.buffer).setBigInt64(ttlAt, ttl);
      return copy;
    };
    const withCount = (count: number) => {
      const copy = image.slice();
      new DataView(copy.buffer).setUint32(image.length - leaseBlock(1), count);
      return copy;
    };
    return [
      ['TTL 0', withTtl(0n)],
      ['TTL -1', withTtl(-1n)],
      ['TTL above the maximum', withTtl(BigInt(MAX_LEASE_TTL) + 1n)],
      ['truncated by one byte', image.slice(0, image.length - 1)],
      ['truncated inside the count', image.slice(0, image.length - 16 - 2)],
      ['a count above the leases there', withCount(2)],
      ['a count below the leases there', withCount(0)],
      ['a byte too many', Uint8Array.from([...image, 0])],
    ];
  }

  it('refuses each with ErrCorruptSnapshot and keeps the state it had', () => {
    const cases = corruptions();
    expect(cases).toHaveLength(8);
    for (const [name, data] of cases) {
      const machine = new KvStateMachine();
      machine.apply([grant(9n, 90), put('mine', '1', 9n)]);
      const before = machine.snapshot();
      let error: unknown;
      try {
        machine.restore(snapshotAt(2, data));
      } catch (caught) {
        error = caught;
      }
      expect(error, name).toBeInstanceOf(MvccError);
      expect((error as MvccError).code, name).toBe('ErrCorruptSnapshot');
      expect(machine.snapshot(), name).toEqual(before);
      expect(keysOf(machine, 9n), name).toEqual(['mine']);
    }
  });

  it('refuses a lease block naming one lease id twice (no machine writes one)', () => {
    // Regression: such an image was accepted; the table silently kept one lease (with
    // the second TTL) and the machine's next image differed from the one it restored.
    const machine = new KvStateMachine();
    machine.apply([grant(1n, 10), grant(2n, 20)]);
    const image = machine.snapshot();
    const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
    view.setBigInt64(image.length - 16, 1n); // the second lease's id := the first's
    const target = new KvStateMachine();
    let error: unknown;
    try {
      target.restore(snapshotAt(2, image));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(MvccError);
    expect((error as MvccError).code).toBe('ErrCorruptSnapshot');
    expect(target.leases.entries()).toEqual([]);
  });

  it('a machine awaiting a snapshot still awaits one after a corrupt image', () => {
    const [, data] = corruptions()[0] as [string, Uint8Array];
    const machine = new KvStateMachine({ awaitingSnapshot: true });
    expect(() => machine.restore(snapshotAt(2, data))).toThrow(MvccError);
    expect(() => machine.apply([put('x', '1')])).toThrow(MvccError);
  });

  it('accepts the TTL bounds themselves (1 and MAX_LEASE_TTL)', () => {
    const machine = new KvStateMachine();
    machine.apply([grant(1n, 1), grant(2n, MAX_LEASE_TTL)]);
    const restored = new KvStateMachine({ awaitingSnapshot: true });
    restored.restore(snapshotAt(2, machine.snapshot()));
    expect(restored.leases.entries()).toEqual([
      [1n, 1],
      [2n, MAX_LEASE_TTL],
    ]);
  });
});

describe('KvStateMachine leases: determinism', () => {
  it('revocation deletes in the same order on a replica restored from a snapshot as on one that applied the log', () => {
    // Regression: the keys were deleted in the order of the lease's key Set — attach
    // order on a replica that applied the log, key order on one restored from a snapshot
    // (LeaseTable.reset) — so the watchers of two replicas heard the revocation's deletes
    // in different orders. They are deleted in key order now, as etcd's lessor does.
    const applied = new KvStateMachine();
    applied.apply([grant(1n, 10), put('b', '1', 1n), put('c', '1', 1n), put('a', '1', 1n)]);
    const restored = new KvStateMachine({ awaitingSnapshot: true });
    restored.restore(snapshotAt(4, applied.snapshot()));
    const heardApplied = commits(applied);
    const heardRestored = commits(restored);
    applied.apply([revoke(1n)]);
    restored.apply([revoke(1n)]);
    expect(eventsOf(heardApplied[0]?.events ?? [])).toHaveLength(3);
    expect(eventsOf(heardRestored[0]?.events ?? [])).toEqual(
      eventsOf(heardApplied[0]?.events ?? []),
    );
  });

  it('two machines applying the same entries end with identical snapshots and results (property)', () => {
    const KEYS = ['a', 'b', 'c', 'd'];
    const IDS = [1n, 2n, 3n];
    const entryArb = fc.oneof(
      fc.record({
        kind: fc.constant('grant' as const),
        id: fc.constantFrom(...IDS),
        ttl: fc.integer({ min: 1, max: 100 }),
      }),
      fc.record({ kind: fc.constant('revoke' as const), id: fc.constantFrom(...IDS, 9n) }),
      fc.record({
        kind: fc.constant('put' as const),
        key: fc.constantFrom(...KEYS),
        lease: fc.option(fc.constantFrom(...IDS, 9n), { nil: undefined }),
      }),
      fc.record({ kind: fc.constant('del' as const), key: fc.constantFrom(...KEYS) }),
      fc.record({
        kind: fc.constant('txn' as const),
        puts: fc.uniqueArray(fc.tuple(fc.constantFrom(...KEYS), fc.constantFrom(0n, ...IDS)), {
          maxLength: 3,
          selector: ([key]) => key,
        }),
      }),
    );
    fc.assert(
      fc.property(fc.array(entryArb, { maxLength: 40 }), fc.nat(), (specs, cut) => {
        const entries = specs.map((spec) => {
          switch (spec.kind) {
            case 'grant':
              return grant(spec.id, spec.ttl);
            case 'revoke':
              return revoke(spec.id);
            case 'put':
              return put(spec.key, 'v', spec.lease);
            case 'del':
              return del(spec.key);
            default:
              return txnPuts(spec.puts);
          }
        });
        const one = new KvStateMachine();
        const two = new KvStateMachine();
        const split = entries.length === 0 ? 0 : cut % (entries.length + 1);
        const oneResults = one.apply(entries);
        const twoResults = [...two.apply(entries.slice(0, split))];
        // A third member joins from two's snapshot at the split and applies the rest.
        const three = new KvStateMachine({ awaitingSnapshot: true });
        three.restore(snapshotAt(split, two.snapshot()));
        twoResults.push(...two.apply(entries.slice(split)));
        three.apply(entries.slice(split));
        expect(twoResults).toEqual(oneResults);
        const image = one.snapshot();
        expect(two.snapshot()).toEqual(image);
        expect(three.snapshot()).toEqual(image);
        // The lease table agrees with the store on every machine.
        for (const machine of [one, two, three]) {
          const fromStore: [string, bigint][] = [];
          machine.store.forEachLeasedKey((key, lease) => {
            if (machine.leases.has(lease)) fromStore.push([key, lease]);
          });
          const fromTable: [string, bigint][] = [];
          for (const id of machine.leases.ids()) {
            for (const key of machine.leases.get(id)?.keys ?? []) fromTable.push([key, id]);
          }
          const order = (x: [string, bigint], y: [string, bigint]) =>
            x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0;
          expect(fromTable.sort(order)).toEqual(fromStore.sort(order));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('keys are kept as index key strings: a non-UTF-8 key is revoked too', () => {
    const machine = new KvStateMachine();
    const key = new Uint8Array([0xff, 0xfe, 0x00]);
    machine.apply([
      grant(1n, 10),
      entry(
        encodeKvCommand(
          'put',
          undefined,
          encodeEtcdMessage('PutRequest', { key, value: bytes('v'), lease: 1n }),
        ),
      ),
    ]);
    expect([...(machine.leases.get(1n)?.keys ?? [])]).toEqual([bytesToKeyString(key)]);
    machine.apply([revoke(1n)]);
    expect(machine.store.range({ key }).count).toBe(0);
  });
});
