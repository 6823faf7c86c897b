// Benchmark of @raftkit/rpc (a command that prints figures, not a test).
//
//   pnpm --filter @raftkit/rpc bench          (builds, then runs this file)
//   node bench/bench.mjs [--seconds 2]        (against an existing dist/)
//
// 1. Codec: µs per MsgApp (encode + decode) for 1, 10 and 100 entries of 100 B, with the
//    hand-written codec and, for comparison, protobufjs reflection over raft.proto.
// 2. Loopback: node 1 (GrpcTransport + RaftServer) in this process replicates MsgApps
//    to node 2 in a child process, which answers each with a MsgAppResp through its own
//    transport, as a follower would. A window of unanswered messages bounds the queue.
//    Reported: MsgApp/s, entries/s, payload bytes/s and wire bytes/s.
// Ends with one JSON line holding every figure.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import {
  BatchWriter,
  decodeBatch,
  decodeMessage,
  encodeMessage,
  GrpcTransport,
  loadRaftProto,
  RaftServer,
} from '@raftkit/rpc';

const CLUSTER = 0xbe7cn;
const ENTRY_BYTES = 100;
const SIZES = [1, 10, 100];
const argSeconds = process.argv.indexOf('--seconds');
const SECONDS = argSeconds > 0 ? Number(process.argv[argSeconds + 1]) : 2;

function msgApp(index, count) {
  const entries = [];
  for (let i = 0; i < count; i++) {
    entries.push({
      term: 7,
      index: index + i + 1,
      type: 'normal',
      data: new Uint8Array(ENTRY_BYTES).fill(i & 0xff),
    });
  }
  return { type: 'MsgApp', from: 1, to: 2, term: 7, logTerm: 7, index, entries, commit: index };
}

// ---------------------------------------------------------------- follower (child)
async function follower() {
  const leaderAddress = process.argv[3];
  const transport = new GrpcTransport({
    clusterId: CLUSTER,
    selfId: 2,
    peers: new Map([[1, leaderAddress]]),
  });
  const server = await RaftServer.listen('127.0.0.1:0', {
    clusterId: CLUSTER,
    selfId: 2,
    members: [1],
    onMessage: (message) => {
      if (message.type !== 'MsgApp') return;
      transport.send([
        {
          type: 'MsgAppResp',
          from: 2,
          to: 1,
          term: message.term,
          index: message.index + message.entries.length,
          reject: false,
          rejectHint: 0,
          logTerm: 0,
        },
      ]);
    },
  });
  process.send({ port: server.port });
  process.on('message', async (command) => {
    if (command === 'stop') {
      await transport.close();
      await server.close(100);
      process.exit(0);
    }
  });
}

// ---------------------------------------------------------------- codec
function timeIt(fn, minMs = 400) {
  // Warm up, then run batches until minMs elapsed; returns µs per call.
  for (let i = 0; i < 2_000; i++) fn();
  let calls = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < minMs * 1e6) {
    for (let i = 0; i < 500; i++) fn();
    calls += 500;
    elapsed = Number(process.hrtime.bigint() - start);
  }
  return elapsed / calls / 1_000;
}

function codecBench() {
  const root = loadRaftProto();
  const Message = root.lookupType('raftkit.raftpb.Message');
  const rows = [];
  for (const count of SIZES) {
    const message = msgApp(1_000, count);
    const bytes = encodeMessage(message);
    const encodeUs = timeIt(() => encodeMessage(message));
    const decodeUs = timeIt(() => decodeMessage(bytes));
    const roundTripUs = timeIt(() => decodeMessage(encodeMessage(message)));
    // The transport's own path: a reused BatchWriter, then decodeBatch on the far side.
    const writer = new BatchWriter(CLUSTER, 1, 4 << 20);
    const batchUs = timeIt(() => {
      writer.add(message);
      decodeBatch(writer.finish());
    });
    // Reflection: protobufjs's generated encoder/decoder over the same .proto, on its own
    // object shape (no mapping to core's types, so this flatters it slightly).
    const reflectionObject = Message.fromObject({
      ...message,
      type: 2,
      entries: message.entries.map((entry) => ({ ...entry, type: 0 })),
    });
    const reflectionUs = timeIt(() => Message.decode(Message.encode(reflectionObject).finish()));
    rows.push({
      entries: count,
      wireBytes: bytes.byteLength,
      encodeUs,
      decodeUs,
      roundTripUs,
      batchUs,
      reflectionUs,
    });
  }
  return rows;
}

