import { join } from 'node:path';
import {
  CompactedError,
  emptyConfState,
  SnapshotOutOfDateError,
  UnavailableError,
} from '@raftkit/core';
import { ClassicLevel } from 'classic-level';
import { describe, expect, it } from 'vitest';
import { encodeFormat } from '../src/codec.js';
import {
  InvalidLogUpdateError,
  LevelLogStore,
  type LevelLogStoreOptions,
  StorageFailedError,
  StorageFormatError,
  StorageIdentityMismatchError,
  StorageLockedError,
  StorageNotFoundError,
} from '../src/index.js';
import { ENTRY_RANGE_END, ENTRY_RANGE_START, entryKeyIndex, FORMAT_KEY } from '../src/keys.js';
import { CONF, entries, entry, plain, useTempDirs } from './temp-dirs.js';

const { makeDir, track } = useTempDirs();

async function openStore(dir: string, options: Partial<LevelLogStoreOptions> = {}) {
  return track(await LevelLogStore.open({ dir, initialConfState: CONF, ...options }));
}

/** reopen closes `store` and opens the same dir again, as a restart would. */
async function reopen(store: LevelLogStore, options: Partial<LevelLogStoreOptions> = {}) {
  await store.close();
  return openStore(store.dir, options);
}

/** storedIndexes lists the entry keys physically present in LevelDB. */
async function storedIndexes(dir: string): Promise<number[]> {
  const db = new ClassicLevel<Buffer, Buffer>(join(dir, 'log'), {
    keyEncoding: 'buffer',
    valueEncoding: 'buffer',
  });
  try {
    const keys = await db.keys({ gte: ENTRY_RANGE_START, lt: ENTRY_RANGE_END }).all();
    return keys.map((key) => entryKeyIndex(key)!);
  } finally {
    await db.close();
  }
}

describe('LevelLogStore: open and recovery', () => {
  it('creates an empty store that answers like a fresh MemoryLogStore', async () => {
    const store = await openStore(makeDir());
    expect(store.created).toBe(true);
    expect(store.initialState()).toEqual({
      hardState: { term: 0, vote: 0, commit: 0 },
      confState: CONF,
    });
    expect([store.firstIndex(), store.lastIndex(), store.term(0)]).toEqual([1, 0, 0]);
    expect(store.snapshot().metadata).toEqual({ index: 0, term: 0, confState: CONF });
    expect(store.snapshotFile()).toBeUndefined();
    expect(() => store.term(1)).toThrow(UnavailableError);
  });

  it('recovers hard state and entries after a reopen, and ignores initialConfState then', async () => {
    let store = await openStore(makeDir());
    await store.save({ entries: entries(1, 5, 1), hardState: { term: 1, vote: 2, commit: 3 } });
    store = await reopen(store, { initialConfState: emptyConfState() });
    expect(store.created).toBe(false);
    expect(store.initialState()).toEqual({
      hardState: { term: 1, vote: 2, commit: 3 },
      confState: CONF,
    });
    expect(store.entries(1, 6).map(plain)).toEqual(entries(1, 5, 1).map(plain));
    expect(store.lastIndex()).toBe(5);
  });

  it('refuses to create a store when createIfMissing is false', async () => {
    await expect(
      LevelLogStore.open({ dir: join(makeDir(), 'none'), createIfMissing: false }),
    ).rejects.toThrow(StorageNotFoundError);
  });

  it('refuses a second open of the same dir while the first is open', async () => {
    const dir = makeDir();
    await openStore(dir);
    await expect(LevelLogStore.open({ dir })).rejects.toThrow(StorageLockedError);
  });

  it('checks the identity recorded at creation', async () => {
    const dir = makeDir();
    const identity = { clusterId: 'alpha', nodeId: 2 };
    let store = await openStore(dir, { identity });
    store = await reopen(store);
    expect(store.identity).toEqual(identity);
    await store.close();
    const other = LevelLogStore.open({ dir, identity: { clusterId: 'alpha', nodeId: 3 } });
    await expect(other).rejects.toThrow(StorageIdentityMismatchError);
    await expect(
      LevelLogStore.open({ dir, identity: { clusterId: 'beta', nodeId: 2 } }),
    ).rejects.toThrow(/belongs to cluster "alpha" node 2, but this node is cluster "beta" node 2/);
    const unnamed = makeDir();
    await (await LevelLogStore.open({ dir: unnamed })).close();
    await expect(LevelLogStore.open({ dir: unnamed, identity })).rejects.toThrow(
      StorageIdentityMismatchError,
    );
  });

  it('refuses a data dir of another format version and leaves it untouched', async () => {
    const dir = makeDir();
    await (await openStore(dir)).close();
    const db = new ClassicLevel<Buffer, Buffer>(join(dir, 'log'), {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
    });
    await db.put(FORMAT_KEY, encodeFormat(2));
    await db.close();
    await expect(LevelLogStore.open({ dir })).rejects.toThrow(StorageFormatError);
    await expect(LevelLogStore.open({ dir })).rejects.toMatchObject({
      code: 'STORAGE_FORMAT',
      found: 2,
    });
  });
});

