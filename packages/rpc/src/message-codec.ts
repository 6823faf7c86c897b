import {
  type ConfState,
  EMPTY_DATA,
  type Entry,
  type Message,
  type MessageType,
  type NodeId,
  type Snapshot,
  type SnapshotMetadata,
} from '@raftkit/core';
import type { Reader, Writer } from 'protobufjs/minimal.js';
import { DecodeError, EncodeError } from './errors.js';
import {
  expectEnd,
  invalidNumber,
  LENGTH_DELIMITED,
  readBool,
  readBytes,
  readEnd,
  readNodeId,
  readNumber,
  skipField,
  tag,
  VARINT,
  writeBool,
  writeBytes,
  writeNodeId,
  writeUint,
  writeVarint,
} from './wire-format.js';

// The codec is written by hand against proto/raft.proto with protobufjs's Reader and
// Writer rather than through reflection: it maps wire fields straight onto core's plain
// objects (one allocation per message and per entry), writes only the fields a kind
// uses, keeps entry data as views onto the received buffer, and checks every number
// against JavaScript's safe-integer range, which protobufjs's generic uint64 handling
// (Long objects) does not. test/codec-conformance.test.ts proves it agrees with the
// reflection codec that protobufjs builds from the .proto file, in both directions.

/** LocalMessageType lists the core message kinds that never cross the network. */
export type LocalMessageType =
  | 'MsgHup'
  | 'MsgBeat'
  | 'MsgCheckQuorum'
  | 'MsgUnreachable'
  | 'MsgSnapStatus';

/** PeerMessageType is a message kind that travels between nodes. */
export type PeerMessageType = Exclude<MessageType, LocalMessageType>;

/** PeerMessage is a core Message of a kind that travels between nodes. */
export type PeerMessage = Extract<Message, { type: PeerMessageType }>;

// Wire numbers of MessageType in raft.proto.
const WIRE_TYPE: Record<PeerMessageType, number> = {
  MsgProp: 1,
  MsgApp: 2,
  MsgAppResp: 3,
  MsgVote: 4,
  MsgVoteResp: 5,
  MsgPreVote: 6,
  MsgPreVoteResp: 7,
  MsgHeartbeat: 8,
  MsgHeartbeatResp: 9,
  MsgSnap: 10,
  MsgTimeoutNow: 11,
  MsgReadIndex: 12,
  MsgReadIndexResp: 13,
  MsgTransferLeader: 14,
};

const TYPE_OF_WIRE: readonly (PeerMessageType | undefined)[] = (() => {
  const table: (PeerMessageType | undefined)[] = [];
  for (const [type, wire] of Object.entries(WIRE_TYPE)) table[wire] = type as PeerMessageType;
  return table;
})();

const MESSAGE_TYPE = tag(1, VARINT);
const MESSAGE_FROM = tag(2, VARINT);
const MESSAGE_TO = tag(3, VARINT);
const MESSAGE_TERM = tag(4, VARINT);
const MESSAGE_LOG_TERM = tag(5, VARINT);
const MESSAGE_INDEX = tag(6, VARINT);
const MESSAGE_ENTRIES = tag(7, LENGTH_DELIMITED);
const MESSAGE_COMMIT = tag(8, VARINT);
const MESSAGE_SNAPSHOT = tag(9, LENGTH_DELIMITED);
const MESSAGE_REJECT = tag(10, VARINT);
const MESSAGE_REJECT_HINT = tag(11, VARINT);
const MESSAGE_CONTEXT = tag(12, LENGTH_DELIMITED);
const MESSAGE_TRANSFER = tag(13, VARINT);
const MESSAGE_FIELDS = 13;

const ENTRY_TERM = tag(1, VARINT);
const ENTRY_INDEX = tag(2, VARINT);
const ENTRY_TYPE = tag(3, VARINT);
const ENTRY_DATA = tag(4, LENGTH_DELIMITED);
const ENTRY_FIELDS = 4;

const CONF_FIELDS = 5;
const CONF_AUTO_LEAVE = tag(5, VARINT);

const METADATA_INDEX = tag(1, VARINT);
const METADATA_TERM = tag(2, VARINT);
const METADATA_CONF_STATE = tag(3, LENGTH_DELIMITED);
const METADATA_FIELDS = 3;

const SNAPSHOT_METADATA = tag(1, LENGTH_DELIMITED);
const SNAPSHOT_DATA = tag(2, LENGTH_DELIMITED);
const SNAPSHOT_FIELDS = 2;

const NO_ENTRIES: readonly Entry[] = Object.freeze([]);

