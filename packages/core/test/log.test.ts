import { describe, expect, it } from 'vitest';
import type { Entry } from '../src/index.js';
import {
  CompactedError,
  ConfigError,
  decodeProposal,
  emptyConfState,
  encodeProposal,
  MemoryLogStore,
  resolveRaftConfig,
  SILENT_LOGGER,
  UnavailableError,
} from '../src/index.js';
import { RaftLog } from '../src/raft-log.js';

const entry = (term: number, index: number, data = ''): Entry => ({
  term,
  index,
  type: 'normal',
  data: new TextEncoder().encode(data),
});
const terms = (entries: readonly Entry[]) => entries.map((e) => `${e.term}/${e.index}`);

function logWith(stable: Entry[], unstable: Entry[] = []): { log: RaftLog; store: MemoryLogStore } {
  const store = new MemoryLogStore(emptyConfState());
  store.append(stable);
  const log = new RaftLog(store, SILENT_LOGGER);
  log.append(unstable);
  return { log, store };
}

describe('MemoryLogStore', () => {
  it('answers ranges, terms and bounds, and refuses compacted or missing indexes with typed errors', () => {
    const store = new MemoryLogStore();
    store.append([entry(1, 1), entry(1, 2), entry(2, 3)]);
    expect(store.firstIndex()).toBe(1);
    expect(store.lastIndex()).toBe(3);
    expect(store.term(0)).toBe(0);
    expect(store.term(3)).toBe(2);
    expect(terms(store.entries(2, 4))).toEqual(['1/2', '2/3']);
    store.compactSync(2);
    expect(store.firstIndex()).toBe(3);
    expect(store.term(2)).toBe(1); // the compaction point stays answerable
    expect(() => store.entries(2, 3)).toThrow(CompactedError);
    expect(() => store.term(1)).toThrow(CompactedError);
    expect(() => store.term(9)).toThrow(UnavailableError);
  });

  it('truncates a conflicting tail when entries overwrite it (§5.3)', () => {
    const store = new MemoryLogStore();
    store.append([entry(1, 1), entry(1, 2), entry(1, 3)]);
    store.append([entry(2, 2)]);
    expect(terms(store.entries(1, 3))).toEqual(['1/1', '2/2']);
    expect(store.lastIndex()).toBe(2);
  });

  it('limits entries by size but always returns at least one', () => {
    const store = new MemoryLogStore();
    store.append([entry(1, 1, 'x'.repeat(100)), entry(1, 2, 'y'.repeat(100)), entry(1, 3)]);
    expect(store.entries(1, 4, 10)).toHaveLength(1);
    expect(store.entries(1, 4, 240)).toHaveLength(2);
  });

  it('installs a snapshot, replacing the whole log', () => {
    const store = new MemoryLogStore();
    store.append([entry(1, 1), entry(1, 2)]);
    store.applySnapshot({
      metadata: { index: 10, term: 3, confState: emptyConfState() },
      data: new Uint8Array(),
    });
    expect(store.firstIndex()).toBe(11);
    expect(store.lastIndex()).toBe(10);
    expect(store.term(10)).toBe(3);
  });
});

