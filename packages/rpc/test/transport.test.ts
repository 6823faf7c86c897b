import * as grpc from '@grpc/grpc-js';
import type { Message } from '@raftkit/core';
import { ManualClock } from '@raftkit/timer';
import { afterEach, describe, expect, it } from 'vitest';
import {
  decodeStreamAck,
  encodeBatch,
  GrpcTransport,
  RpcConfigError,
  STREAM_PATH,
} from '../src/index.js';
import {
  address,
  append,
  CLUSTER,
  Fixture,
  heartbeat,
  nextTurn,
  sleep,
  waitFor,
} from './harness.js';

const fixture = new Fixture();
afterEach(() => fixture.close());

describe('GrpcTransport + RaftServer', () => {
  it('delivers every kind of message in order and hands them to the handler', async () => {
    const { server, received } = await fixture.server(2);
    const { transport } = fixture.transport(1, { 2: address(server) });
    const messages: Message[] = [
      { type: 'MsgVote', from: 1, to: 2, term: 3, logTerm: 2, index: 9, transfer: false },
      append(1, 2, 9, 3, 10),
      heartbeat(1, 2, 9),
      { type: 'MsgTimeoutNow', from: 1, to: 2, term: 3 },
    ];
    transport.send(messages);
    await waitFor(() => received.length === 4, 5_000, 'delivery');
    expect(received).toEqual(messages);
    expect(transport.peerStats(2)).toMatchObject({ state: 'ready', connects: 1, dropped: 0 });
    expect(server.stats()).toMatchObject({ streams: 1, messages: 4, refusedStreams: 0 });
  });

  it('coalesces the messages of one event-loop turn into one write per peer', async () => {
    const two = await fixture.server(2);
    const three = await fixture.server(3);
    const { transport } = fixture.transport(1, {
      2: address(two.server),
      3: address(three.server),
    });
    transport.send([heartbeat(1, 2), heartbeat(1, 3)]);
    await waitFor(() => two.received.length === 1 && three.received.length === 1);
    const before = transport.peerStats(2)!.sentBatches;
    // Many send() calls in one synchronous turn, as a Ready loop would make them.
    for (let i = 0; i < 100; i++) {
      transport.send([append(1, 2, i, 1, 100), append(1, 3, i, 1, 100)]);
    }
    await waitFor(() => two.received.length === 101 && three.received.length === 101);
    expect(transport.peerStats(2)!.sentBatches - before).toBe(1);
    expect(transport.peerStats(3)!.sentBatches - before).toBe(1);
    expect(two.received.slice(1).map((m) => (m.type === 'MsgApp' ? m.index : -1))).toEqual(
      Array.from({ length: 100 }, (_, i) => i),
    );
  });

  it('splits a turn larger than maxMessageBytes into several writes', async () => {
    const { server, received } = await fixture.server(2);
    const { transport } = fixture.transport(
      1,
      { 2: address(server) },
      { maxMessageBytes: 128 * 1024, snapshotChunkBytes: 32 * 1024 },
    );
    transport.send([heartbeat(1, 2)]);
    await waitFor(() => received.length === 1);
    transport.send(Array.from({ length: 100 }, (_, i) => append(1, 2, i, 10, 1_000)));
    await waitFor(() => received.length === 101);
    expect(transport.peerStats(2)!.sentBatches).toBeGreaterThanOrEqual(1 + 8);
  });

  it('keeps a dead peer and a black-holed peer from blocking others, with bounded queues', async () => {
    const live = await fixture.server(2);
    const dead = await fixture.deadAddress();
    const blackhole = await fixture.blackholeAddress();
    const { transport, unreachable } = fixture.transport(
      1,
      { 2: address(live.server), 3: dead, 4: blackhole },
      { queueLimit: 50, handshakeTimeoutMs: 2_000 },
    );
    let maxQueued = 0;
    for (let round = 0; round < 40; round++) {
      const batch: Message[] = [];
      for (let i = 0; i < 10; i++) {
        const index = round * 10 + i;
        batch.push(append(1, 2, index), append(1, 3, index), append(1, 4, index));
      }
      transport.send(batch);
      for (const peer of transport.stats().peers) maxQueued = Math.max(maxQueued, peer.queued);
      await nextTurn();
    }
    await waitFor(() => live.received.length === 400, 5_000, 'the live peer to get everything');
    await waitFor(() => unreachable.includes(3), 5_000, 'the dead peer to be reported');
    expect(maxQueued).toBeLessThanOrEqual(50);
    const stats = (id: number) => transport.peerStats(id)!;
    expect(stats(2).dropped).toBe(0);
    expect(stats(3).dropped).toBeGreaterThan(0);
    // The black hole accepts TCP and never answers: its queue filled to the limit and
    // the overflow was dropped, while peer 2 was served all along.
    expect(stats(4).droppedQueueFull).toBeGreaterThan(0);
    expect(stats(4).queued).toBeLessThanOrEqual(50);
    await waitFor(() => unreachable.includes(4), 5_000, 'the handshake timeout');
    expect(stats(4).lastError).toMatch(/no answer within 2000 ms|DEADLINE|UNAVAILABLE/);
  });

  it('reconnects with backoff after the peer restarts on the same port', async () => {
    const first = await fixture.server(2);
    const port = first.server.port;
    const { transport, unreachable } = fixture.transport(1, { 2: address(first.server) });
    transport.send([heartbeat(1, 2, 1)]);
    await waitFor(() => first.received.length === 1);
    await first.server.close(100);
    await waitFor(() => unreachable.includes(2), 5_000, 'unreachable after the restart');
    // Messages sent while the peer is down are dropped, not hoarded.
    transport.send([heartbeat(1, 2, 2)]);
    await sleep(100);
    const second = await fixture.server(2, {}, port);
    await waitFor(() => transport.peerStats(2)!.state === 'ready', 5_000, 'reconnection');
    transport.send([heartbeat(1, 2, 3)]);
    await waitFor(() => second.received.length === 1);
    expect(second.received[0]).toEqual(heartbeat(1, 2, 3));
    expect(transport.peerStats(2)!.connects).toBe(2);
    expect(transport.peerStats(2)!.failures).toBeGreaterThanOrEqual(1);
  });

  it('refuses a sender from another cluster, and both sides log why', async () => {
    const { server, received, logger: serverLog } = await fixture.server(2);
    const { transport, unreachable, logger } = fixture.transport(
      1,
      { 2: address(server) },
      { clusterId: CLUSTER + 1n },
    );
    transport.send([heartbeat(1, 2)]);
    await waitFor(() => unreachable.length > 0, 5_000, 'the refusal');
    await sleep(100);
    expect(received).toEqual([]);
    expect(server.stats().refusedStreams).toBeGreaterThan(0);
    expect(serverLog.text()).toMatch(/cluster id mismatch: node 1 belongs to cluster c1a55e6/);
    expect(logger.text(['error'])).toMatch(
      /peer refused our stream.*FAILED_PRECONDITION.*cluster id mismatch/,
    );
    expect(transport.peerStats(2)!.state).not.toBe('ready');
  });

  it('refuses a sender that is not a member, and cuts a removed member', async () => {
    const { server, received, logger: serverLog } = await fixture.server(2, { members: [1, 2] });
    const stranger = fixture.transport(9, { 2: address(server) });
    stranger.transport.send([heartbeat(9, 2)]);
    await waitFor(() => stranger.unreachable.length > 0, 5_000, 'the refusal');
    expect(serverLog.text()).toMatch(/node 9 is not a member/);
    expect(stranger.logger.text(['error'])).toMatch(/PERMISSION_DENIED/);

    const member = fixture.transport(1, { 2: address(server) });
    member.transport.send([heartbeat(1, 2)]);
    await waitFor(() => received.length === 1);
    expect(received.every((message) => message.from === 1)).toBe(true);
    server.removeMember(1);
    await waitFor(() => member.unreachable.includes(2), 5_000, 'the cut');
    expect(member.logger.text(['error'])).toMatch(/node 1 was removed from the cluster/);
  });

  it('drops messages whose sender or recipient does not match the stream, and survives garbage', async () => {
    const { server, received, logger } = await fixture.server(2);
    const client = new grpc.Client(address(server), grpc.credentials.createInsecure());
    try {
      const call = client.makeBidiStreamRequest<Buffer, Buffer>(
        STREAM_PATH,
        (b) => b,
        (b) => b,
      );
      const acks: boolean[] = [];
      call.on('data', (bytes: Buffer) => acks.push(decodeStreamAck(bytes).accepted));
      const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
      call.on('error', () => {});
      call.write(
        encodeBatch({
          clusterId: CLUSTER,
          from: 1,
          messages: [heartbeat(3, 2), heartbeat(1, 5), heartbeat(1, 2, 42)],
        }),
      );
      await waitFor(() => received.length === 1 && acks.length === 1);
      expect(acks).toEqual([true]);
      expect(received).toEqual([heartbeat(1, 2, 42)]);
      expect(server.stats().droppedMessages).toBe(2);
      call.write(Buffer.from([0x1a, 0x05, 0x08, 0x63]));
      const final = await status;
      expect(final.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(final.details).toMatch(/malformed peer message/);
      expect(logger.text()).toMatch(/peer stream refused/);
    } finally {
      client.close();
    }
    // The server still serves well-behaved peers.
    const { transport } = fixture.transport(1, { 2: address(server) });
    transport.send([heartbeat(1, 2, 43)]);
    await waitFor(() => received.length === 2);
  });

  it('notices when a peer address points at another node', async () => {
    const { server, received } = await fixture.server(2);
    const { transport, unreachable, logger } = fixture.transport(1, { 3: address(server) });
    transport.send([heartbeat(1, 3)]);
    await waitFor(() => unreachable.includes(3), 5_000, 'the mismatch');
    expect(received).toEqual([]);
    expect(transport.peerStats(3)!.lastError).toMatch(/is 2, not 3; check the peer addresses/);
    expect(logger.text()).toMatch(/is 2, not 3/);
  });

  it('keeps handler exceptions inside the server', async () => {
    let calls = 0;
    const { server, logger } = await fixture.server(2, {
      onMessage: () => {
        calls++;
        throw new Error('step failed');
      },
    });
    const { transport } = fixture.transport(1, { 2: address(server) });
    transport.send([heartbeat(1, 2)]);
    await waitFor(() => calls === 1);
    transport.send([heartbeat(1, 2)]);
    await waitFor(() => calls === 2);
    expect(logger.text(['error'])).toMatch(/message handler threw.*step failed/);
  });

  it('drops local kinds, unknown peers and itself without throwing', async () => {
    const { server, received } = await fixture.server(2);
    const { transport } = fixture.transport(1, { 2: address(server), 1: 'ignored:1' });
    expect(transport.hasPeer(1)).toBe(false);
    transport.send([
      { type: 'MsgHup', from: 1, to: 1, term: 0, transfer: false },
      heartbeat(1, 7),
      { ...heartbeat(1, 2), term: -1 } as Message,
      heartbeat(1, 2, 5),
    ]);
    await waitFor(() => received.length === 1);
    expect(received).toEqual([heartbeat(1, 2, 5)]);
    expect(transport.stats()).toMatchObject({ droppedLocal: 1, droppedUnknownPeer: 1 });
    expect(transport.peerStats(2)!.droppedInvalid).toBe(1);
  });

  it('adds, updates and removes peers at run time', async () => {
    const a = await fixture.server(2);
    const b = await fixture.server(2);
    const { transport } = fixture.transport(1, {});
    transport.send([heartbeat(1, 2)]);
    expect(transport.stats().droppedUnknownPeer).toBe(1);
    transport.addPeer(2, `http://${address(a.server)}`);
    transport.send([heartbeat(1, 2, 1)]);
    await waitFor(() => a.received.length === 1, 5_000, 'delivery to the first address');
    transport.updatePeer(2, address(b.server));
    await waitFor(() => transport.peerStats(2)!.state === 'ready');
    transport.send([heartbeat(1, 2, 2)]);
    await waitFor(() => b.received.length === 1, 5_000, 'delivery to the new address');
    expect(b.received).toEqual([heartbeat(1, 2, 2)]);
    transport.removePeer(2);
    expect(transport.hasPeer(2)).toBe(false);
    await waitFor(() => b.server.stats().streams === 0, 5_000, 'the stream to close');
  });

  it('close() releases streams and ignores later sends', async () => {
    const { server } = await fixture.server(2);
    const { transport } = fixture.transport(1, { 2: address(server) });
    await waitFor(() => transport.peerStats(2)?.state === 'ready');
    await waitFor(() => server.stats().streams === 1);
    await transport.close();
    await transport.close();
    transport.send([heartbeat(1, 2)]);
    expect(transport.stats().peers).toEqual([]);
    await waitFor(() => server.stats().streams === 0, 5_000, 'the server to see the close');
  });

  it('validates its options', () => {
    const base = { clusterId: CLUSTER, selfId: 1, peers: new Map<number, string>() };
    expect(() => new GrpcTransport({ ...base, selfId: 0 })).toThrow(RpcConfigError);
    expect(() => new GrpcTransport({ ...base, clusterId: -1n })).toThrow(RpcConfigError);
    expect(() => new GrpcTransport({ ...base, queueLimit: 0 })).toThrow(RpcConfigError);
    expect(() => new GrpcTransport({ ...base, backoff: { baseMs: 0 } })).toThrow(RpcConfigError);
    expect(() => new GrpcTransport({ ...base, backoff: { baseMs: 100, maxMs: 50 } })).toThrow(
      /backoff.maxMs/,
    );
    expect(() => new GrpcTransport({ ...base, maxMessageBytes: 1 << 20 })).toThrow(
      /snapshotChunkBytes/,
    );
    expect(() => new GrpcTransport({ ...base, selfUrl: `http://${'h'.repeat(1100)}:1` })).toThrow(
      /selfUrl must be at most 1024 bytes/,
    );
  });
});

describe('timers on a ManualClock', () => {
  it('abandons an unanswered handshake and redials after exactly the backoff delay', async () => {
    const clock = new ManualClock();
    // A black hole accepts TCP and never answers, so only the clock moves the stream on.
    const blackhole = await fixture.blackholeAddress();
    const { transport, unreachable } = fixture.transport(
      1,
      { 2: blackhole },
      // rpc's default window (50 ms doubling to 2 s); each delay drawn at its ceiling.
      { clock, handshakeTimeoutMs: 1_000, backoff: { random: (bound) => bound - 1 } },
    );
    const stats = () => transport.peerStats(2)!;
    expect(stats().state).toBe('connecting');
    expect(clock.nextDueAt()).toBe(1_000);

    clock.advance(999);
    expect(stats()).toMatchObject({ state: 'connecting', failures: 0 });
    clock.advance(1);
    expect(stats()).toMatchObject({
      state: 'backoff',
      failures: 1,
      lastError: 'no answer within 1000 ms',
    });
    expect(unreachable).toEqual([2]);
    transport.send([heartbeat(1, 2)]);
    expect(stats().droppedUnreachable).toBe(1);

    const retryDelays: number[] = [];
    for (let attempt = 0; attempt < 8; attempt++) {
      retryDelays.push(clock.nextDueAt()! - clock.now());
      clock.advance(retryDelays.at(-1)! - 1);
      expect(stats().state).toBe('backoff');
      clock.advance(1);
      expect(stats().state).toBe('connecting');
      expect(clock.nextDueAt()! - clock.now()).toBe(1_000);
      clock.advance(1_000);
      expect(stats()).toMatchObject({ state: 'backoff', failures: attempt + 2 });
    }
    expect(retryDelays).toEqual([50, 100, 200, 400, 800, 1_600, 2_000, 2_000]);
    expect(unreachable).toHaveLength(9);

    await transport.close();
    expect(clock.pendingCount).toBe(0);
  });

  it('clears the forced-shutdown timeout when the server closes in time', async () => {
    const clock = new ManualClock();
    const { server } = await fixture.server(2, { clock });
    await server.close(1_000);
    expect(clock.pendingCount).toBe(0);
  });
});
