import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { MsgSnap } from '@raftkit/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  decodeSnapshotResponse,
  encodeSnapshotChunk,
  SEND_SNAPSHOT_PATH,
  SnapshotAssembler,
  type SnapshotChunk,
  SnapshotRejectedError,
  type SnapshotStatus,
  SnapshotTransferError,
} from '../src/index.js';
import { address, CLUSTER, Fixture, waitFor } from './harness.js';

const fixture = new Fixture();
afterEach(() => fixture.close());

function snap(size: number, to = 2): MsgSnap {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + 7) & 0xff;
  return {
    type: 'MsgSnap',
    from: 1,
    to,
    term: 4,
    snapshot: {
      metadata: {
        index: 1_000,
        term: 3,
        confState: {
          voters: [1, 2, 3],
          learners: [4],
          votersOutgoing: [],
          learnersNext: [],
          autoLeave: false,
        },
      },
      data,
    },
  };
}

// chunks splits a snapshot the way the sender does, for hand-made transfers.
function chunks(message: MsgSnap, size: number): SnapshotChunk[] {
  const data = message.snapshot.data;
  const out: SnapshotChunk[] = [];
  for (let offset = 0; offset < data.byteLength || offset === 0; offset += size) {
    const end = Math.min(data.byteLength, offset + size);
    out.push({
      clusterId: CLUSTER,
      from: message.from,
      to: message.to,
      totalSize: data.byteLength,
      offset,
      data: data.subarray(offset, end),
      checksum:
        end === data.byteLength ? createHash('sha256').update(data).digest() : new Uint8Array(),
      ...(offset === 0 ? { message } : {}),
    });
    if (end === data.byteLength) break;
  }
  return out;
}

// rawTransfer plays a hand-made sequence of chunks against a server.
async function rawTransfer(
  target: string,
  sequence: readonly SnapshotChunk[],
  cancelAfterWrite = false,
): Promise<{ error: grpc.ServiceError | null; received?: number }> {
  const client = new grpc.Client(target, grpc.credentials.createInsecure());
  try {
    return await new Promise((resolve) => {
      const call = client.makeClientStreamRequest<Buffer, Buffer>(
        SEND_SNAPSHOT_PATH,
        (b) => b,
        (b) => b,
        (error, response) =>
          resolve(
            error
              ? { error }
              : { error: null, received: decodeSnapshotResponse(response!).received },
          ),
      );
      for (const chunk of sequence) call.write(encodeSnapshotChunk(chunk));
      if (cancelAfterWrite) setTimeout(() => call.cancel(), 50);
      else call.end();
    });
  } finally {
    client.close();
  }
}

