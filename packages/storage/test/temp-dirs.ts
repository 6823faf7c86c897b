import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfState, Entry, EntryType } from '@raftkit/core';
import { afterEach } from 'vitest';

// Every test that touches disk gets its own directory under the OS temp dir, and every
// store it opens is closed, so a failing test never leaks a LevelDB lock or files.

interface Closable {
  close(): Promise<void>;
}

/** useTempDirs registers cleanup and returns helpers to make dirs and track open stores. */
export function useTempDirs(): {
  makeDir: () => string;
  track: <T extends Closable>(store: T) => T;
} {
  const dirs: string[] = [];
  const open: Closable[] = [];
  afterEach(async () => {
    for (const store of open.splice(0)) await store.close().catch(() => {});
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return {
    makeDir: () => {
      const dir = mkdtempSync(join(tmpdir(), 'raftkit-storage-'));
      dirs.push(dir);
      return dir;
    },
    track: (store) => {
      open.push(store);
      return store;
    },
  };
}

/** entry builds an entry whose data is derived from its index and term. */
export function entry(index: number, term: number, type: EntryType = 'normal'): Entry {
  return { index, term, type, data: payload(index, term) };
}

/** entries builds consecutive entries `[from, to]` in one term. */
export function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let index = from; index <= to; index++) out.push(entry(index, term));
  return out;
}

/** payload is deterministic data for (index, term): its length and bytes vary with both. */
export function payload(index: number, term: number): Uint8Array {
  const length = (index * 7 + term * 13) % 61;
  const data = new Uint8Array(length);
  for (let i = 0; i < length; i++) data[i] = (index * 31 + term * 17 + i) & 0xff;
  return data;
}

/** plain turns an entry into a plain object (Buffer-vs-Uint8Array neutral) for comparisons. */
export function plain(value: Entry): { index: number; term: number; type: string; data: number[] } {
  return { index: value.index, term: value.term, type: value.type, data: [...value.data] };
}

/** CONF is a three-voter membership used by tests. */
export const CONF: ConfState = {
  voters: [1, 2, 3],
  learners: [],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
};
