import { ClusterInfo } from '@raftkit/config';
import type { ConfChange, ConfChangeType, Entry } from '@raftkit/core';
import { encodeEtcdMessage } from '@raftkit/rpc/etcd';
import { describe, expect, it } from 'vitest';
import { encodeKvCommand } from '../src/kv-command.js';
import { KvStateMachine } from '../src/kv-state-machine.js';
import { MvccError } from '../src/mvcc/index.js';

const bytes = (text: string) => new TextEncoder().encode(text);
let index = 0;
const entry = (data: Uint8Array): Entry => ({ term: 1, index: ++index, type: 'normal', data });
const put = (key: string, value: string, requestId?: string) =>
  entry(
    encodeKvCommand(
      'put',
      requestId,
      encodeEtcdMessage('PutRequest', { key: bytes(key), value: bytes(value) }),
    ),
  );

const M1 = 0x8e9e05c52164694dn;
const M2 = 0x91bc3c398fb3c146n;
const M3 = 0xfd422379fda50e48n;

const publish = (id: bigint, name: string, clientUrls: string[]) =>
  entry(
    encodeKvCommand(
      'publish',
      undefined,
      encodeEtcdMessage('Member', {
        ID: id,
        name,
        peerURLs: [],
        clientURLs: clientUrls,
        isLearner: false,
      }),
    ),
  );

const nodeIdOf = (id: bigint) => Number(id & ((1n << 53n) - 1n));

const change = (type: ConfChangeType, id: bigint, peerUrls: string[] = []): ConfChange => ({
  transition: 'auto',
  changes: [{ type, nodeId: nodeIdOf(id) }],
  context: encodeEtcdMessage('Member', {
    ID: id,
    name: '',
    peerURLs: peerUrls,
    clientURLs: [],
    isLearner: type === 'addLearnerNode',
  }),
});
const addLearner = (id: bigint, peerUrls: string[]) => change('addLearnerNode', id, peerUrls);
const removeNode = (id: bigint) => change('removeNode', id);

