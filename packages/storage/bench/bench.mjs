// Benchmark (a command, not a test): synced appends per second and entries per second
// through LevelLogStore.save for batches of 1, 16, 128 and 1024 entries of 128 bytes,
// next to the raw fsync/fdatasync rate of the same disk measured in the same run.
//
//   pnpm --filter @raftkit/storage bench      (builds, then runs this file)
//   RAFTKIT_BENCH_SECONDS=2 RAFTKIT_BENCH_DIR=/some/disk node bench/bench.mjs
//
// Prints a table, then one line of JSON. Each save is one synced LevelDB batch, which is
// one WAL append plus one fdatasync, so the fdatasync rate is the ceiling for small batches.
import {
  closeSync,
  fdatasyncSync,
  fsyncSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelLogStore } from '../dist/index.js';

const seconds = Number(process.env.RAFTKIT_BENCH_SECONDS ?? 2);
const root = mkdtempSync(join(process.env.RAFTKIT_BENCH_DIR ?? tmpdir(), 'raftkit-bench-'));
const ENTRY_BYTES = 128;
const BATCHES = [1, 16, 128, 1024];
const CONF = {
  voters: [1, 2, 3],
  learners: [],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
};

/** rawSyncRate appends 128-byte records to a file, syncing after each, for a while. */
function rawSyncRate(sync) {
  const path = join(root, `raw-${sync.name}`);
  const fd = openSync(path, 'w');
  const record = Buffer.alloc(ENTRY_BYTES, 7);
  let count = 0;
  const started = performance.now();
  const deadline = started + (seconds * 1000) / 2;
  while (performance.now() < deadline) {
    writeSync(fd, record);
    sync(fd);
    count++;
  }
  const elapsed = (performance.now() - started) / 1000;
  closeSync(fd);
  return count / elapsed;
}

async function appendRate(batchSize) {
  const dir = join(root, `store-${batchSize}`);
  const store = await LevelLogStore.open({ dir, initialConfState: CONF });
  const data = new Uint8Array(ENTRY_BYTES).fill(42);
  let next = 1;
  const saveOne = () => {
    const entries = new Array(batchSize);
    for (let i = 0; i < batchSize; i++)
      entries[i] = { index: next + i, term: 1, type: 'normal', data };
    next += batchSize;
    return store.save({ entries, hardState: { term: 1, vote: 1, commit: next - 1 } });
  };
  try {
    for (let i = 0; i < 10; i++) await saveOne(); // warm up LevelDB and the JIT
    const latencies = [];
    const started = performance.now();
    const deadline = started + seconds * 1000;
    while (performance.now() < deadline) {
      const t = performance.now();
      await saveOne();
      latencies.push(performance.now() - t);
      // Keep the in-memory log bounded, as a server compacting behind snapshots would.
      if (store.lastIndex() - store.firstIndex() > 200_000)
        await store.compact(store.lastIndex() - 1000);
    }
    const elapsed = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const appendsPerSec = latencies.length / elapsed;
    return {
      batch: batchSize,
      appendsPerSec: Math.round(appendsPerSec),
      entriesPerSec: Math.round(appendsPerSec * batchSize),
      mbPerSec: Number(((appendsPerSec * batchSize * ENTRY_BYTES) / 1e6).toFixed(2)),
      p50Ms: Number(latencies[Math.floor(latencies.length * 0.5)].toFixed(3)),
      p99Ms: Number(latencies[Math.floor(latencies.length * 0.99)].toFixed(3)),
    };
  } finally {
    await store.close();
  }
}

try {
  const fsyncPerSec = rawSyncRate(fsyncSync);
  const rows = [];
  for (const batch of BATCHES) {
    // The disk's own rate is measured right before each row: on shared or virtual disks it
    // drifts within a run, and the comparison is only fair against a neighbouring figure.
    const fdatasyncPerSec = rawSyncRate(fdatasyncSync);
    const row = await appendRate(batch);
    row.fdatasyncPerSec = Math.round(fdatasyncPerSec);
    row.ofFdatasync = Number((row.appendsPerSec / fdatasyncPerSec).toFixed(2));
    rows.push(row);
  }
  const fdatasyncPerSec = Math.round(
    rows.reduce((sum, row) => sum + row.fdatasyncPerSec, 0) / rows.length,
  );
  const pad = (value, width) => String(value).padStart(width);
  console.log(
    `disk: ${fdatasyncPerSec} fdatasync/s (mean of rows), ${Math.round(fsyncPerSec)} fsync/s; 128 B appends in ${root}`,
  );
  console.log(
    'batch  appends/s   entries/s     MB/s   p50 ms   p99 ms  disk fdatasync/s  appends/fdatasync',
  );
  for (const row of rows) {
    console.log(
      `${pad(row.batch, 5)}  ${pad(row.appendsPerSec, 9)}  ${pad(row.entriesPerSec, 10)}  ${pad(row.mbPerSec, 7)}  ${pad(row.p50Ms, 7)}  ${pad(row.p99Ms, 7)}  ${pad(row.fdatasyncPerSec, 16)}  ${pad(`${Math.round(row.ofFdatasync * 100)}%`, 17)}`,
    );
  }
  console.log(
    JSON.stringify({
      bench: '@raftkit/storage save',
      entryBytes: ENTRY_BYTES,
      seconds,
      node: process.version,
      fdatasyncPerSec,
      fsyncPerSec: Math.round(fsyncPerSec),
      rows,
    }),
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