describe('LevelLogStore: saving', () => {
  it('truncates a conflicting tail in the same write, for good (§5.3)', async () => {
    const dir = makeDir();
    let store = await openStore(dir);
    await store.save({ entries: entries(1, 10, 1) });
    await store.save({ entries: entries(6, 7, 2), hardState: { term: 2, vote: 1, commit: 5 } });
    expect(store.lastIndex()).toBe(7);
    expect(() => store.term(8)).toThrow(UnavailableError);
    store = await reopen(store);
    expect(store.lastIndex()).toBe(7);
    expect(store.entries(5, 8).map((value) => value.term)).toEqual([1, 2, 2]);
    await store.close();
    expect(await storedIndexes(dir)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('skips entries the compaction point covers and rejects gaps without writing', async () => {
    let store = await openStore(makeDir());
    await store.save({ entries: entries(1, 6, 1) });
    await store.compact(4);
    await store.save({ entries: entries(3, 8, 1) });
    expect([store.firstIndex(), store.lastIndex()]).toEqual([5, 8]);
    await expect(
      store.save({ entries: [entry(10, 1)], hardState: { term: 9, vote: 0, commit: 0 } }),
    ).rejects.toThrow(UnavailableError);
    await expect(store.save({ entries: [entry(9, 1), entry(11, 1)] })).rejects.toThrow(
      InvalidLogUpdateError,
    );
    store = await reopen(store);
    expect(store.lastIndex()).toBe(8);
    expect(store.initialState().hardState.term).toBe(0);
  });

  it('compactDisk compacts LevelDB beside the writes and keeps every entry', async () => {
    let store = await openStore(makeDir());
    await store.save({ entries: entries(1, 300, 1) });
    await store.compact(250);
    const writing = store.save({ entries: entries(301, 310, 1) });
    await store.compactDisk();
    await writing;
    expect([store.firstIndex(), store.lastIndex()]).toEqual([251, 310]);
    store = await reopen(store);
    expect([store.firstIndex(), store.lastIndex()]).toEqual([251, 310]);
    expect(store.entries(251, 311).map((value) => value.index)[0]).toBe(251);
    await store.close();
    expect(await storedIndexes(store.dir)).toEqual(Array.from({ length: 60 }, (_, i) => 251 + i));
    await expect(store.compactDisk()).rejects.toThrow(/closed/);
  });

  it('runs writes one at a time in call order, even when not awaited', async () => {
    let store = await openStore(makeDir());
    const pending = [];
    for (let term = 1; term <= 20; term++) {
      pending.push(
        store.save({
          entries: entries(term, term + 2, term),
          hardState: { term, vote: 1, commit: term },
        }),
      );
    }
    await Promise.all(pending);
    store = await reopen(store);
    expect(store.lastIndex()).toBe(22);
    expect(store.entries(1, 23).map((value) => value.term)).toEqual([
      ...Array.from({ length: 20 }, (_, i) => i + 1),
      20,
      20,
    ]);
    expect(store.initialState().hardState).toEqual({ term: 20, vote: 1, commit: 20 });
  });

  it('resolves an empty update and refuses writes once closed', async () => {
    const store = await openStore(makeDir());
    await store.save({ entries: [] });
    await store.close();
    await expect(store.save({ entries: [entry(1, 1)] })).rejects.toThrow(StorageFailedError);
  });

  it('after a failed write, refuses every later write and keeps reads at the durable state', async () => {
    const store = await openStore(makeDir());
    await store.save({ entries: entries(1, 3, 1) });
    // Pull the database out from under the store, as a dying disk would.
    await (store as unknown as { db: ClassicLevel }).db.close();
    const failed = store.save({ entries: entries(4, 5, 1) });
    await expect(failed).rejects.toThrow(StorageFailedError);
    await expect(failed).rejects.toMatchObject({
      code: 'STORAGE_FAILED',
      cause: expect.anything(),
    });
    await expect(store.compact(2)).rejects.toThrow(/a write to the log database failed/);
    expect(store.lastIndex()).toBe(3);
  });

  it('serves entries with the size limit of the port (at least one entry)', async () => {
    const store = await openStore(makeDir());
    const big = Array.from({ length: 4 }, (_, i) => ({
      ...entry(i + 1, 1),
      data: new Uint8Array(100),
    }));
    await store.save({ entries: big });
    expect(store.entries(1, 5, 10)).toHaveLength(1);
    expect(store.entries(1, 5, 232)).toHaveLength(2);
    expect(store.entries(2, 5)).toHaveLength(3);
  });
});

describe('LevelLogStore: compaction and snapshots', () => {
  it('compacts atomically: earlier reads fail, term(first - 1) still answers, keys are gone', async () => {
    const dir = makeDir();
    let store = await openStore(dir);
    await store.save({ entries: [...entries(1, 5, 1), ...entries(6, 9, 2)] });
    await store.compact(6);
    await store.compact(3); // already compacted: a no-op, like MemoryLogStore
    await expect(store.compact(10)).rejects.toThrow(UnavailableError);
    expect([store.firstIndex(), store.term(6)]).toEqual([7, 2]);
    expect(() => store.entries(6, 8)).toThrow(CompactedError);
    expect(() => store.term(5)).toThrow(CompactedError);
    store = await reopen(store);
    expect([store.firstIndex(), store.lastIndex(), store.term(6)]).toEqual([7, 9, 2]);
    await store.close();
    expect(await storedIndexes(dir)).toEqual([7, 8, 9]);
  });

  it('installs a snapshot from save: the log is replaced and the data survives a reopen', async () => {
    const dir = makeDir();
    let store = await openStore(dir);
    await store.save({ entries: entries(1, 8, 1) });
    const confState = { ...CONF, voters: [1, 2, 3, 4] };
    const snapshot = {
      metadata: { index: 20, term: 3, confState },
      data: new Uint8Array([7, 7, 7]),
    };
    await store.save({
      snapshot,
      entries: entries(18, 22, 3),
      hardState: { term: 3, vote: 0, commit: 20 },
    });
    expect([store.firstIndex(), store.lastIndex()]).toEqual([21, 22]);
    expect(store.snapshot()).toBe(snapshot);
    await expect(store.save({ snapshot, entries: [] })).rejects.toThrow(SnapshotOutOfDateError);
    store = await reopen(store);
    expect([store.firstIndex(), store.lastIndex(), store.term(20)]).toEqual([21, 22, 3]);
    expect(store.initialState().confState).toEqual(confState);
    expect(store.snapshotMetadata()).toEqual(snapshot.metadata);
    expect([...store.snapshot().data]).toEqual([7, 7, 7]);
    expect(store.snapshot()).toBe(store.snapshot());
    await store.close();
    expect(await storedIndexes(dir)).toEqual([21, 22]);
  });

  it('creates a snapshot from a stream, keeps entries until compact, prunes older files', async () => {
    let store = await openStore(makeDir());
    await store.save({ entries: entries(1, 30, 2) });
    async function* chunks(tag: number) {
      for (let i = 0; i < 4; i++) yield new Uint8Array(1000).fill(tag + i);
    }
    await store.createSnapshot(10, CONF, chunks(10));
    const metadata = await store.createSnapshot(20, CONF, chunks(20));
    expect(metadata).toEqual({ index: 20, term: 2, confState: CONF });
    expect(store.firstIndex()).toBe(1);
    await expect(store.createSnapshot(15, CONF, new Uint8Array())).rejects.toThrow(
      SnapshotOutOfDateError,
    );
    await expect(store.createSnapshot(31, CONF, new Uint8Array())).rejects.toThrow(
      UnavailableError,
    );
    expect((await store.snapshots.list()).map((file) => file.index)).toEqual([20]);
    await store.compact(20);
    store = await reopen(store);
    const snapshot = store.snapshot();
    expect(snapshot.metadata.index).toBe(20);
    expect(snapshot.data.byteLength).toBe(4000);
    expect([snapshot.data[0], snapshot.data[3999]]).toEqual([20, 23]);
    // A server restores its state machine by streaming the latest file, verified at the end.
    const restored: number[] = [];
    for await (const chunk of store.snapshots.chunks(store.snapshotFile()!, 1500)) {
      restored.push(chunk.byteLength);
    }
    expect(restored).toEqual([1500, 1500, 1000]);
    // A failing source leaves nothing behind and does not poison the store.
    async function* failing() {
      yield new Uint8Array(10);
      throw new Error('state machine read failed');
    }
    await expect(store.createSnapshot(25, CONF, failing())).rejects.toThrow(
      'state machine read failed',
    );
    expect((await store.snapshots.list()).map((file) => file.index)).toEqual([20]);
    await store.save({ entries: [entry(31, 2)] });
    expect(store.lastIndex()).toBe(31);
  });
});
