#!/usr/bin/env node
// Core throughput benchmark (not a test):
//   pnpm --filter @raftkit/core bench [-- --seconds 2]
// Committed entries per second through a 3-node in-memory cluster: RawNodes over
// MemoryLogStores, a synchronous in-process network (no faults, no disk), 128-byte
// entries, for 1, 16 and 256 proposals per batch. Each node handles its Readys by the
// contract (send, persist, send persisted messages, apply, advance). The leader keeps
// proposing while earlier batches are in flight, so replication is pipelined.
import { parseArgs } from 'node:util';
import { MemoryLogStore, RawNode, seededRandom } from '../dist/index.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: { seconds: { type: 'string', default: '2' } },
});
const seconds = Number(values.seconds);
const ENTRY_BYTES = 128;
const ids = [1, 2, 3];

function createCluster() {
  const nodes = new Map();
  for (const id of ids) {
    const store = new MemoryLogStore({
      voters: ids,
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    });
    const raw = new RawNode(
      {
        id,
        peers: ids,
        electionTicks: 10,
        heartbeatTicks: 1,
        random: seededRandom(id),
        maxSizePerMsg: 4 * 1024 * 1024,
        maxInflightMsgs: 1024,
        maxInflightBytes: 0,
        maxUncommittedEntriesSize: 0,
      },
      store,
    );
    nodes.set(id, { raw, store, applied: 0 });
  }
  return nodes;
}

// One delivery pass: every node handles its Readys, queued messages are delivered.
function pump(nodes, queue) {
  let moved = true;
  while (moved) {
    moved = false;
    for (const node of nodes.values()) {
      while (node.raw.hasReady()) {
        moved = true;
        const ready = node.raw.ready();
        for (const message of ready.messages) queue.push(message);
        node.store.apply({
          hardState: ready.hardState,
          entries: ready.entries,
          snapshot: ready.snapshot,
        });
        for (const message of ready.persistedMessages) queue.push(message);
        node.applied += ready.committedEntries.length;
        node.raw.advance(ready);
      }
    }
    if (queue.length > 0) {
      moved = true;
      const batch = queue.splice(0, queue.length);
      for (const message of batch) nodes.get(message.to).raw.step(message);
    }
  }
}

function run(batchSize) {
  const nodes = createCluster();
  const queue = [];
  nodes.get(1).raw.campaign();
  pump(nodes, queue);
  const leader = nodes.get(1);
  if (leader.raw.raft.role !== 'leader') throw new Error('bench: node 1 did not become leader');
  const payload = new Uint8Array(ENTRY_BYTES).fill(7);
  const batch = Array.from({ length: batchSize }, () => payload);
  const startApplied = leader.applied;
  const started = process.hrtime.bigint();
  const deadline = started + BigInt(Math.round(seconds * 1e9));
  let now = started;
  let rounds = 0;
  while (now < deadline) {
    // Propose several batches before pumping: pipelining, as a busy leader would.
    for (let i = 0; i < 4; i++) leader.raw.proposeBatch(batch);
    pump(nodes, queue);
    if (++rounds % 8 === 0) {
      // Let the stores stay bounded, as a snapshotting application would.
      for (const node of nodes.values()) {
        const compactTo = node.raw.raft.raftLog.applied - 1000;
        if (compactTo > node.store.firstIndex()) node.store.compactSync(compactTo);
      }
    }
    now = process.hrtime.bigint();
  }
  const elapsed = Number(now - started) / 1e9;
  const committed = leader.applied - startApplied;
  const followersBehind = Math.max(...ids.map((id) => leader.applied - nodes.get(id).applied));
  return {
    batchSize,
    entries: committed,
    seconds: elapsed,
    entriesPerSecond: Math.round(committed / elapsed),
    followersBehind,
  };
}

const rows = [1, 16, 256].map(run);
console.log(
  `raftkit core: 3-node in-memory cluster, ${ENTRY_BYTES} B entries, ${seconds}s per row (node ${process.version})`,
);
console.log('batch | committed entries |  entries/s');
for (const row of rows) {
  console.log(
    `${String(row.batchSize).padStart(5)} | ${String(row.entries).padStart(17)} | ${String(row.entriesPerSecond).padStart(10)}`,
  );
}
console.log(
  JSON.stringify({ benchmark: 'core-commit-throughput', entryBytes: ENTRY_BYTES, nodes: 3, rows }),
);
