import { randomBytes } from 'node:crypto';
import {
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { describe, expect, it } from 'vitest';
import { LevelLogStore, SnapshotChecksumError, StorageCorruptError } from '../src/index.js';
import { entryKey, FORMAT_KEY, HARD_STATE_KEY, LOG_START_KEY, SNAPSHOT_KEY } from '../src/keys.js';
import { CONF, entries, useTempDirs } from './temp-dirs.js';

// Damage a data dir the way disks, operators and bugs do, then check that open refuses it
// with the typed error that names what is wrong: never a crash, never an empty start.

const { makeDir, track } = useTempDirs();

/** populated returns a closed data dir with entries 1..10, a hard state and a snapshot at 4. */
async function populated(): Promise<string> {
  const dir = makeDir();
  const store = await LevelLogStore.open({ dir, initialConfState: CONF });
  await store.save({ entries: entries(1, 10, 2), hardState: { term: 2, vote: 1, commit: 8 } });
  await store.createSnapshot(4, CONF, new Uint8Array(2048).fill(5));
  await store.close();
  return dir;
}

async function withRawDb(dir: string, change: (db: ClassicLevel<Buffer, Buffer>) => Promise<void>) {
  const db = new ClassicLevel<Buffer, Buffer>(join(dir, 'log'), {
    keyEncoding: 'buffer',
    valueEncoding: 'buffer',
  });
  try {
    await change(db);
  } finally {
    await db.close();
  }
}

async function flipBit(dir: string, key: Buffer, byte: number) {
  await withRawDb(dir, async (db) => {
    const value = (await db.get(key))!;
    value[byte]! ^= 0x04;
    await db.put(key, value);
  });
}

/** refused expects open to fail with `type` and a message matching `message`, twice (nothing was changed). */
async function refused(dir: string, type: new (...args: never[]) => Error, message: RegExp) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const error = await LevelLogStore.open({ dir }).then(
      (store) => {
        track(store);
        return new Error(`open succeeded with last index ${store.lastIndex()}`);
      },
      (reason: unknown) => reason as Error,
    );
    expect(error).toBeInstanceOf(type);
    expect(error.message).toMatch(message);
  }
}

describe('corrupt data dirs are refused with a typed error', () => {
  it('a garbled entry value names the key and the directory', async () => {
    const dir = await populated();
    await withRawDb(dir, (db) => db.put(entryKey(6), randomBytes(40)));
    await refused(
      dir,
      StorageCorruptError,
      /raft storage at .*log is corrupt \(key entry 6\).*restore it from a backup/,
    );
  });

  it('a single flipped bit in an entry, the hard state, the snapshot record or the log start', async () => {
    for (const [key, name] of [
      [entryKey(9), 'entry 9'],
      [HARD_STATE_KEY, 'meta hard-state'],
      [SNAPSHOT_KEY, 'meta snapshot'],
      [LOG_START_KEY, 'meta log-start'],
      [FORMAT_KEY, 'meta format'],
    ] as const) {
      const dir = await populated();
      await flipBit(dir, key, 8);
      await refused(dir, StorageCorruptError, new RegExp(`key ${name}\\): the value is damaged`));
    }
  });

  it('a gap in the log, or a value stored under the wrong index', async () => {
    const gap = await populated();
    await withRawDb(gap, (db) => db.del(entryKey(5)));
    await refused(gap, StorageCorruptError, /entries 5..5 are missing/);
    const moved = await populated();
    await withRawDb(moved, async (db) => db.put(entryKey(7), (await db.get(entryKey(3)))!));
    await refused(moved, StorageCorruptError, /the value holds entry 3/);
  });

  it('a missing record every store has, or a lost format record over data', async () => {
    const noStart = await populated();
    await withRawDb(noStart, (db) => db.del(LOG_START_KEY));
    await refused(
      noStart,
      StorageCorruptError,
      /key meta log-start\): a record every store has is missing/,
    );
    const noFormat = await populated();
    await withRawDb(noFormat, (db) => db.del(FORMAT_KEY));
    await refused(
      noFormat,
      StorageCorruptError,
      /format record is missing but the database holds data/,
    );
  });

  it('a lost CURRENT file: refused, the old files kept, and restoring it brings the data back', async () => {
    const dir = await populated();
    const logDir = join(dir, 'log');
    renameSync(join(logDir, 'CURRENT'), join(dir, 'CURRENT.saved'));
    const before = readdirSync(logDir).sort();
    await refused(dir, StorageCorruptError, /CURRENT is missing/);
    expect(readdirSync(logDir).sort()).toEqual(before);
    renameSync(join(dir, 'CURRENT.saved'), join(logDir, 'CURRENT'));
    const store = track(await LevelLogStore.open({ dir }));
    expect([store.lastIndex(), store.initialState().hardState.commit]).toEqual([10, 8]);
  });

  it('a deleted log database next to surviving snapshot files', async () => {
    const dir = await populated();
    rmSync(join(dir, 'log'), { recursive: true });
    await refused(
      dir,
      StorageCorruptError,
      /snapshot files exist .* but the log database is empty/,
    );
  });

  it('a truncated, bit-flipped or missing snapshot file is never loaded', async () => {
    const snapshotFile = (dir: string) => {
      const name = readdirSync(join(dir, 'snap'))[0]!;
      return join(dir, 'snap', name);
    };
    const truncated = await populated();
    truncateSync(snapshotFile(truncated), 1500);
    await refused(
      truncated,
      SnapshotChecksumError,
      /snap-0000000000000004-0000000000000002\.snap failed verification \(trailer missing/,
    );

    const flipped = await populated();
    const bytes = readFileSync(snapshotFile(flipped));
    bytes[1000]! ^= 0x80;
    writeFileSync(snapshotFile(flipped), bytes);
    await refused(flipped, SnapshotChecksumError, /digest mismatch/);
    // Skipping the check at open only defers it: the data is still refused when read.
    const lazy = track(await LevelLogStore.open({ dir: flipped, verifySnapshot: false }));
    expect(lazy.lastIndex()).toBe(10);
    expect(() => lazy.snapshot()).toThrow(SnapshotChecksumError);

    const missing = await populated();
    rmSync(snapshotFile(missing));
    await refused(missing, SnapshotChecksumError, /the file is missing/);
  });
});
