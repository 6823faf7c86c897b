import { type ConfState, type Entry, type LogStore, MemoryLogStore } from '@raftkit/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LevelLogStore } from '../src/index.js';
import { CONF, entry, plain, useTempDirs } from './temp-dirs.js';

// Model-based test: random sequences of saves (appends, conflicting overwrites, snapshot
// installs, hard states), compactions, snapshots and close/reopen cycles are applied to a
// LevelLogStore and to core's MemoryLogStore, the reference semantics. After every step
// every read of the two must agree, errors included, and recovery must rebuild exactly
// what was there before the reopen.

type Command =
  | { kind: 'append'; back: number; count: number; bump: number; withHardState: boolean }
  | { kind: 'gap' }
  | { kind: 'hardState'; vote: number }
  | { kind: 'compact'; at: number }
  | { kind: 'install'; ahead: number; count: number }
  | { kind: 'staleInstall'; back: number }
  | { kind: 'createSnapshot'; at: number }
  | { kind: 'reopen' };

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      back: fc.nat(6),
      count: fc.nat(8),
      bump: fc.nat(2),
      withHardState: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('gap' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('hardState' as const), vote: fc.nat(3) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('compact' as const),
      at: fc.double({ min: 0, max: 1.2, noNaN: true }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('install' as const),
      ahead: fc.nat(4),
      count: fc.nat(3),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('staleInstall' as const), back: fc.nat(2) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('createSnapshot' as const),
      at: fc.double({ min: -0.2, max: 1, noNaN: true }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reopen' as const) }) },
);

function outcome(run: () => unknown): { value?: unknown; error?: string } {
  try {
    return { value: run() };
  } catch (error) {
    return { error: (error as Error).constructor.name };
  }
}

async function settle(run: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await run();
    return undefined;
  } catch (error) {
    return (error as Error).constructor.name;
  }
}

function view(store: LogStore): unknown {
  const first = store.firstIndex();
  const last = store.lastIndex();
  const snapshot = store.snapshot();
  const terms = [];
  for (let index = first - 2; index <= last + 1; index++)
    terms.push(outcome(() => store.term(index)));
  return {
    first,
    last,
    initial: store.initialState(),
    terms,
    all: store.entries(first, last + 1).map(plain),
    limited: outcome(() => store.entries(first, last + 1, 70).map(plain)),
    compacted: outcome(() => store.entries(first - 1, last + 1)),
    unavailable: outcome(() => store.entries(first, last + 2)),
    snapshot: { metadata: snapshot.metadata, data: [...snapshot.data] },
  };
}

describe('LevelLogStore agrees with MemoryLogStore', () => {
  const { makeDir, track } = useTempDirs();

  it('on random command sequences, across reopens', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 5, maxLength: 40 }), async (commands) => {
        const dir = makeDir();
        const open = async (): Promise<LevelLogStore> =>
          track(await LevelLogStore.open({ dir, sync: false, initialConfState: CONF }));
        let level = await open();
        const memory = new MemoryLogStore(CONF);
        let term = 1;
        let snapshots = 0;
        for (const step of commands) {
          const last = memory.lastIndex();
          const first = memory.firstIndex();
          if (step.kind === 'append') {
            const from = Math.max(first - 1, last + 1 - step.back);
            // A leader of a newer term overwrites a suffix (§5.3): terms never go down.
            term = Math.max(term, from > first - 1 ? memory.term(from - 1) : 0) + step.bump;
            const batch: Entry[] = [];
            for (let i = 0; i < step.count; i++) batch.push(entry(from + i, term));
            const hardState = step.withHardState
              ? { term, vote: 1, commit: Math.max(0, from - 1) }
              : undefined;
            const update = { entries: batch, hardState };
            const expected = await settle(() => memory.save(update));
            expect(await settle(() => level.save(update))).toBe(expected);
          } else if (step.kind === 'gap') {
            const update = { entries: [entry(last + 2, term)] };
            expect(await settle(() => memory.save(update))).toBe('UnavailableError');
            expect(await settle(() => level.save(update))).toBe('UnavailableError');
          } else if (step.kind === 'hardState') {
            const update = { entries: [], hardState: { term, vote: step.vote, commit: last } };
            await memory.save(update);
            await level.save(update);
          } else if (step.kind === 'compact') {
            const index = first - 1 + Math.floor(step.at * (last - first + 2));
            const expected = await settle(() => memory.compact(index));
            expect(await settle(() => level.compact(index))).toBe(expected);
          } else if (step.kind === 'install') {
            term += 1;
            const index = Math.max(last, memory.snapshot().metadata.index + 1) + step.ahead;
            const confState: ConfState = { ...CONF, voters: [1, 2, 3, (index % 5) + 4] };
            const snapshot = {
              metadata: { index, term, confState },
              data: new Uint8Array([index & 0xff, term & 0xff, 9]),
            };
            const batch: Entry[] = [];
            for (let i = 1; i <= step.count; i++) batch.push(entry(index + i, term));
            const update = {
              snapshot,
              entries: batch,
              hardState: { term, vote: 2, commit: index },
            };
            const expected = await settle(() => memory.save(update));
            expect(await settle(() => level.save(update))).toBe(expected);
          } else if (step.kind === 'staleInstall') {
            const current = memory.snapshot().metadata.index;
            const index = Math.max(0, current - step.back);
            const snapshot = {
              metadata: { index, term, confState: CONF },
              data: new Uint8Array([1]),
            };
            const update = { snapshot, entries: [entry(index + 1, term)] };
            expect(await settle(() => memory.save(update))).toBe('SnapshotOutOfDateError');
            expect(await settle(() => level.save(update))).toBe('SnapshotOutOfDateError');
          } else if (step.kind === 'createSnapshot') {
            const index = first - 1 + Math.floor(step.at * (last - first + 2));
            const data = new Uint8Array([++snapshots, index & 0xff]);
            const expected = outcome(() => memory.createSnapshotSync(index, CONF, data)).error;
            expect(await settle(() => level.createSnapshot(index, CONF, data))).toBe(expected);
          } else {
            await level.close();
            level = await open();
          }
          expect(view(level)).toEqual(view(memory));
        }
        await level.close();
        level = await open();
        expect(view(level)).toEqual(view(memory));
      }),
      { numRuns: 60 },
    );
  });
});
