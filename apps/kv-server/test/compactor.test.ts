import { MemoryLogStore, RaftNode, type Ticker } from '@raftkit/core';
import { encodeEtcdMessage } from '@raftkit/rpc/etcd';
import { ManualClock } from '@raftkit/timer';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Compactor,
  type CompactorOptions,
  REVISION_CHECK_INTERVAL_MS,
  startAutoCompaction,
} from '../src/compactor.js';
import { encodeKvCommand } from '../src/kv-command.js';
import { type KvResult, KvStateMachine } from '../src/kv-state-machine.js';
import { MvccError } from '../src/mvcc/index.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** A fake store: a revision that tests move, and a record of the compactions asked for. */
function fakeStore(overrides: Partial<CompactorOptions> = {}) {
  const state = { revision: 1, compacted: -1, active: true, calls: [] as number[] };
  const options: CompactorOptions = {
    mode: 'revision',
    retention: 100,
    revision: () => state.revision,
    compactedRevision: () => state.compacted,
    compact: async (revision) => {
      state.calls.push(revision);
      if (revision <= state.compacted) throw new MvccError('ErrCompacted');
      state.compacted = revision;
    },
    active: () => state.active,
    ...overrides,
  };
  return { state, options };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('Compactor, revision mode (etcd: every 5 minutes, to current − retention)', () => {
  it('compacts to current − retention every 5 minutes when that moved', async () => {
    const clock = new ManualClock();
    const { state, options } = fakeStore({ clock, retention: 100 });
    const compactor = new Compactor(options);
    compactor.start();
    state.revision = 50;
    clock.advance(REVISION_CHECK_INTERVAL_MS);
    await flush();
    expect(state.calls).toEqual([]); // 50 − 100 ≤ 0: nothing to do yet
    state.revision = 1000;
    clock.advance(REVISION_CHECK_INTERVAL_MS - 1);
    await flush();
    expect(state.calls).toEqual([]);
    clock.advance(1);
    await flush();
    expect(state.calls).toEqual([900]);
    clock.advance(REVISION_CHECK_INTERVAL_MS);
    await flush();
    expect(state.calls).toEqual([900]); // unchanged revision: no second compaction
    state.revision = 1500;
    clock.advance(REVISION_CHECK_INTERVAL_MS);
    await flush();
    expect(state.calls).toEqual([900, 1400]);
    compactor.stop();
    state.revision = 5000;
    clock.advance(10 * REVISION_CHECK_INTERVAL_MS);
    await flush();
    expect(state.calls).toEqual([900, 1400]);
    expect(clock.pendingCount).toBe(0);
  });

  it('does not compact while this member is not the leader', async () => {
    const clock = new ManualClock();
    const { state, options } = fakeStore({ clock, retention: 10 });
    const compactor = new Compactor(options);
    compactor.start();
    state.active = false;
    state.revision = 500;
    clock.advance(3 * REVISION_CHECK_INTERVAL_MS);
    await flush();
    expect(state.calls).toEqual([]);
    state.active = true;
    clock.advance(REVISION_CHECK_INTERVAL_MS);
    await flush();
    expect(state.calls).toEqual([490]);
    compactor.stop();
  });

  it('retries a failed compaction at the next check', async () => {
    const clock = new ManualClock();
    let fail = true;
    const { state, options } = fakeStore({ clock, retention: 10 });
    const compact = options.compact;
    const compactor = new Compactor({
      ...options,
      compact: (revision) => (fail ? Promise.reject(new Error('no leader')) : compact(revision)),
    });
    compactor.start();
    state.revision = 100;
    clock.advance(REVISION_CHECK_INTERVAL_MS);
    await flush();
    expect(state.compacted).toBe(-1);
    fail = false;
    clock.advance(REVISION_CHECK_INTERVAL_MS);
    await flush();
    expect(state.compacted).toBe(90);
    compactor.stop();
  });
});

describe('Compactor, periodic mode (etcd: keep `retention` of history)', () => {
  it('first compacts after one retention, to the revision of one retention ago, then every retention (< 1 h)', async () => {
    const clock = new ManualClock();
    const { state, options } = fakeStore({ clock, mode: 'periodic', retention: 10 * MINUTE });
    const compactor = new Compactor(options);
    // The revision grows by 100 a minute; samples are taken every minute (retention / 10).
    compactor.start();
    for (let minute = 1; minute <= 10; minute++) {
      state.revision = 1 + 100 * minute;
      clock.advance(MINUTE);
      await flush();
      if (minute < 10) expect(state.calls).toEqual([]);
    }
    // At 10 minutes: compact to the revision sampled at the start.
    expect(state.calls).toEqual([1]);
    for (let minute = 11; minute <= 20; minute++) {
      state.revision = 1 + 100 * minute;
      clock.advance(MINUTE);
      await flush();
    }
    // At 20 minutes: the oldest of the last 11 samples (one a minute, the newest taken at
    // minute 19), i.e. the revision at minute 9, as etcd's `revs[0]`.
    expect(state.calls).toEqual([1, 901]);
    compactor.stop();
  });

  it('with a retention above 1 h, samples every 6 minutes and compacts every hour', async () => {
    const clock = new ManualClock();
    const { state, options } = fakeStore({ clock, mode: 'periodic', retention: 3 * HOUR });
    const compactor = new Compactor(options);
    compactor.start();
    const revisionAt = (ms: number) => 2 + Math.floor(ms / MINUTE);
    for (let t = 0; t < 5 * HOUR; t += 6 * MINUTE) {
      state.revision = revisionAt(t + 6 * MINUTE);
      clock.advance(6 * MINUTE);
      await flush();
    }
    // First compaction 3 h after start (to the start revision), then at 4 h and 5 h, each to
    // the oldest of the last 31 samples: 3 h before the newest, taken 6 minutes earlier.
    expect(state.calls).toEqual([
      1,
      revisionAt(HOUR - 6 * MINUTE),
      revisionAt(2 * HOUR - 6 * MINUTE),
    ]);
    compactor.stop();
  });
});

class HandTicker implements Ticker {
  start(): void {}
  stop(): void {}
}

const nodes: RaftNode<KvResult>[] = [];
afterEach(async () => {
  for (const node of nodes.splice(0)) await node.stop();
});

describe('startAutoCompaction', () => {
  it('is off with retention 0', () => {
    const stateMachine = new KvStateMachine();
    expect(
      startAutoCompaction({
        config: { autoCompactionMode: 'periodic', autoCompactionRetention: 0 },
        node: {} as RaftNode<KvResult>,
        stateMachine,
      }),
    ).toBeUndefined();
  });

  it('proposes a Compact through raft that the state machine applies', async () => {
    const store = new MemoryLogStore({
      voters: [1],
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    });
    const stateMachine = new KvStateMachine();
    const node = new RaftNode<KvResult>({
      config: { id: 1, peers: [1], electionTicks: 10, heartbeatTicks: 1 },
      store,
      stateMachine,
      transport: { send: () => {} },
      ticker: new HandTicker(),
    });
    nodes.push(node);
    node.start();
    node.campaign();
    for (let i = 0; i < 100 && !node.isLeader(); i++) await flush();
    expect(node.isLeader()).toBe(true);
    const put = (key: string) =>
      node.propose(
        encodeKvCommand(
          'put',
          undefined,
          encodeEtcdMessage('PutRequest', {
            key: new TextEncoder().encode(key),
            value: new TextEncoder().encode('v'),
          }),
        ),
      );
    for (let i = 0; i < 30; i++) await put(`k${i % 3}`);
    expect(stateMachine.store.revision).toBe(31);
    const clock = new ManualClock();
    const compactor = startAutoCompaction({
      config: { autoCompactionMode: 'revision', autoCompactionRetention: 10 },
      node,
      stateMachine,
      clock,
      revisionCheckIntervalMs: 1000,
    });
    expect(compactor).toBeDefined();
    clock.advance(1000);
    for (let i = 0; i < 100 && stateMachine.store.compactRevision < 0; i++) await flush();
    expect(stateMachine.store.compactRevision).toBe(21);
    // The history before 21 is gone; reads at or after it still work.
    expect(() =>
      stateMachine.store.range({ key: new TextEncoder().encode('k0'), revision: 20 }),
    ).toThrow(/compacted/);
    expect(
      stateMachine.store.range({ key: new TextEncoder().encode('k0'), revision: 21 }).kvs,
    ).toHaveLength(1);
    compactor!.stop();
  });
});