const snapshotAt = (index: number, data: Uint8Array) => ({
  metadata: {
    index,
    term: 1,
    confState: { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
  },
  data,
});

describe('KvStateMachine', () => {
  it('applies puts in order and answers with revisions', () => {
    const machine = new KvStateMachine();
    const results = machine.apply([put('a', '1'), put('b', '2'), put('a', '3')]);
    expect(
      results.map((result) => (result.kind === 'put' ? result.response.revision : -1)),
    ).toEqual([2, 3, 4]);
    expect(machine.store.range({ key: bytes('a') }).kvs[0]?.version).toBe(2);
  });

  it('refuses a lease id (no leases are granted yet) as etcd does for an unknown lease', () => {
    const machine = new KvStateMachine();
    const [result] = machine.apply([
      entry(
        encodeKvCommand(
          'put',
          undefined,
          encodeEtcdMessage('PutRequest', { key: bytes('k'), value: bytes('v'), lease: 7n }),
        ),
      ),
    ]);
    const error = result?.kind === 'error' ? result.error : undefined;
    expect(error).toBeInstanceOf(MvccError);
    expect((error as MvccError).code).toBe('ErrLeaseNotFound');
    expect((error as MvccError).grpcCode).toBe(5);
    expect(machine.store.revision).toBe(1);
  });

  it('applies a retried request id once and answers with the first result', () => {
    const machine = new KvStateMachine();
    const [first] = machine.apply([put('k', 'v', 'req-1')]);
    const [second] = machine.apply([put('k', 'v', 'req-1')]);
    expect(second).toBe(first);
    expect(machine.store.revision).toBe(2);
  });

  it('round-trips its snapshot: store, membership (published, learners, removed) and request ids', () => {
    const machine = new KvStateMachine({
      cluster: new ClusterInfo({
        clusterId: 1n,
        members: [
          { id: M1, name: 'm1', peerUrls: ['http://p1:2380'] },
          { id: M2, name: 'm2', peerUrls: ['http://p2:2380'] },
        ],
      }),
    });
    machine.apply([put('x', '1', 'id-1'), put('y', '2'), publish(M1, 'm1', ['http://c'])]);
    machine.applyConfChange(addLearner(M3, ['http://p3:2380']));
    machine.applyConfChange(removeNode(M2));
    const image = machine.snapshot();
    const restored = new KvStateMachine({ awaitingSnapshot: true });
    expect(() => restored.apply([put('z', '1')])).toThrow(/snapshot/);
    restored.restore(snapshotAt(3, image));
    expect(restored.store.revision).toBe(3);
    expect(restored.store.range({ key: bytes('x') }).kvs[0]?.value).toEqual(bytes('1'));
    expect(restored.cluster.member(M1)?.clientUrls).toEqual(['http://c']);
    expect(restored.cluster.member(M3)).toMatchObject({
      isLearner: true,
      peerUrls: ['http://p3:2380'],
    });
    expect(restored.cluster.isMember(M2)).toBe(false);
    expect(restored.cluster.removedIds()).toEqual([M2]);
    // A retry of a request applied before the snapshot is still applied only once.
    const [again] = restored.apply([put('x', '1', 'id-1')]);
    expect(again).toEqual({ kind: 'duplicate', revision: 2 });
    expect(restored.store.revision).toBe(3);
  });

  it('applies configuration changes to the membership: add, promote, remove, and refuses bad ones', () => {
    const errors: string[] = [];
    const machine = new KvStateMachine({
      cluster: new ClusterInfo({
        clusterId: 1n,
        members: [{ id: M1, name: 'm1', peerUrls: ['http://p1:2380'] }],
      }),
      onMembershipError: (_error, what) => errors.push(what),
    });
    machine.applyConfChange(addLearner(M3, ['http://p3:2380']));
    expect(machine.cluster.member(M3)?.isLearner).toBe(true);
    machine.applyConfChange(change('addNode', M3, ['http://p3:2380']));
    expect(machine.cluster.member(M3)?.isLearner).toBe(false);
    machine.applyConfChange(removeNode(M3));
    expect(machine.cluster.isMember(M3)).toBe(false);
    // A removed id never comes back; the refusal is reported, not thrown (every replica
    // refuses it alike).
    machine.applyConfChange(change('addNode', M3, ['http://p3:2380']));
    expect(machine.cluster.isMember(M3)).toBe(false);
    expect(errors).toEqual([`addNode ${Number(M3 & ((1n << 53n) - 1n))}`]);
    // Leaving a joint configuration changes no member.
    machine.applyConfChange({ transition: 'auto', changes: [], context: new Uint8Array() });
    expect(machine.cluster.members().map((member) => member.id)).toEqual([M1]);
  });

  it('updates peer URLs by MemberUpdate commands and answers a refused update with its error', () => {
    const machine = new KvStateMachine({
      cluster: new ClusterInfo({
        clusterId: 1n,
        members: [
          { id: M1, name: 'm1', peerUrls: ['http://p1:2380'] },
          { id: M2, name: 'm2', peerUrls: ['http://p2:2380'] },
        ],
      }),
    });
    const update = (id: bigint, urls: string[]) =>
      entry(
        encodeKvCommand(
          'memberUpdate',
          undefined,
          encodeEtcdMessage('Member', { ID: id, peerURLs: urls }),
        ),
      );
    const [ok, clash, missing] = machine.apply([
      update(M1, ['http://p1b:2380']),
      update(M2, ['http://p1b:2380']),
      update(M3, ['http://p9:2380']),
    ]);
    expect(ok).toEqual({ kind: 'memberUpdate' });
    expect(clash?.kind === 'memberUpdate' && clash.error?.reason).toBe('peerUrlExists');
    expect(missing?.kind === 'memberUpdate' && missing.error?.reason).toBe('idNotFound');
    expect(machine.cluster.member(M1)?.peerUrls).toEqual(['http://p1b:2380']);
  });

  it('captureSnapshot produces the image of the capture while later writes are applied', async () => {
    const machine = new KvStateMachine({
      cluster: new ClusterInfo({
        clusterId: 1n,
        members: [{ id: M1, name: 'm1', peerUrls: ['http://p1:2380'] }],
      }),
    });
    for (let i = 0; i < 5000; i++) machine.apply([put(`k${i % 1500}`, `v${i}`, `r${i}`)]);
    const expected = machine.snapshot();
    const produce = machine.captureSnapshot();
    const image = produce();
    // Writes, a membership change and a compaction land while the image is produced.
    for (let i = 0; i < 200; i++) machine.apply([put(`k${i}`, `w${i}`, `s${i}`)]);
    machine.applyConfChange(addLearner(M3, ['http://p3:2380']));
    machine.apply([
      entry(
        encodeKvCommand(
          'compaction',
          undefined,
          encodeEtcdMessage('CompactionRequest', { revision: BigInt(machine.store.revision - 10) }),
        ),
      ),
    ]);
    expect(await image).toEqual(expected);
    const restored = new KvStateMachine({ awaitingSnapshot: true });
    restored.restore(snapshotAt(5000, await image));
    expect(restored.store.revision).toBe(5001);
    expect(restored.cluster.isMember(M3)).toBe(false);
  });

  it('initialImage is the same bytes for the same initial members', () => {
    const members = [
      { id: M2, name: 'm2', peerUrls: ['http://p2:2380'] },
      { id: M1, name: 'm1', peerUrls: ['http://p1:2380'] },
    ];
    const image = KvStateMachine.initialImage(members);
    expect(KvStateMachine.initialImage([...members].reverse())).toEqual(image);
    const machine = new KvStateMachine({ awaitingSnapshot: true });
    machine.restore(snapshotAt(1, image));
    expect(machine.cluster.members().map((member) => member.name)).toEqual(['m1', 'm2']);
    expect(machine.store.revision).toBe(1);
  });

  it('refuses a corrupt snapshot with a typed error and keeps its state', () => {
    const machine = new KvStateMachine();
    machine.apply([put('keep', 'me')]);
    const image = new KvStateMachine().snapshot();
    image[0] = 0;
    expect(() =>
      machine.restore({
        metadata: {
          index: 1,
          term: 1,
          confState: {
            voters: [],
            learners: [],
            votersOutgoing: [],
            learnersNext: [],
            autoLeave: false,
          },
        },
        data: image,
      }),
    ).toThrow(/snapshot/);
    expect(machine.store.range({ key: bytes('keep') }).count).toBe(1);
  });
});
