import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { type Entry, type LogStore, MemoryLogStore } from '@raftkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { LevelLogStore } from '../src/index.js';
import { CONF, payload, useTempDirs } from './temp-dirs.js';

// Real crashes: a child process writes synced batches and journals each intent and each
// acknowledgement; the parent SIGKILLs it at a random moment, reopens the store and checks
// it against a MemoryLogStore model. The disk must equal the model of every acknowledged
// write, or that plus the one write in flight: every acknowledged entry and hard state is
// there, the log is exactly the model's sequence, and nothing truncated reappears.

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const writer = join(packageRoot, 'test', 'fixtures', 'crash-writer.mjs');
const rounds = Number(process.env.RAFTKIT_CRASH_ROUNDS ?? 24);
const baseSeed = Number(process.env.RAFTKIT_CRASH_SEED ?? Date.now() % 1_000_000);

type Action =
  | {
      op: 'save';
      from: number;
      count: number;
      term: number;
      hardState: HardStateJson;
      truncate: boolean;
    }
  | { op: 'compact'; index: number }
  | { op: 'snapshot'; index: number; size: number }
  | { op: 'install'; index: number; term: number; hardState: HardStateJson };
interface HardStateJson {
  term: number;
  vote: number;
  commit: number;
}

function apply(model: MemoryLogStore, action: Action): void {
  if (action.op === 'save') {
    const batch: Entry[] = [];
    for (let i = 0; i < action.count; i++) {
      const index = action.from + i;
      batch.push({ index, term: action.term, type: 'normal', data: payload(index, action.term) });
    }
    model.apply({ entries: batch, hardState: action.hardState });
  } else if (action.op === 'compact') {
    model.compactSync(action.index);
  } else if (action.op === 'snapshot') {
    model.createSnapshot(action.index, CONF, new Uint8Array(action.size).fill(action.index & 0xff));
  } else {
    const metadata = { index: action.index, term: action.term, confState: CONF };
    const data = new Uint8Array([action.index & 0xff, 1, 2, 3]);
    model.apply({ snapshot: { metadata, data }, entries: [], hardState: action.hardState });
  }
}

function view(store: LogStore) {
  const first = store.firstIndex();
  const last = store.lastIndex();
  const snapshot = store.snapshot();
  return {
    hardState: store.initialState().hardState,
    first,
    last,
    startTerm: store.term(first - 1),
    entries: store
      .entries(first, last + 1)
      .map((value) => [value.index, value.term, Buffer.from(value.data).toString('hex')]),
    snapshot: snapshot.metadata,
    snapshotData: Buffer.from(snapshot.data).toString('base64'),
  };
}

function readJournal(path: string): { acked: Action[]; pending: Action | undefined } {
  const acked: Action[] = [];
  let pending: Action | undefined;
  if (!existsSync(path)) return { acked, pending };
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.startsWith('I ')) pending = JSON.parse(line.slice(2)) as Action;
    else if (line === 'A' && pending !== undefined) {
      acked.push(pending);
      pending = undefined;
    }
  }
  return { acked, pending };
}

function runUntilKilled(dataDir: string, journal: string, seed: number, random: () => number) {
  return new Promise<void>((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [writer, dataDir, journal, String(seed)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let killed = false;
    const kill = () => {
      killed = true;
      child.kill('SIGKILL');
    };
    child.stderr?.on('data', (chunk) => {
      stderr += String(chunk);
    });
    if (random() < 0.15) {
      setTimeout(kill, random() * 80); // sometimes during startup and recovery
    } else {
      child.stdout?.on('data', (chunk) => {
        if (String(chunk).includes('ready')) setTimeout(kill, 20 + random() * 220);
      });
    }
    child.on('exit', (code, signal) => {
      if (killed && signal === 'SIGKILL') resolve();
      else
        reject(new Error(`writer exited on its own (code ${code}, signal ${signal}):\n${stderr}`));
    });
  });
}

describe('crash safety under SIGKILL', () => {
  const { makeDir } = useTempDirs();

  beforeAll(() => {
    // The child runs the built package, so build it from the current sources first.
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: packageRoot, stdio: 'pipe' });
  }, 120_000);

  it(`keeps every acknowledged write across ${rounds} random kills (seed ${baseSeed})`, async () => {
    const work = makeDir();
    const dataDir = join(work, 'data');
    const model = new MemoryLogStore(CONF);
    let state = baseSeed;
    const random = () => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return state / 2147483648;
    };
    const totals = {
      acked: 0,
      inFlightPersisted: 0,
      truncations: 0,
      compactions: 0,
      snapshots: 0,
      installs: 0,
    };
    for (let round = 0; round < rounds; round++) {
      const journal = join(work, `journal-${round}.txt`);
      await runUntilKilled(dataDir, journal, baseSeed * 1000 + round, random);
      const { acked, pending } = readJournal(journal);
      for (const action of acked) {
        apply(model, action);
        totals.acked++;
        if (action.op === 'save' && action.truncate) totals.truncations++;
        if (action.op === 'compact') totals.compactions++;
        if (action.op === 'snapshot') totals.snapshots++;
        if (action.op === 'install') totals.installs++;
      }
      if (!existsSync(join(dataDir, 'log'))) continue; // killed before the store was created
      const store = await LevelLogStore.open({ dir: dataDir });
      try {
        let onDisk = view(store);
        if (!isDeepStrictEqual(onDisk, view(model)) && pending !== undefined) {
          // The write in flight when the process died may have reached the disk: then it
          // must be there entirely (the batch is atomic).
          apply(model, pending);
          totals.inFlightPersisted++;
          onDisk = view(store);
        }
        expect(onDisk, `round ${round}, in flight: ${JSON.stringify(pending)}`).toEqual(
          view(model),
        );
      } finally {
        await store.close();
      }
    }
    // The test did real work: writes were acknowledged (a writer killed 20–240 ms after
    // it is ready gets fewer in on a loaded machine: 85 in 24 rounds was seen in CI),
    // the log was truncated and compacted or snapshotted.
    expect(totals.acked).toBeGreaterThan(rounds * 2);
    expect(totals.truncations).toBeGreaterThan(0);
    expect(totals.compactions + totals.snapshots).toBeGreaterThan(0);
  }, 120_000);
});
