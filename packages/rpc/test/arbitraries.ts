// fast-check arbitraries for every peer message kind, shared by the codec tests.
import type { ConfState, Entry, Snapshot } from '@raftkit/core';
import fc from 'fast-check';
import type { PeerMessage, PeerMessageType } from '../src/index.js';

/** PEER_MESSAGE_TYPES lists the kinds the wire carries, in raft.proto order. */
export const PEER_MESSAGE_TYPES: readonly PeerMessageType[] = [
  'MsgProp',
  'MsgApp',
  'MsgAppResp',
  'MsgVote',
  'MsgVoteResp',
  'MsgPreVote',
  'MsgPreVoteResp',
  'MsgHeartbeat',
  'MsgHeartbeatResp',
  'MsgSnap',
  'MsgTimeoutNow',
  'MsgReadIndex',
  'MsgReadIndexResp',
  'MsgTransferLeader',
];

// Small values most of the time, with the edges (2^32 boundary, 2^53 - 1) mixed in.
const edges = fc.constantFrom(0xffffffff, 0x100000000, Number.MAX_SAFE_INTEGER);
export const uint = fc.oneof(
  { weight: 5, arbitrary: fc.nat(1000) },
  { weight: 2, arbitrary: fc.maxSafeNat() },
  { weight: 1, arbitrary: edges },
);
export const nodeId = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 1, max: 9 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }) },
);
export const bytes = fc.uint8Array({ maxLength: 48 });
const ids = fc.array(nodeId, { maxLength: 5 });

export const entry: fc.Arbitrary<Entry> = fc.record({
  term: uint,
  index: uint,
  type: fc.constantFrom('normal' as const, 'confChange' as const),
  data: bytes,
});
const entries = fc.array(entry, { maxLength: 6 });

export const confState: fc.Arbitrary<ConfState> = fc.record({
  voters: ids,
  learners: ids,
  votersOutgoing: ids,
  learnersNext: ids,
  autoLeave: fc.boolean(),
});

export const snapshot: fc.Arbitrary<Snapshot> = fc.record({
  metadata: fc.record({ index: uint, term: uint, confState }),
  data: fc.uint8Array({ maxLength: 256 }),
});

const header = { from: nodeId, to: nodeId, term: uint };

/** peerMessageOf generates messages of one kind with every field populated at random. */
export function peerMessageOf(type: PeerMessageType): fc.Arbitrary<PeerMessage> {
  const t = fc.constant(type);
  switch (type) {
    case 'MsgProp':
      return fc.record({ type: fc.constant('MsgProp' as const), ...header, entries });
    case 'MsgApp':
      return fc.record({
        type: fc.constant('MsgApp' as const),
        ...header,
        logTerm: uint,
        index: uint,
        entries,
        commit: uint,
      });
    case 'MsgAppResp':
      return fc.record({
        type: fc.constant('MsgAppResp' as const),
        ...header,
        index: uint,
        reject: fc.boolean(),
        rejectHint: uint,
        logTerm: uint,
      });
    case 'MsgVote':
    case 'MsgPreVote':
      return fc.record({
        type: t as fc.Arbitrary<'MsgVote' | 'MsgPreVote'>,
        ...header,
        logTerm: uint,
        index: uint,
        transfer: fc.boolean(),
      });
    case 'MsgVoteResp':
    case 'MsgPreVoteResp':
      return fc.record({
        type: t as fc.Arbitrary<'MsgVoteResp' | 'MsgPreVoteResp'>,
        ...header,
        reject: fc.boolean(),
      });
    case 'MsgHeartbeat':
      return fc.record({
        type: fc.constant('MsgHeartbeat' as const),
        ...header,
        commit: uint,
        context: bytes,
      });
    case 'MsgHeartbeatResp':
    case 'MsgReadIndex':
      return fc.record({
        type: t as fc.Arbitrary<'MsgHeartbeatResp' | 'MsgReadIndex'>,
        ...header,
        context: bytes,
      });
    case 'MsgSnap':
      return fc.record({ type: fc.constant('MsgSnap' as const), ...header, snapshot });
    case 'MsgReadIndexResp':
      return fc.record({
        type: fc.constant('MsgReadIndexResp' as const),
        ...header,
        index: uint,
        context: bytes,
      });
    case 'MsgTimeoutNow':
    case 'MsgTransferLeader':
      return fc.record({
        type: t as fc.Arbitrary<'MsgTimeoutNow' | 'MsgTransferLeader'>,
        ...header,
      });
  }
}

/** peerMessage generates a message of any peer kind. */
export const peerMessage: fc.Arbitrary<PeerMessage> = fc.oneof(
  ...PEER_MESSAGE_TYPES.map(peerMessageOf),
);