// ---------------------------------------------------------------- loopback
async function loopbackBench(followerPort, acks) {
  const transport = new GrpcTransport({
    clusterId: CLUSTER,
    selfId: 1,
    peers: new Map([[2, `127.0.0.1:${followerPort}`]]),
    queueLimit: 8_192,
  });
  // Connection warm-up.
  transport.send([msgApp(0, 1)]);
  const started = Date.now();
  while (acks.count < 1) {
    if (Date.now() - started > 10_000) throw new Error('follower never answered');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const rows = [];
  for (const count of SIZES) {
    // Keep about 4 MiB of entries, and at most 4096 messages, unanswered.
    const window = Math.min(4_096, Math.max(64, Math.floor((4 << 20) / (count * ENTRY_BYTES))));
    const perTurn = Math.max(1, Math.floor(window / 8));
    const statsBefore = transport.peerStats(2);
    const ackBefore = acks.count;
    let sent = 0;
    let index = 0;
    const start = process.hrtime.bigint();
    const deadline = start + BigInt(SECONDS * 1e9);
    while (process.hrtime.bigint() < deadline) {
      const outstanding = sent - (acks.count - ackBefore);
      if (outstanding < window) {
        const batch = [];
        for (let i = 0; i < Math.min(perTurn, window - outstanding); i++) {
          batch.push(msgApp(index, count));
          index += count;
        }
        transport.send(batch);
        sent += batch.length;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    // Drain what is in flight so the next size starts clean.
    const drainUntil = Date.now() + 5_000;
    while (
      acks.count - ackBefore < sent - transport.peerStats(2).dropped + statsBefore.dropped &&
      Date.now() < drainUntil
    ) {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const statsAfter = transport.peerStats(2);
    const delivered = acks.count - ackBefore;
    rows.push({
      entries: count,
      seconds,
      messagesPerSec: delivered / seconds,
      entriesPerSec: (delivered * count) / seconds,
      payloadBytesPerSec: (delivered * count * ENTRY_BYTES) / seconds,
      wireBytesPerSec: (statsAfter.sentBytes - statsBefore.sentBytes) / seconds,
      writesPerSec: (statsAfter.sentBatches - statsBefore.sentBatches) / seconds,
      dropped: statsAfter.dropped - statsBefore.dropped,
    });
  }
  await transport.close();
  return rows;
}

async function main() {
  if (process.argv[2] === '--follower') return follower();
  const acks = { count: 0 };
  const leaderServer = await RaftServer.listen('127.0.0.1:0', {
    clusterId: CLUSTER,
    selfId: 1,
    members: [2],
    onMessage: (message) => {
      if (message.type === 'MsgAppResp') acks.count++;
    },
  });
  const child = fork(fileURLToPath(import.meta.url), [
    '--follower',
    `127.0.0.1:${leaderServer.port}`,
  ]);
  const [{ port }] = await once(child, 'message');

  const codec = codecBench();
  const loopback = await loopbackBench(port, acks);
  child.send('stop');
  await once(child, 'exit');
  await leaderServer.close(100);

  const fmt = (value, digits = 2) => value.toFixed(digits).padStart(10);
  const mb = (value) => `${(value / 1e6).toFixed(1)} MB/s`.padStart(12);
  console.log(
    `@raftkit/rpc bench — node ${process.version}, ${ENTRY_BYTES} B entries, ${SECONDS} s per size\n`,
  );
  console.log(
    'codec (µs per MsgApp)        entries  wire B   encode   decode  enc+dec  as batch  reflection',
  );
  for (const row of codec) {
    console.log(
      `                              ${String(row.entries).padStart(7)} ${String(row.wireBytes).padStart(7)} ${fmt(row.encodeUs).slice(2)} ${fmt(row.decodeUs).slice(2)} ${fmt(row.roundTripUs).slice(2)} ${fmt(row.batchUs)} ${fmt(row.reflectionUs)}`,
    );
  }
  console.log('\nloopback, 2 processes (MsgApp → follower → MsgAppResp)');
  console.log(
    'entries/msg     MsgApp/s     entries/s      payload         wire   writes/s  dropped',
  );
  for (const row of loopback) {
    console.log(
      `${String(row.entries).padStart(11)} ${row.messagesPerSec.toFixed(0).padStart(12)} ${row.entriesPerSec.toFixed(0).padStart(13)} ${mb(row.payloadBytesPerSec)} ${mb(row.wireBytesPerSec)} ${row.writesPerSec.toFixed(0).padStart(10)} ${String(row.dropped).padStart(8)}`,
    );
  }
  const round = (value) => Math.round(value * 100) / 100;
  console.log(
    JSON.stringify({
      bench: '@raftkit/rpc',
      node: process.version,
      entryBytes: ENTRY_BYTES,
      codecUsPerMsgApp10x100B: round(codec.find((row) => row.entries === 10).roundTripUs),
      codec: codec.map((row) =>
        Object.fromEntries(Object.entries(row).map(([k, v]) => [k, round(v)])),
      ),
      loopback: loopback.map((row) =>
        Object.fromEntries(Object.entries(row).map(([k, v]) => [k, round(v)])),
      ),
    }),
  );
}

await main();
