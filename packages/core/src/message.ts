import type { Entry, NodeId, Snapshot } from './types.js';

/**
 * MessageType is the kind of a Raft message. Local kinds (`MsgHup`, `MsgBeat`,
 * `MsgCheckQuorum`, `MsgUnreachable`, `MsgSnapStatus`) never cross the network; the
 * rest are peer messages the transport carries.
 */
export type MessageType = Message['type'];

interface MessageBase {
  /** Sender. For local messages, the node itself. */
  readonly from: NodeId;
  /** Recipient. */
  readonly to: NodeId;
  /** Sender's term; 0 for local messages and for proposals (MsgProp), which carry none. */
  readonly term: number;
}

/** MsgHup asks a node to start an election (local). */
export interface MsgHup extends MessageBase {
  readonly type: 'MsgHup';
  /** Set when a leadership transfer started it: skip pre-vote and the leader lease. */
  readonly transfer: boolean;
}

/** MsgBeat asks a leader to broadcast heartbeats (local). */
export interface MsgBeat extends MessageBase {
  readonly type: 'MsgBeat';
}

/** MsgCheckQuorum asks a leader to check it still hears from a quorum (local, thesis §6.2). */
export interface MsgCheckQuorum extends MessageBase {
  readonly type: 'MsgCheckQuorum';
}

/** MsgProp carries client proposals, from the proposer or forwarded by a follower. */
export interface MsgProp extends MessageBase {
  readonly type: 'MsgProp';
  readonly entries: readonly Entry[];
}

/** MsgApp is AppendEntries (§5.3): entries after (index, logTerm), and the leader's commit. */
export interface MsgApp extends MessageBase {
  readonly type: 'MsgApp';
  /** Term of the entry at `index`, the one just before `entries`. */
  readonly logTerm: number;
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

/**
 * MsgAppResp answers MsgApp. On success `index` is the last index the follower now
 * matches. On rejection `index` is the rejected MsgApp's index and
 * (`rejectHint`, `logTerm`) is the follower's hint for fast backtracking: its largest
 * index ≤ the probe whose term is ≤ the probed term.
 */
export interface MsgAppResp extends MessageBase {
  readonly type: 'MsgAppResp';
  readonly index: number;
  readonly reject: boolean;
  readonly rejectHint: number;
  readonly logTerm: number;
}

/** MsgVote is RequestVote (§5.2) for the candidate's last entry (index, logTerm). */
export interface MsgVote extends MessageBase {
  readonly type: 'MsgVote';
  readonly logTerm: number;
  readonly index: number;
  /** Set during a leadership transfer: voters disregard their leader lease. */
  readonly transfer: boolean;
}

/** MsgVoteResp grants or refuses a vote. */
export interface MsgVoteResp extends MessageBase {
  readonly type: 'MsgVoteResp';
  readonly reject: boolean;
}

/** MsgPreVote asks whether a vote would be granted in `term`, without anyone changing term (thesis §9.6). */
export interface MsgPreVote extends MessageBase {
  readonly type: 'MsgPreVote';
  readonly logTerm: number;
  readonly index: number;
  readonly transfer: boolean;
}

/** MsgPreVoteResp answers MsgPreVote. */
export interface MsgPreVoteResp extends MessageBase {
  readonly type: 'MsgPreVoteResp';
  readonly reject: boolean;
}

/** MsgHeartbeat asserts leadership and carries commit (capped to what the follower has). */
export interface MsgHeartbeat extends MessageBase {
  readonly type: 'MsgHeartbeat';
  readonly commit: number;
  /** A ReadIndex request context being confirmed, or empty. */
  readonly context: Uint8Array;
}

/** MsgHeartbeatResp acknowledges a heartbeat, echoing its context. */
export interface MsgHeartbeatResp extends MessageBase {
  readonly type: 'MsgHeartbeatResp';
  readonly context: Uint8Array;
}

/** MsgSnap is InstallSnapshot (§7): the leader's snapshot for a follower that fell behind compaction. */
export interface MsgSnap extends MessageBase {
  readonly type: 'MsgSnap';
  readonly snapshot: Snapshot;
}

/** MsgSnapStatus reports the outcome of sending a snapshot to `from` (local). */
export interface MsgSnapStatus extends MessageBase {
  readonly type: 'MsgSnapStatus';
  readonly reject: boolean;
}

/** MsgUnreachable reports that `from` could not be reached (local). */
export interface MsgUnreachable extends MessageBase {
  readonly type: 'MsgUnreachable';
}

/** MsgTimeoutNow tells a transfer target to campaign at once (thesis §3.10). */
export interface MsgTimeoutNow extends MessageBase {
  readonly type: 'MsgTimeoutNow';
}

/** MsgReadIndex asks for a linearizable read point (thesis §6.4); forwarded by followers. */
export interface MsgReadIndex extends MessageBase {
  readonly type: 'MsgReadIndex';
  readonly context: Uint8Array;
}

/** MsgReadIndexResp gives the read point `index` for the request named by `context`. */
export interface MsgReadIndexResp extends MessageBase {
  readonly type: 'MsgReadIndexResp';
  readonly index: number;
  readonly context: Uint8Array;
}

/** MsgTransferLeader asks the leader to hand leadership to `from` (thesis §3.10). */
export interface MsgTransferLeader extends MessageBase {
  readonly type: 'MsgTransferLeader';
}

/** Message is every message a Raft node steps or emits, tagged by `type`. */
export type Message =
  | MsgHup
  | MsgBeat
  | MsgCheckQuorum
  | MsgProp
  | MsgApp
  | MsgAppResp
  | MsgVote
  | MsgVoteResp
  | MsgPreVote
  | MsgPreVoteResp
  | MsgHeartbeat
  | MsgHeartbeatResp
  | MsgSnap
  | MsgSnapStatus
  | MsgUnreachable
  | MsgTimeoutNow
  | MsgReadIndex
  | MsgReadIndexResp
  | MsgTransferLeader;

/** MESSAGE_TYPES lists every message kind, local ones included. */
export const MESSAGE_TYPES: readonly MessageType[] = [
  'MsgHup',
  'MsgBeat',
  'MsgCheckQuorum',
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
  'MsgSnapStatus',
  'MsgUnreachable',
  'MsgTimeoutNow',
  'MsgReadIndex',
  'MsgReadIndexResp',
  'MsgTransferLeader',
];

/** isLocalMessage reports whether a kind only ever stays inside one node. */
export function isLocalMessage(type: MessageType): boolean {
  switch (type) {
    case 'MsgHup':
    case 'MsgBeat':
    case 'MsgCheckQuorum':
    case 'MsgUnreachable':
    case 'MsgSnapStatus':
      return true;
    default:
      return false;
  }
}

/** isResponseMessage reports whether a kind answers another message. */
export function isResponseMessage(type: MessageType): boolean {
  switch (type) {
    case 'MsgAppResp':
    case 'MsgVoteResp':
    case 'MsgPreVoteResp':
    case 'MsgHeartbeatResp':
    case 'MsgReadIndexResp':
    case 'MsgUnreachable':
    case 'MsgSnapStatus':
      return true;
    default:
      return false;
  }
}

/** voteResponseType maps a vote request kind to its response kind. */
export function voteResponseType(type: 'MsgVote' | 'MsgPreVote'): 'MsgVoteResp' | 'MsgPreVoteResp' {
  return type === 'MsgVote' ? 'MsgVoteResp' : 'MsgPreVoteResp';
}