describe('snapshot transfer', () => {
  it('sends a multi-chunk snapshot that arrives whole and verified', async () => {
    const snapshots: MsgSnap[] = [];
    const { server } = await fixture.server(2, {
      onSnapshot: (message) => snapshots.push(message),
    });
    const { transport } = fixture.transport(
      1,
      { 2: address(server) },
      { snapshotChunkBytes: 64 * 1024 },
    );
    const message = snap(1_000_003);
    const response = await transport.sendSnapshot(message);
    expect(response.received).toBe(1_000_003);
    expect(snapshots).toHaveLength(1);
    const { snapshot, ...header } = snapshots[0]!;
    const { snapshot: sent, ...sentHeader } = message;
    expect(header).toEqual(sentHeader);
    expect(snapshot.metadata).toEqual(sent.metadata);
    // Buffer.equals, not toEqual: a deep compare of a megabyte takes seconds.
    expect(Buffer.from(snapshot.data).equals(sent.data)).toBe(true);
    expect(server.stats()).toMatchObject({ snapshotsReceived: 1, snapshotsRefused: 0 });
    expect(transport.stats().snapshotsSent).toBe(1);
  });

  it('sends an empty snapshot as one chunk', async () => {
    const snapshots: MsgSnap[] = [];
    const { server } = await fixture.server(2, {
      onSnapshot: (message) => snapshots.push(message),
    });
    const { transport } = fixture.transport(1, { 2: address(server) });
    await transport.sendSnapshot(snap(0));
    expect(snapshots).toEqual([snap(0)]);
  });

  it('routes MsgSnap from send() and reports finish / failure', async () => {
    const statuses: [number, SnapshotStatus][] = [];
    const snapshots: MsgSnap[] = [];
    const { server } = await fixture.server(2, {
      onSnapshot: (message) => snapshots.push(message),
    });
    const dead = await fixture.deadAddress();
    const { transport } = fixture.transport(
      1,
      { 2: address(server), 3: dead },
      { onSnapshotStatus: (peer, status) => statuses.push([peer, status]) },
    );
    transport.send([snap(10_000, 2), snap(10_000, 3)]);
    // A duplicate while the first is in flight is dropped, not reported twice.
    transport.send([snap(10_000, 2)]);
    await waitFor(() => statuses.length === 2, 10_000, 'both outcomes');
    expect(statuses.sort()).toEqual([
      [2, 'finish'],
      [3, 'failure'],
    ]);
    expect(snapshots).toHaveLength(1);
  });

  it('refuses a transfer whose checksum does not match, and hands nothing over', async () => {
    const snapshots: MsgSnap[] = [];
    const { server, logger } = await fixture.server(2, { onSnapshot: (m) => snapshots.push(m) });
    const sequence = chunks(snap(300_000), 100_000);
    const last = sequence.at(-1)!;
    const forged = new Uint8Array(last.checksum);
    forged[0] = forged[0]! ^ 1;
    sequence[sequence.length - 1] = { ...last, checksum: forged };
    const result = await rawTransfer(address(server), sequence);
    expect(result.error?.code).toBe(grpc.status.DATA_LOSS);
    expect(result.error?.details).toMatch(/SHA-256/);
    expect(snapshots).toEqual([]);
    expect(server.stats().snapshotsRefused).toBe(1);
    expect(logger.text()).toMatch(/snapshot refused.*checksumMismatch/);
  });

  it('refuses corrupted data (same checksum as the original)', async () => {
    const snapshots: MsgSnap[] = [];
    const { server } = await fixture.server(2, { onSnapshot: (m) => snapshots.push(m) });
    const sequence = chunks(snap(200_000), 64_000);
    const middle = sequence[1]!;
    const corrupted = new Uint8Array(middle.data);
    corrupted[17] = corrupted[17]! ^ 0xff;
    sequence[1] = { ...middle, data: corrupted };
    const result = await rawTransfer(address(server), sequence);
    expect(result.error?.code).toBe(grpc.status.DATA_LOSS);
    expect(snapshots).toEqual([]);
  });

  it('never hands over a partial snapshot (cut short, or cancelled)', async () => {
    const snapshots: MsgSnap[] = [];
    const { server } = await fixture.server(2, { onSnapshot: (m) => snapshots.push(m) });
    const sequence = chunks(snap(300_000), 100_000);
    const short = await rawTransfer(address(server), sequence.slice(0, 2));
    expect(short.error?.code).toBe(grpc.status.DATA_LOSS);
    expect(short.error?.details).toMatch(/ended after 200000 bytes/);
    const cancelled = await rawTransfer(address(server), sequence.slice(0, 2), true);
    expect(cancelled.error?.code).toBe(grpc.status.CANCELLED);
    const whole = await rawTransfer(address(server), sequence);
    expect(whole).toEqual({ error: null, received: 300_000 });
    expect(snapshots).toHaveLength(1);
  });

  it('refuses out-of-order chunks, oversized snapshots, other clusters and non-members', async () => {
    const snapshots: MsgSnap[] = [];
    const { server } = await fixture.server(2, {
      onSnapshot: (m) => snapshots.push(m),
      maxSnapshotBytes: 250_000,
      members: [1, 2],
    });
    const target = address(server);
    const sequence = chunks(snap(200_000), 50_000);
    const swapped = [sequence[0]!, sequence[2]!, sequence[1]!, sequence[3]!];
    expect((await rawTransfer(target, swapped)).error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    const big = chunks(snap(300_000), 100_000);
    const tooLarge = await rawTransfer(target, big);
    expect(tooLarge.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const otherCluster = sequence.map((chunk) => ({ ...chunk, clusterId: CLUSTER + 1n }));
    expect((await rawTransfer(target, otherCluster)).error?.code).toBe(
      grpc.status.FAILED_PRECONDITION,
    );
    const stranger = chunks({ ...snap(1_000), from: 7 }, 1_000).map((chunk) => ({
      ...chunk,
      from: 7,
    }));
    expect((await rawTransfer(target, stranger)).error?.code).toBe(grpc.status.PERMISSION_DENIED);
    const headerless = sequence.map((chunk) => {
      const { message: _message, ...rest } = chunk;
      return rest;
    });
    expect((await rawTransfer(target, headerless)).error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(snapshots).toEqual([]);
    // The sender's view of a refusal.
    const { transport } = fixture.transport(1, { 2: target });
    await expect(transport.sendSnapshot(snap(300_000))).rejects.toMatchObject({
      reason: 'tooLarge',
    });
  });

  it('rejects a second transfer to the same peer and transfers to unknown peers', async () => {
    const { server } = await fixture.server(2);
    const { transport } = fixture.transport(1, { 2: address(server) });
    const first = transport.sendSnapshot(snap(500_000));
    await expect(transport.sendSnapshot(snap(10))).rejects.toMatchObject({ reason: 'busy' });
    await first;
    await expect(transport.sendSnapshot(snap(10, 9))).rejects.toBeInstanceOf(SnapshotTransferError);
  });

  it('cancels a transfer in flight when the transport closes', async () => {
    const { server } = await fixture.server(2);
    const { transport } = fixture.transport(
      1,
      { 2: address(server) },
      { snapshotChunkBytes: 16 * 1024 },
    );
    const transfer = transport.sendSnapshot(snap(20_000_000));
    await transport.close();
    await expect(transfer).rejects.toMatchObject({ reason: 'closed' });
  });
});

describe('SnapshotAssembler', () => {
  it('assembles in-order chunks and verifies the digest', () => {
    const message = snap(10_000);
    const assembler = new SnapshotAssembler(1 << 20);
    const pieces = chunks(message, 3_000);
    const results = pieces.map((chunk) => assembler.add(chunk));
    expect(results.slice(0, -1).every((result) => result === undefined)).toBe(true);
    expect(results.at(-1)).toEqual(message);
    expect(() => assembler.add(pieces[0]!)).toThrow(SnapshotRejectedError);
  });

  it('refuses a checksum before the last chunk and a missing final checksum', () => {
    const pieces = chunks(snap(10_000), 3_000);
    const early = new SnapshotAssembler(1 << 20);
    expect(() => early.add({ ...pieces[0]!, checksum: new Uint8Array(32) })).toThrow(
      /before the last/,
    );
    const missing = new SnapshotAssembler(1 << 20);
    for (const piece of pieces.slice(0, -1)) missing.add(piece);
    expect(() => missing.add({ ...pieces.at(-1)!, checksum: new Uint8Array() })).toThrow(
      /no checksum/,
    );
  });

  it('refuses chunks past the announced size or from another sender', () => {
    const pieces = chunks(snap(10_000), 3_000);
    const over = new SnapshotAssembler(1 << 20);
    over.add(pieces[0]!);
    expect(() => over.add({ ...pieces[1]!, data: new Uint8Array(9_000) })).toThrow(
      /past the announced size/,
    );
    const spoof = new SnapshotAssembler(1 << 20);
    spoof.add(pieces[0]!);
    expect(() => spoof.add({ ...pieces[1]!, from: 3 })).toThrow(/changed mid-transfer/);
  });
});