describe('RaftLog', () => {
  it('appends after a matching entry and reports the last new index (§5.3)', () => {
    const { log } = logWith([entry(1, 1), entry(1, 2)]);
    expect(log.maybeAppend(2, 1, 3, [entry(2, 3)])).toBe(3);
    expect(log.committed).toBe(3);
    expect(log.maybeAppend(3, 9, 3, [entry(3, 4)])).toBeUndefined();
  });

  it('truncates the unstable tail at the first conflict', () => {
    const { log } = logWith([entry(1, 1)], [entry(1, 2), entry(1, 3), entry(1, 4)]);
    expect(log.maybeAppend(2, 1, 0, [entry(2, 3)])).toBe(3);
    expect(terms(log.allEntries())).toEqual(['1/1', '1/2', '2/3']);
  });

  it('ignores entries it already has (a duplicated MsgApp does not truncate)', () => {
    const { log } = logWith([entry(1, 1), entry(1, 2), entry(1, 3)]);
    expect(log.maybeAppend(0, 0, 0, [entry(1, 1), entry(1, 2)])).toBe(2);
    expect(log.lastIndex()).toBe(3);
  });

  it('refuses to truncate committed entries (Log Matching would be broken)', () => {
    const { log } = logWith([entry(1, 1), entry(1, 2)]);
    log.commitTo(2);
    expect(() => log.maybeAppend(1, 1, 2, [entry(2, 2)])).toThrow(/committed/);
  });

  it('only commits by counting replicas an entry of the current term (§5.4.2)', () => {
    const { log } = logWith([entry(1, 1), entry(2, 2)]);
    expect(log.maybeCommit(1, 2)).toBe(false);
    expect(log.committed).toBe(0);
    expect(log.maybeCommit(2, 2)).toBe(true);
    expect(log.committed).toBe(2);
  });

  it('§5.4.1 up-to-date: a later last term wins, then a longer log', () => {
    const { log } = logWith([entry(1, 1), entry(2, 2)]);
    expect(log.isUpToDate(1, 3)).toBe(true);
    expect(log.isUpToDate(2, 2)).toBe(true);
    expect(log.isUpToDate(1, 2)).toBe(false);
    expect(log.isUpToDate(5, 1)).toBe(false);
  });

  it('finds the conflict hint: the largest index ≤ probe with term ≤ the given term', () => {
    const { log } = logWith([entry(1, 1), entry(1, 2), entry(3, 3), entry(3, 4), entry(5, 5)]);
    expect(log.findConflictByTerm(5, 4)).toEqual({ index: 4, term: 3 });
    expect(log.findConflictByTerm(5, 2)).toEqual({ index: 2, term: 1 });
    expect(log.findConflictByTerm(9, 9)).toEqual({ index: 5, term: 5 });
  });

  it('hands out only durable committed entries, and each once', () => {
    const { log, store } = logWith([entry(1, 1)], [entry(1, 2)]);
    log.commitTo(2);
    expect(terms(log.nextCommittedEntries())).toEqual(['1/1']);
    store.append([entry(1, 2)]);
    log.stableTo(2, 1);
    expect(terms(log.nextCommittedEntries())).toEqual(['1/1', '1/2']);
    log.appliedTo(2);
    expect(log.hasNextCommittedEntries()).toBe(false);
  });

  it('stableTo ignores an acknowledgement for an entry that was replaced meanwhile', () => {
    const { log } = logWith([], [entry(1, 1), entry(1, 2)]);
    log.append([entry(2, 2)]);
    log.stableTo(2, 1);
    expect(log.unstableEntries().length).toBe(2);
    log.stableTo(2, 2);
    expect(log.unstableEntries().length).toBe(0);
  });
});

describe('proposal envelope', () => {
  it('round-trips proposer, sequence and command, and rejects foreign data', () => {
    const command = new Uint8Array([1, 2, 3]);
    const decoded = decodeProposal(encodeProposal(2 ** 52 + 7, 300, command));
    expect(decoded?.proposer).toBe(2 ** 52 + 7);
    expect(decoded?.sequence).toBe(300);
    expect([...(decoded?.command ?? [])]).toEqual([1, 2, 3]);
    expect(decodeProposal(new Uint8Array([1, 2, 3]))).toBeUndefined();
    expect(decodeProposal(new Uint8Array([0xa7, 0x80, 0x80]))).toBeUndefined();
  });
});

describe('RaftConfig validation', () => {
  it('names the bad field', () => {
    expect(() => resolveRaftConfig({ id: 0 })).toThrow(ConfigError);
    expect(() => resolveRaftConfig({ id: 1, electionTicks: 2, heartbeatTicks: 2 })).toThrow(
      /electionTicks/,
    );
    expect(() =>
      resolveRaftConfig({ id: 1, readOnlyOption: 'leaseBased', checkQuorum: false }),
    ).toThrow(/leaseBased/);
    expect(resolveRaftConfig({ id: 1 }).preVote).toBe(true);
    expect(resolveRaftConfig({ id: 1 }).checkQuorum).toBe(true);
  });
});
