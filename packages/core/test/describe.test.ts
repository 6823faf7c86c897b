import { describe, expect, it } from 'vitest';
import { describeEntry, describeHardState, describeMessage, describeReady } from '../src/index.js';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('describe* text forms', () => {
  it('renders entries, with printable data quoted and binary as hex', () => {
    expect(describeEntry({ term: 2, index: 7, type: 'normal', data: bytes('put x') })).toBe(
      '2/7 EntryNormal "put x"',
    );
    expect(
      describeEntry({ term: 2, index: 8, type: 'confChange', data: new Uint8Array([0, 255]) }),
    ).toBe('2/8 EntryConfChange 0x00ff');
    expect(describeEntry({ term: 1, index: 1, type: 'normal', data: new Uint8Array() })).toBe(
      '1/1 EntryNormal',
    );
  });

  it('renders messages with the fields that matter for their kind', () => {
    expect(
      describeMessage({
        type: 'MsgApp',
        from: 1,
        to: 2,
        term: 3,
        logTerm: 2,
        index: 5,
        commit: 4,
        entries: [{ term: 3, index: 6, type: 'normal', data: bytes('a') }],
      }),
    ).toBe('1->2 MsgApp Term:3 Log:2/5 Commit:4 Entries:[3/6 EntryNormal "a"]');
    expect(
      describeMessage({
        type: 'MsgAppResp',
        from: 2,
        to: 1,
        term: 3,
        index: 5,
        reject: true,
        rejectHint: 3,
        logTerm: 2,
      }),
    ).toBe('2->1 MsgAppResp Term:3 Index:5 Rejected (Hint: 3) LogTerm:2');
    expect(describeMessage({ type: 'MsgVoteResp', from: 2, to: 1, term: 3, reject: false })).toBe(
      '2->1 MsgVoteResp Term:3',
    );
  });

  it('renders a Ready part by part, separating messages that wait for persistence', () => {
    const text = describeReady({
      number: 1,
      hardState: { term: 1, vote: 1, commit: 0 },
      readStates: [],
      entries: [],
      committedEntries: [],
      messages: [],
      persistedMessages: [
        { type: 'MsgVote', from: 1, to: 2, term: 1, logTerm: 0, index: 0, transfer: false },
      ],
      mustSync: true,
    });
    expect(text).toBe(
      [
        'HardState Term:1 Vote:1 Commit:0',
        'Messages (after persist):',
        '  1->2 MsgVote Term:1 Log:0/0',
        'MustSync',
      ].join('\n'),
    );
    expect(describeHardState({ term: 4, vote: 0, commit: 9 })).toBe('Term:4 Vote:0 Commit:9');
  });
});