function writeEntry(writer: Writer, entry: Entry): void {
  writer.uint32(MESSAGE_ENTRIES).fork();
  writeUint(writer, ENTRY_TERM, entry.term, 'entry.term');
  writeUint(writer, ENTRY_INDEX, entry.index, 'entry.index');
  if (entry.type === 'confChange') writer.uint32(ENTRY_TYPE).uint32(1);
  else if (entry.type !== 'normal') throw new EncodeError(`unknown entry type ${entry.type}`);
  writeBytes(writer, ENTRY_DATA, entry.data);
  writer.ldelim();
}

function writeEntries(writer: Writer, entries: readonly Entry[]): void {
  for (let i = 0; i < entries.length; i++) writeEntry(writer, entries[i]!);
}

function writeIds(writer: Writer, field: number, ids: readonly NodeId[], name: string): void {
  if (ids.length === 0) return;
  // proto3 packs repeated scalars by default; readers accept both forms.
  writer.uint32(tag(field, LENGTH_DELIMITED)).fork();
  for (const id of ids) {
    if (!(id > 0 && id <= Number.MAX_SAFE_INTEGER && Number.isInteger(id))) {
      throw invalidNumber(name, id);
    }
    writeVarint(writer, id);
  }
  writer.ldelim();
}

function writeConfState(writer: Writer, confState: ConfState): void {
  // Always written, even when empty: its presence is how a reader tells "no members"
  // from "field missing".
  writer.uint32(METADATA_CONF_STATE).fork();
  writeIds(writer, 1, confState.voters, 'confState.voters');
  writeIds(writer, 2, confState.learners, 'confState.learners');
  writeIds(writer, 3, confState.votersOutgoing, 'confState.votersOutgoing');
  writeIds(writer, 4, confState.learnersNext, 'confState.learnersNext');
  writeBool(writer, CONF_AUTO_LEAVE, confState.autoLeave);
  writer.ldelim();
}

function writeSnapshot(writer: Writer, snapshot: Snapshot, withData: boolean): void {
  writer.uint32(MESSAGE_SNAPSHOT).fork();
  writer.uint32(SNAPSHOT_METADATA).fork();
  writeUint(writer, METADATA_INDEX, snapshot.metadata.index, 'snapshot.metadata.index');
  writeUint(writer, METADATA_TERM, snapshot.metadata.term, 'snapshot.metadata.term');
  writeConfState(writer, snapshot.metadata.confState);
  writer.ldelim();
  if (withData) writeBytes(writer, SNAPSHOT_DATA, snapshot.data);
  writer.ldelim();
}

/**
 * writeMessageBody writes the fields of a raft.proto `Message` (without tag and length);
 * `withSnapshotData` false leaves a MsgSnap's data out, as snapshot chunk headers do.
 */
export function writeMessageBody(
  writer: Writer,
  message: Message,
  withSnapshotData: boolean,
): void {
  const wireType = WIRE_TYPE[message.type as PeerMessageType] as number | undefined;
  if (wireType === undefined) {
    throw new EncodeError(`${message.type} is a local message kind and never leaves its node`);
  }
  // Fields in field-number order, each kind writing only what its interface has.
  writer.uint32(MESSAGE_TYPE).uint32(wireType);
  writeNodeId(writer, MESSAGE_FROM, message.from, 'from');
  writeNodeId(writer, MESSAGE_TO, message.to, 'to');
  writeUint(writer, MESSAGE_TERM, message.term, 'term');
  switch (message.type) {
    case 'MsgProp':
      writeEntries(writer, message.entries);
      break;
    case 'MsgApp':
      writeUint(writer, MESSAGE_LOG_TERM, message.logTerm, 'logTerm');
      writeUint(writer, MESSAGE_INDEX, message.index, 'index');
      writeEntries(writer, message.entries);
      writeUint(writer, MESSAGE_COMMIT, message.commit, 'commit');
      break;
    case 'MsgAppResp':
      writeUint(writer, MESSAGE_LOG_TERM, message.logTerm, 'logTerm');
      writeUint(writer, MESSAGE_INDEX, message.index, 'index');
      writeBool(writer, MESSAGE_REJECT, message.reject);
      writeUint(writer, MESSAGE_REJECT_HINT, message.rejectHint, 'rejectHint');
      break;
    case 'MsgVote':
    case 'MsgPreVote':
      writeUint(writer, MESSAGE_LOG_TERM, message.logTerm, 'logTerm');
      writeUint(writer, MESSAGE_INDEX, message.index, 'index');
      writeBool(writer, MESSAGE_TRANSFER, message.transfer);
      break;
    case 'MsgVoteResp':
    case 'MsgPreVoteResp':
      writeBool(writer, MESSAGE_REJECT, message.reject);
      break;
    case 'MsgHeartbeat':
      writeUint(writer, MESSAGE_COMMIT, message.commit, 'commit');
      writeBytes(writer, MESSAGE_CONTEXT, message.context);
      break;
    case 'MsgHeartbeatResp':
    case 'MsgReadIndex':
      writeBytes(writer, MESSAGE_CONTEXT, message.context);
      break;
    case 'MsgSnap':
      writeSnapshot(writer, message.snapshot, withSnapshotData);
      break;
    case 'MsgReadIndexResp':
      writeUint(writer, MESSAGE_INDEX, message.index, 'index');
      writeBytes(writer, MESSAGE_CONTEXT, message.context);
      break;
    case 'MsgTimeoutNow':
    case 'MsgTransferLeader':
      break;
    case 'MsgHup':
    case 'MsgBeat':
    case 'MsgCheckQuorum':
    case 'MsgUnreachable':
    case 'MsgSnapStatus':
      break; // rejected above; listed so that the switch stays exhaustive
    default:
      assertNever(message);
  }
}

