import { isLocalMessage, MESSAGE_TYPES, type Message } from '@raftkit/core';
import fc from 'fast-check';
import protobuf from 'protobufjs/minimal.js';
import { describe, expect, it } from 'vitest';
import {
  BatchWriter,
  DecodeError,
  decodeBatch,
  decodeMessage,
  decodeSnapshotChunk,
  decodeSnapshotResponse,
  decodeStreamAck,
  EncodeError,
  encodeBatch,
  encodeMessage,
  encodeSnapshotChunk,
  encodeSnapshotResponse,
  encodeStreamAck,
  isPeerMessage,
  MAX_CLUSTER_ID,
  MAX_PEER_URL_BYTES,
} from '../src/index.js';
import {
  bytes,
  nodeId,
  PEER_MESSAGE_TYPES,
  peerMessage,
  peerMessageOf,
  snapshot,
  uint,
} from './arbitraries.js';
import { append, heartbeat } from './harness.js';

describe('codec round trip', () => {
  it('covers every non-local core message kind', () => {
    const peerKinds = MESSAGE_TYPES.filter((type) => !isLocalMessage(type));
    expect([...PEER_MESSAGE_TYPES].sort()).toEqual([...peerKinds].sort());
  });

  for (const type of PEER_MESSAGE_TYPES) {
    it(`round-trips ${type}`, () => {
      fc.assert(
        fc.property(peerMessageOf(type), (message) => {
          expect(decodeMessage(encodeMessage(message))).toEqual(message);
        }),
        { numRuns: 200 },
      );
    });
  }

  it('round-trips batches with any cluster id and any mix of kinds', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: MAX_CLUSTER_ID }),
        nodeId,
        fc.array(peerMessage, { maxLength: 8 }),
        (clusterId, from, messages) => {
          expect(decodeBatch(encodeBatch({ clusterId, from, messages }))).toEqual({
            clusterId,
            from,
            messages,
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('round-trips stream acks, snapshot chunks and responses', () => {
    fc.assert(
      fc.property(fc.boolean(), nodeId, uint, (accepted, id, received) => {
        expect(decodeStreamAck(encodeStreamAck({ accepted, nodeId: id }))).toEqual({
          accepted,
          nodeId: id,
        });
        expect(decodeSnapshotResponse(encodeSnapshotResponse({ received }))).toEqual({
          received,
        });
      }),
    );
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: MAX_CLUSTER_ID }),
        nodeId,
        nodeId,
        snapshot,
        uint,
        uint,
        bytes,
        bytes,
        fc.boolean(),
        (clusterId, from, to, snap, totalSize, offset, data, checksum, withHeader) => {
          const message = { type: 'MsgSnap' as const, from, to, term: 3, snapshot: snap };
          const chunk = {
            clusterId,
            from,
            to,
            totalSize,
            offset,
            data,
            checksum,
            ...(withHeader ? { message } : {}),
          };
          const decoded = decodeSnapshotChunk(encodeSnapshotChunk(chunk));
          // The header travels without the snapshot data: that is what the chunks carry.
          const expected = withHeader
            ? { ...chunk, message: { ...message, snapshot: { ...snap, data: new Uint8Array() } } }
            : chunk;
          expect(decoded).toEqual(expected);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('decodes entry data as views onto the received buffer, without copying', () => {
    const bytesOnWire = encodeBatch({
      clusterId: 1n,
      from: 1,
      messages: [append(1, 2, 5, 10, 100)],
    });
    const batch = decodeBatch(bytesOnWire);
    const message = batch.messages[0]!;
    if (message.type !== 'MsgApp') throw new Error('expected MsgApp');
    for (const entry of message.entries) {
      expect(entry.data.buffer).toBe(bytesOnWire.buffer);
      expect(entry.data.byteLength).toBe(100);
      expect(Object.getPrototypeOf(entry.data)).toBe(Uint8Array.prototype);
    }
  });

  it('writes nothing for default fields (proto3) and is compact for a heartbeat', () => {
    expect(encodeMessage(heartbeat(1, 2)).byteLength).toBe(8);
  });
});

describe('the peer URL of an opening batch', () => {
  it('round-trips, and is absent from batches that do not carry it', () => {
    const opening = { clusterId: 9n, from: 3, messages: [], peerUrl: 'https://10.0.0.3:2380' };
    expect(decodeBatch(encodeBatch(opening))).toEqual(opening);
    const plain = decodeBatch(encodeBatch({ clusterId: 9n, from: 3, messages: [heartbeat(3, 1)] }));
    expect(plain).not.toHaveProperty('peerUrl');
  });

  it(`refuses a URL longer than ${MAX_PEER_URL_BYTES} bytes on both sides`, () => {
    const long = `http://${'a'.repeat(MAX_PEER_URL_BYTES)}:1`;
    expect(() => encodeBatch({ clusterId: 1n, from: 1, messages: [], peerUrl: long })).toThrow(
      EncodeError,
    );
    const writer = protobuf.Writer.create();
    writer.uint32(0x08).uint32(1).uint32(0x10).uint32(1);
    writer.uint32((4 << 3) | 2).string(long);
    expect(() => decodeBatch(writer.finish())).toThrow(/peerUrl is \d+ bytes/);
    // A peer_url sent with the wrong wire type is malformed too.
    const wrongType = protobuf.Writer.create();
    wrongType
      .uint32(0x10)
      .uint32(1)
      .uint32((4 << 3) | 0)
      .uint32(5);
    expect(() => decodeBatch(wrongType.finish())).toThrow(DecodeError);
  });
});

describe('codec encode errors', () => {
  it('refuses local kinds', () => {
    const local: Message[] = [
      { type: 'MsgHup', from: 1, to: 1, term: 0, transfer: false },
      { type: 'MsgBeat', from: 1, to: 1, term: 0 },
      { type: 'MsgCheckQuorum', from: 1, to: 1, term: 0 },
      { type: 'MsgUnreachable', from: 2, to: 1, term: 0 },
      { type: 'MsgSnapStatus', from: 2, to: 1, term: 0, reject: false },
    ];
    for (const message of local) {
      expect(isPeerMessage(message)).toBe(false);
      expect(() => encodeMessage(message)).toThrow(EncodeError);
    }
  });

  it('refuses ids of 0, negative, fractional and unsafe numbers', () => {
    expect(() => encodeMessage(heartbeat(0, 2))).toThrow(/from is 0/);
    expect(() => encodeMessage({ ...heartbeat(1, 2), term: -1 } as Message)).toThrow(EncodeError);
    expect(() => encodeMessage({ ...heartbeat(1, 2), term: 1.5 } as Message)).toThrow(EncodeError);
    expect(() => encodeMessage({ ...heartbeat(1, 2), term: 2 ** 53 } as Message)).toThrow(
      EncodeError,
    );
    expect(() => encodeBatch({ clusterId: -1n, from: 1, messages: [] })).toThrow(EncodeError);
    expect(() => encodeBatch({ clusterId: MAX_CLUSTER_ID + 1n, from: 1, messages: [] })).toThrow(
      EncodeError,
    );
  });

  it('leaves the shared writer usable after a failed encode', () => {
    expect(() => encodeMessage({ ...append(1, 2, 1, 3), commit: -5 } as Message)).toThrow();
    expect(decodeMessage(encodeMessage(heartbeat(1, 2, 7)))).toEqual(heartbeat(1, 2, 7));
  });
});

describe('BatchWriter', () => {
  it('splits at maxBytes, and every batch decodes back to its messages in order', () => {
    const messages = Array.from({ length: 50 }, (_, i) => append(1, 2, i * 10, 10, 100));
    const writer = new BatchWriter(9n, 1, 4_000);
    const batches: Buffer[] = [];
    let i = 0;
    while (i < messages.length) {
      const result = writer.add(messages[i]!);
      if (result === 'added') i++;
      else if (result === 'full') batches.push(writer.finish());
      else throw new Error('unexpected tooLarge');
    }
    batches.push(writer.finish());
    expect(batches.length).toBeGreaterThan(10);
    for (const batch of batches) expect(batch.byteLength).toBeLessThanOrEqual(4_000);
    const decoded = batches.flatMap((batch) => decodeBatch(batch).messages);
    expect(decoded).toEqual(messages);
  });

  it('reports a single message over the limit as tooLarge and stays usable', () => {
    const writer = new BatchWriter(9n, 1, 500);
    expect(writer.add(append(1, 2, 0, 10, 100))).toBe('tooLarge');
    expect(writer.count).toBe(0);
    expect(writer.add(heartbeat(1, 2))).toBe('added');
    expect(decodeBatch(writer.finish()).messages).toEqual([heartbeat(1, 2)]);
  });

  it('rolls back a message that fails to encode', () => {
    const writer = new BatchWriter(9n, 1, 10_000);
    writer.add(heartbeat(1, 2, 1));
    expect(() => writer.add({ ...heartbeat(1, 2), commit: Number.NaN } as Message)).toThrow(
      EncodeError,
    );
    writer.add(heartbeat(1, 2, 2));
    expect(decodeBatch(writer.finish()).messages).toEqual([heartbeat(1, 2, 1), heartbeat(1, 2, 2)]);
  });
});

// Hand-built wire bytes for the malformed-input cases.
function wire(build: (writer: protobuf.Writer) => void): Uint8Array {
  const writer = protobuf.Writer.create();
  build(writer);
  return writer.finish();
}

describe('codec decode errors', () => {
  const decodeError = (bytesIn: Uint8Array, pattern?: RegExp) => {
    let caught: unknown;
    try {
      decodeMessage(bytesIn);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DecodeError);
    expect((caught as DecodeError).code).toBe('RPC_DECODE');
    if (pattern) expect((caught as Error).message).toMatch(pattern);
  };

  it('rejects unknown and missing message types', () => {
    decodeError(
      wire((w) => w.uint32(0x08).uint32(99).uint32(0x10).uint32(1).uint32(0x18).uint32(2)),
      /unknown message type 99/,
    );
    decodeError(
      wire((w) => w.uint32(0x10).uint32(1).uint32(0x18).uint32(2)),
      /no type/,
    );
  });

  it('rejects a missing sender or recipient', () => {
    decodeError(
      wire((w) => w.uint32(0x08).uint32(8).uint32(0x18).uint32(2)),
      /no sender/,
    );
    decodeError(
      wire((w) => w.uint32(0x08).uint32(8).uint32(0x10).uint32(2)),
      /no recipient/,
    );
  });

  it('rejects ids and numbers above 2^53 - 1', () => {
    decodeError(
      wire((w) =>
        w.uint32(0x08).uint32(8).uint32(0x10).uint64('18446744073709551615').uint32(0x18).uint32(2),
      ),
      /from is above 2\^53/,
    );
    decodeError(
      wire((w) =>
        w
          .uint32(0x08)
          .uint32(8)
          .uint32(0x10)
          .uint32(1)
          .uint32(0x18)
          .uint32(2)
          .uint32(0x40)
          .uint64(2 ** 53),
      ),
      /commit is above/,
    );
  });

  it('rejects MsgSnap without snapshot, metadata or conf state', () => {
    const head = (w: protobuf.Writer) =>
      w.uint32(0x08).uint32(10).uint32(0x10).uint32(1).uint32(0x18).uint32(2);
    decodeError(wire(head), /MsgSnap has no snapshot/);
    decodeError(
      wire((w) => head(w).uint32(0x4a).fork().ldelim()),
      /no metadata/,
    );
    decodeError(
      wire((w) =>
        head(w).uint32(0x4a).fork().uint32(0x0a).fork().uint32(0x08).uint32(5).ldelim().ldelim(),
      ),
      /no conf_state/,
    );
  });

  it('rejects unknown entry types, wrong wire types, truncation and overruns', () => {
    const head = (w: protobuf.Writer) =>
      w.uint32(0x08).uint32(2).uint32(0x10).uint32(1).uint32(0x18).uint32(2);
    decodeError(
      wire((w) => head(w).uint32(0x3a).fork().uint32(0x18).uint32(7).ldelim()),
      /entry type 7/,
    );
    decodeError(
      wire((w) => head(w).uint32(0x12).bytes(new Uint8Array(2))),
      /wire type/,
    );
    const good = encodeMessage(append(1, 2, 3, 2, 10));
    // A cut at a field boundary is a valid, shorter message (protobuf has no end
    // marker); a cut anywhere inside a field must be a DecodeError, nothing else.
    for (let cut = 1; cut < good.byteLength; cut++) {
      try {
        decodeMessage(good.subarray(0, cut));
      } catch (error) {
        expect(error).toBeInstanceOf(DecodeError);
      }
    }
    expect(() => decodeMessage(good.subarray(0, good.byteLength - 1))).toThrow(DecodeError);
    decodeError(
      wire((w) => head(w).uint32(0x62).uint32(1000)),
      /claims 1000 bytes/,
    );
    decodeError(
      new Uint8Array([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
      /longer than 10 bytes/,
    );
  });

  it('skips unknown fields from newer peers', () => {
    const withExtra = wire((w) => {
      w.uint32(0x08).uint32(8).uint32(0x10).uint32(1).uint32(0x18).uint32(2);
      w.uint32((99 << 3) | 2).bytes(new Uint8Array([1, 2, 3]));
      w.uint32((100 << 3) | 0).uint32(5);
    });
    expect(decodeMessage(withExtra)).toEqual({ ...heartbeat(1, 2), term: 0 });
  });

  it('accepts unpacked repeated ids, as proto2-style writers send them', () => {
    const bytesIn = wire((w) => {
      w.uint32(0x08).uint32(10).uint32(0x10).uint32(1).uint32(0x18).uint32(2);
      w.uint32(0x4a).fork().uint32(0x0a).fork();
      w.uint32(0x1a).fork().uint32(0x08).uint32(4).uint32(0x08).uint32(5).ldelim();
      w.ldelim().ldelim();
    });
    const message = decodeMessage(bytesIn);
    expect(message.type === 'MsgSnap' && message.snapshot.metadata.confState.voters).toEqual([
      4, 5,
    ]);
  });

  it('never throws anything but DecodeError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (input) => {
        for (const decode of [decodeMessage, decodeBatch, decodeSnapshotChunk, decodeStreamAck]) {
          try {
            decode(input);
          } catch (error) {
            if (!(error instanceof DecodeError)) throw error;
          }
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('never throws anything but DecodeError on mutated valid messages', () => {
    fc.assert(
      fc.property(peerMessage, fc.nat(), fc.nat(255), (message, at, value) => {
        const encoded = Buffer.from(encodeMessage(message));
        encoded[at % encoded.byteLength] = value;
        try {
          decodeMessage(encoded);
        } catch (error) {
          if (!(error instanceof DecodeError)) throw error;
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('rejects a snapshot chunk whose header is not a MsgSnap', () => {
    const bytesIn = wire((w) => {
      w.uint32(0x10).uint32(1).uint32(0x18).uint32(2);
      w.uint32(0x22).bytes(encodeMessage(heartbeat(1, 2)));
    });
    expect(() => decodeSnapshotChunk(bytesIn)).toThrow(/carries MsgHeartbeat/);
  });
});
