import type { Entry } from '@raftkit/core';
import { encodeEtcdMessage } from '@raftkit/rpc/etcd';
import { describe, expect, it } from 'vitest';
import { encodeKvCommand } from '../src/kv-command.js';
import { KvStateMachine } from '../src/kv-state-machine.js';

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
    expect(result?.kind === 'error' && result.error.code).toBe('ErrLeaseNotFound');
    expect(result?.kind === 'error' && result.error.grpcCode).toBe(5);
    expect(machine.store.revision).toBe(1);
  });

  it('applies a retried request id once and answers with the first result', () => {
    const machine = new KvStateMachine();
    const [first] = machine.apply([put('k', 'v', 'req-1')]);
    const [second] = machine.apply([put('k', 'v', 'req-1')]);
    expect(second).toBe(first);
    expect(machine.store.revision).toBe(2);
  });

  it('round-trips its snapshot: store, published members and request ids', () => {
    const machine = new KvStateMachine();
    machine.apply([
      put('x', '1', 'id-1'),
      put('y', '2'),
      entry(
        encodeKvCommand(
          'publish',
          undefined,
          encodeEtcdMessage('Member', {
            ID: 2n ** 63n + 5n,
            name: 'm1',
            peerURLs: [],
            clientURLs: ['http://c'],
            isLearner: false,
          }),
        ),
      ),
    ]);
    const image = machine.snapshot();
    const restored = new KvStateMachine();
    restored.restore({
      metadata: {
        index: 3,
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
    });
    expect(restored.store.revision).toBe(3);
    expect(restored.store.range({ key: bytes('x') }).kvs[0]?.value).toEqual(bytes('1'));
    expect(restored.members.get(2n ** 63n + 5n)?.clientUrls).toEqual(['http://c']);
    // A retry of a request applied before the snapshot is still applied only once.
    const [again] = restored.apply([put('x', '1', 'id-1')]);
    expect(again).toEqual({ kind: 'duplicate', revision: 2 });
    expect(restored.store.revision).toBe(3);
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