function assertNever(value: never): never {
  throw new EncodeError(`unknown message kind ${(value as { type?: unknown }).type}`);
}

function readEntry(reader: Reader, end: number): Entry {
  let term = 0;
  let index = 0;
  let confChange = false;
  let data: Uint8Array = EMPTY_DATA;
  while (reader.pos < end) {
    const fieldTag = reader.uint32();
    switch (fieldTag) {
      case ENTRY_TERM:
        term = readNumber(reader, 'entry.term');
        break;
      case ENTRY_INDEX:
        index = readNumber(reader, 'entry.index');
        break;
      case ENTRY_TYPE: {
        const type = readNumber(reader, 'entry.type');
        if (type > 1) throw new DecodeError(`unknown entry type ${type}`);
        confChange = type === 1;
        break;
      }
      case ENTRY_DATA:
        data = readBytes(reader, 'entry.data');
        break;
      default:
        skipField(reader, fieldTag, ENTRY_FIELDS, 'Entry');
    }
  }
  expectEnd(reader, end, 'Entry');
  return { term, index, type: confChange ? 'confChange' : 'normal', data };
}

function readIds(reader: Reader, fieldTag: number, into: NodeId[], field: string): void {
  if ((fieldTag & 7) === LENGTH_DELIMITED) {
    const end = readEnd(reader, field);
    while (reader.pos < end) into.push(readNodeId(reader, field));
    expectEnd(reader, end, field);
  } else {
    into.push(readNodeId(reader, field));
  }
}

function readConfState(reader: Reader, end: number): ConfState {
  const voters: NodeId[] = [];
  const learners: NodeId[] = [];
  const votersOutgoing: NodeId[] = [];
  const learnersNext: NodeId[] = [];
  let autoLeave = false;
  while (reader.pos < end) {
    const fieldTag = reader.uint32();
    const field = fieldTag >>> 3;
    const wire = fieldTag & 7;
    const repeated = field >= 1 && field <= 4 && (wire === VARINT || wire === LENGTH_DELIMITED);
    if (repeated) {
      const into =
        field === 1 ? voters : field === 2 ? learners : field === 3 ? votersOutgoing : learnersNext;
      readIds(reader, fieldTag, into, 'confState ids');
    } else if (fieldTag === CONF_AUTO_LEAVE) {
      autoLeave = readBool(reader, 'confState.autoLeave');
    } else {
      skipField(reader, fieldTag, CONF_FIELDS, 'ConfState');
    }
  }
  expectEnd(reader, end, 'ConfState');
  return { voters, learners, votersOutgoing, learnersNext, autoLeave };
}

function readMetadata(reader: Reader, end: number): SnapshotMetadata {
  let index = 0;
  let term = 0;
  let confState: ConfState | undefined;
  while (reader.pos < end) {
    const fieldTag = reader.uint32();
    switch (fieldTag) {
      case METADATA_INDEX:
        index = readNumber(reader, 'snapshot.metadata.index');
        break;
      case METADATA_TERM:
        term = readNumber(reader, 'snapshot.metadata.term');
        break;
      case METADATA_CONF_STATE:
        confState = readConfState(reader, readEnd(reader, 'ConfState'));
        break;
      default:
        skipField(reader, fieldTag, METADATA_FIELDS, 'SnapshotMetadata');
    }
  }
  expectEnd(reader, end, 'SnapshotMetadata');
  if (confState === undefined) throw new DecodeError('snapshot metadata has no conf_state');
  return { index, term, confState };
}

