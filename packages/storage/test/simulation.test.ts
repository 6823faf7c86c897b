import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogStore } from '@raftkit/core';
import { runSimulation } from '@raftkit/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { LevelLogStore } from '../src/index.js';

// The core's seeded simulation with LevelLogStore under every node instead of the
// in-memory store: crashes close the database and reopen it from disk, so a node comes
// back with exactly what was durably written. Slower than the in-memory runs, so CI
// runs a few seeds; the results must be as clean.
const roots: string[] = [];

afterAll(async () => {
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
});

async function runWithLevelStores(seed: number, nodes: number) {
  const root = await mkdtemp(join(tmpdir(), `raftkit-sim-${seed}-`));
  roots.push(root);
  const open = (id: number, peers: readonly number[]) =>
    LevelLogStore.open({
      dir: join(root, `node-${id}`),
      sync: false, // process crashes are simulated in-process; fsync adds nothing here
      identity: { clusterId: `sim-${seed}`, nodeId: id },
      initialConfState: {
        voters: [...peers],
        learners: [],
        votersOutgoing: [],
        learnersNext: [],
        autoLeave: false,
      },
    });
  const stores = new Map<number, LevelLogStore>();
  try {
    return await runSimulation({
      seed,
      nodes,
      steps: 2000,
      createStore: async (id, peers) => {
        const store = await open(id, peers);
        stores.set(id, store);
        return store;
      },
      reopenStore: async (id, store: LogStore) => {
        await (store as LevelLogStore).close();
        const reopened = await open(id, []);
        stores.set(id, reopened);
        return reopened;
      },
    });
  } finally {
    await Promise.all([...stores.values()].map((store) => store.close().catch(() => undefined)));
  }
}

describe('core simulation over LevelLogStore', () => {
  for (const [seed, nodes] of [
    [11, 3],
    [12, 5],
    [13, 3],
  ] as const) {
    it(`seed ${seed} with ${nodes} nodes: no violation, and the run made progress`, async () => {
      const result = await runWithLevelStores(seed, nodes);
      expect(result.violations).toEqual([]);
      expect(result.committed).toBeGreaterThan(5);
    }, 120_000);
  }
});
