// The hand-written codec must agree with raft.proto as protobufjs's reflection reads it:
// what we encode, reflection decodes to the same message, and what reflection encodes,
// we decode to the same message.
import type { Entry } from '@raftkit/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeBatch,
  decodeMessage,
  encodeBatch,
  encodeMessage,
  loadRaftProto,
  MAX_CLUSTER_ID,
  type PeerMessage,
  type PeerMessageType,
  RAFT_PROTO_URL,
} from '../src/index.js';
import { nodeId, PEER_MESSAGE_TYPES, peerMessage } from './arbitraries.js';

const root = loadRaftProto();
const MessageType = root.lookupType('raftkit.raftpb.Message');
const BatchType = root.lookupType('raftkit.raftpb.MessageBatch');
const MessageTypeEnum = root.lookupEnum('raftkit.raftpb.MessageType');

// MsgAppResp -> MSG_APP_RESP
const enumName = (type: PeerMessageType): string =>
  type
    .replace(/^Msg/, 'Msg_')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toUpperCase();

type Plain = Record<string, unknown>;

// The reflection object for a core message: every field of its kind, proto names.
function toReflection(message: PeerMessage): Plain {
  const { type, ...fields } = message;
  const plain: Plain = { ...fields, type: MessageTypeEnum.values[enumName(type)] };
  if ('entries' in message) {
    plain.entries = message.entries.map((entry: Entry) => ({
      ...entry,
      type: entry.type === 'confChange' ? 1 : 0,
    }));
  }
  return plain;
}

// The core message for a reflection object (longs and enums already converted).
function fromReflection(plain: Plain): unknown {
  const type = PEER_MESSAGE_TYPES.find((candidate) => enumName(candidate) === plain.type);
  const out: Plain = { ...plain, type };
  if (Array.isArray(plain.entries)) {
    out.entries = plain.entries.map((entry: Plain) => ({
      ...entry,
      type: entry.type === 'ENTRY_CONF_CHANGE' ? 'confChange' : 'normal',
      data: new Uint8Array(entry.data as Uint8Array),
    }));
  }
  for (const key of ['context'] as const) {
    if (plain[key] !== undefined) out[key] = new Uint8Array(plain[key] as Uint8Array);
  }
  if (plain.snapshot !== undefined && plain.snapshot !== null) {
    const snapshot = plain.snapshot as Plain;
    out.snapshot = { ...snapshot, data: new Uint8Array(snapshot.data as Uint8Array) };
  }
  return out;
}

const toObjectOptions = {
  longs: Number,
  enums: String,
  defaults: true,
  arrays: true,
} as const;

// Reflection with `defaults` fills every field; keep only those the kind has.
function pick(expected: PeerMessage, decoded: Plain): Plain {
  const out: Plain = {};
  for (const key of Object.keys(expected)) out[key] = decoded[key];
  return out;
}

describe('codec conformance with raft.proto (protobufjs reflection)', () => {
  it('ships the .proto next to the module', () => {
    expect(RAFT_PROTO_URL.pathname.endsWith('/proto/raft.proto')).toBe(true);
    expect(MessageTypeEnum.values.MSG_APP).toBe(2);
  });

  it('reflection decodes what the codec encodes', () => {
    fc.assert(
      fc.property(peerMessage, (message) => {
        const decoded = MessageType.toObject(
          MessageType.decode(encodeMessage(message)),
          toObjectOptions,
        );
        expect(pick(message, fromReflection(decoded) as Plain)).toEqual(message);
      }),
      { numRuns: 1_000 },
    );
  });

  it('the codec decodes what reflection encodes', () => {
    fc.assert(
      fc.property(peerMessage, (message) => {
        const bytes = MessageType.encode(MessageType.fromObject(toReflection(message))).finish();
        expect(decodeMessage(bytes)).toEqual(message);
      }),
      { numRuns: 1_000 },
    );
  });

  it('agrees on batches and 64-bit cluster ids', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: MAX_CLUSTER_ID }),
        nodeId,
        fc.array(peerMessage, { maxLength: 4 }),
        (clusterId, from, messages) => {
          const ours = encodeBatch({ clusterId, from, messages });
          const decoded = BatchType.toObject(BatchType.decode(ours), {
            ...toObjectOptions,
            longs: String,
          });
          expect(BigInt(decoded.clusterId as string)).toBe(clusterId);
          expect(Number(decoded.from)).toBe(from);
          const theirs = BatchType.encode(
            BatchType.fromObject({
              clusterId: clusterId.toString(),
              from,
              messages: messages.map(toReflection),
            }),
          ).finish();
          expect(decodeBatch(theirs)).toEqual({ clusterId, from, messages });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('agrees on the peer URL an opening batch announces', () => {
    fc.assert(
      fc.property(nodeId, fc.webUrl(), (from, peerUrl) => {
        const ours = encodeBatch({ clusterId: 7n, from, messages: [], peerUrl });
        const decoded = BatchType.toObject(BatchType.decode(ours), toObjectOptions);
        expect(decoded.peerUrl).toBe(peerUrl);
        const theirs = BatchType.encode(
          BatchType.fromObject({ clusterId: '7', from, messages: [], peerUrl }),
        ).finish();
        expect(decodeBatch(theirs)).toEqual({ clusterId: 7n, from, messages: [], peerUrl });
      }),
      { numRuns: 200 },
    );
  });
});