function readSnapshot(reader: Reader, end: number): Snapshot {
  let metadata: SnapshotMetadata | undefined;
  let data: Uint8Array = EMPTY_DATA;
  while (reader.pos < end) {
    const fieldTag = reader.uint32();
    switch (fieldTag) {
      case SNAPSHOT_METADATA:
        metadata = readMetadata(reader, readEnd(reader, 'SnapshotMetadata'));
        break;
      case SNAPSHOT_DATA:
        data = readBytes(reader, 'snapshot.data');
        break;
      default:
        skipField(reader, fieldTag, SNAPSHOT_FIELDS, 'Snapshot');
    }
  }
  expectEnd(reader, end, 'Snapshot');
  if (metadata === undefined) throw new DecodeError('snapshot has no metadata');
  return { metadata, data };
}

/** readMessage reads a raft.proto `Message` that ends at `end`, validating it for its kind. */
export function readMessage(reader: Reader, end: number): PeerMessage {
  let wireType = 0;
  let from = 0;
  let to = 0;
  let term = 0;
  let logTerm = 0;
  let index = 0;
  let commit = 0;
  let rejectHint = 0;
  let reject = false;
  let transfer = false;
  let entries: Entry[] | undefined;
  let snapshot: Snapshot | undefined;
  let context: Uint8Array = EMPTY_DATA;
  while (reader.pos < end) {
    const fieldTag = reader.uint32();
    switch (fieldTag) {
      case MESSAGE_TYPE:
        wireType = readNumber(reader, 'type');
        break;
      case MESSAGE_FROM:
        from = readNumber(reader, 'from');
        break;
      case MESSAGE_TO:
        to = readNumber(reader, 'to');
        break;
      case MESSAGE_TERM:
        term = readNumber(reader, 'term');
        break;
      case MESSAGE_LOG_TERM:
        logTerm = readNumber(reader, 'logTerm');
        break;
      case MESSAGE_INDEX:
        index = readNumber(reader, 'index');
        break;
      case MESSAGE_ENTRIES: {
        const entryEnd = readEnd(reader, 'Entry');
        const entry = readEntry(reader, entryEnd);
        if (entries === undefined) entries = [entry];
        else entries.push(entry);
        break;
      }
      case MESSAGE_COMMIT:
        commit = readNumber(reader, 'commit');
        break;
      case MESSAGE_SNAPSHOT:
        snapshot = readSnapshot(reader, readEnd(reader, 'Snapshot'));
        break;
      case MESSAGE_REJECT:
        reject = readBool(reader, 'reject');
        break;
      case MESSAGE_REJECT_HINT:
        rejectHint = readNumber(reader, 'rejectHint');
        break;
      case MESSAGE_CONTEXT:
        context = readBytes(reader, 'context');
        break;
      case MESSAGE_TRANSFER:
        transfer = readBool(reader, 'transfer');
        break;
      default:
        skipField(reader, fieldTag, MESSAGE_FIELDS, 'Message');
    }
  }
  expectEnd(reader, end, 'Message');
  const type = TYPE_OF_WIRE[wireType];
  if (type === undefined) {
    throw new DecodeError(
      wireType === 0 ? 'message has no type' : `unknown message type ${wireType}`,
    );
  }
  if (from === 0) throw new DecodeError(`${type} has no sender (from = 0)`);
  if (to === 0) throw new DecodeError(`${type} has no recipient (to = 0)`);
  switch (type) {
    case 'MsgProp':
      return { type, from, to, term, entries: entries ?? NO_ENTRIES };
    case 'MsgApp':
      return { type, from, to, term, logTerm, index, entries: entries ?? NO_ENTRIES, commit };
    case 'MsgAppResp':
      return { type, from, to, term, index, reject, rejectHint, logTerm };
    case 'MsgVote':
    case 'MsgPreVote':
      return { type, from, to, term, logTerm, index, transfer };
    case 'MsgVoteResp':
    case 'MsgPreVoteResp':
      return { type, from, to, term, reject };
    case 'MsgHeartbeat':
      return { type, from, to, term, commit, context };
    case 'MsgHeartbeatResp':
    case 'MsgReadIndex':
      return { type, from, to, term, context };
    case 'MsgSnap':
      if (snapshot === undefined) throw new DecodeError('MsgSnap has no snapshot');
      return { type, from, to, term, snapshot };
    case 'MsgReadIndexResp':
      return { type, from, to, term, index, context };
    case 'MsgTimeoutNow':
    case 'MsgTransferLeader':
      return { type, from, to, term };
  }
}

/** isPeerMessage reports whether a message may cross the network (it is not local). */
export function isPeerMessage(message: Message): message is PeerMessage {
  return WIRE_TYPE[message.type as PeerMessageType] !== undefined;
}
