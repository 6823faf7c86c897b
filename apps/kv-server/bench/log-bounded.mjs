#!/usr/bin/env node
// Log-bounded figures (by hand, not a test):
//   node apps/kv-server/bench/log-bounded.mjs [--writes 200000] [--clients 64] [--val-size 64]
//        [--snapshot-count 10000] [--catchup-entries 5000] [--sample-seconds 5]
// Starts 3 members (fsync on, default snapshot policy), writes N puts of small values to
// random keys through the leader with --clients concurrent requests (one in flight each),
// and shows that with snapshots and log compaction the log on disk stays bounded:
//   - every --sample-seconds, each member's data dir is measured, the log (LevelDB, `log/`)
//     and the snapshot files (`snap/`) separately; a table, then the maxima;
//   - put throughput per 1-second window (acknowledged puts), each window marked when a
//     member was taking a snapshot in it, and the mean throughput of those windows
//     against the others. A snapshot's end and index come from the member's
//     "snapshot taken" log line; its start is when the member's applied index (its
//     Maintenance.Status, polled every 200 ms) reached that index, so a marked span can
//     be up to one poll too long, never too short.
// The puts always go to the member that led at the start (marked "leader"); after an
// election it forwards them to the new leader, as a follower does.
// The snapshot files grow with the MVCC history (nothing compacts the keyspace here);
// the log is what must not grow with the number of writes. Always kills everything and
// removes the temp dirs.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { KV_SERVICE, MAINTENANCE_SERVICE } from '@raftkit/rpc/etcd';
import { freePort, initialClusterOf, memberFlags } from './member-flags.mjs';

const { values } = parseArgs({
  options: {
    writes: { type: 'string', default: '200000' },
    clients: { type: 'string', default: '64' },
    conns: { type: 'string', default: '8' },
    'val-size': { type: 'string', default: '64' },
    'key-space-size': { type: 'string', default: '100000' },
    'snapshot-count': { type: 'string', default: '10000' },
    'catchup-entries': { type: 'string', default: '5000' },
    'sample-seconds': { type: 'string', default: '5' },
    // Copies each member's log (JSON lines on stderr) to DIR/<name>.log.
    'keep-logs': { type: 'string' },
  },
});
const WRITES = Number(values.writes);
const CLIENTS = Number(values.clients);
const CONNS = Number(values.conns);
const VAL_SIZE = Number(values['val-size']);
const KEY_SPACE = Number(values['key-space-size']);
const SAMPLE_MS = Number(values['sample-seconds']) * 1000;
const APPLIED_POLL_MS = 200;

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
if (!existsSync(main)) {
  console.error(`${main} is missing: build first (cd apps/kv-server && npx tsc -p tsconfig.json)`);
  process.exit(2);
}
const root = mkdtempSync(join(tmpdir(), 'raftkit-logbench-'));
const dirSize = (dir) => {
  let total = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0; // not created yet, or removed while walking
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    try {
      total += entry.isDirectory() ? dirSize(path) : statSync(path).size;
    } catch {
      // a file LevelDB or the snapshot store removed while we walked
    }
  }
  return total;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes) => (bytes / (1 << 20)).toFixed(1);

// ---- members -----------------------------------------------------------------------------

const members = [];
for (let i = 1; i <= 3; i++)
  members.push({
    name: `m${i}`,
    client: await freePort(),
    peer: await freePort(),
    dir: join(root, `m${i}`),
    snapshots: [], // { index, bytes, end } from "snapshot taken" lines
    becameLeader: [], // times of "became leader" lines
    stalls: [], // { at, ms } from "ticker stalled" lines: the event loop was blocked
    applied: [], // [time, applied index] samples
  });
const initialCluster = initialClusterOf(members);

// The log lines the figures use, and errors (printed as they come).
const NOTABLE = /snapshot taken|became leader|ticker stalled|"level":50/;

function start(member) {
  member.proc = spawn(
    process.execPath,
    [
      main,
      ...memberFlags({
        name: member.name,
        dataDir: member.dir,
        client: member.client,
        peer: member.peer,
        initialCluster,
        token: 'logbench',
      }),
      '--snapshot-count',
      values['snapshot-count'],
      '--experimental-snapshot-catchup-entries',
      values['catchup-entries'],
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  if (values['keep-logs'] !== undefined) {
    mkdirSync(values['keep-logs'], { recursive: true });
    member.proc.stderr.pipe(createWriteStream(join(values['keep-logs'], `${member.name}.log`)));
  }
  let tail = '';
  member.proc.stderr.on('data', (chunk) => {
    const lines = (tail + chunk).split('\n');
    tail = lines.pop();
    for (const line of lines) {
      if (!NOTABLE.test(line)) continue;
      let fields;
      try {
        fields = JSON.parse(line);
      } catch {
        continue; // not a JSON line
      }
      if (fields.msg === 'snapshot taken')
        member.snapshots.push({
          index: fields.index,
          bytes: fields.bytes,
          end: Date.parse(fields.time),
        });
      else if (fields.msg === 'became leader') member.becameLeader.push(Date.parse(fields.time));
      else if (fields.msg === 'ticker stalled; ticks skipped')
        member.stalls.push({ at: Date.parse(fields.time), ms: fields.lateMs });
      else console.error(`[${member.name}] ${line}`);
    }
  });
}

// ---- clients -------------------------------------------------------------------------------

const KvClient = grpc.makeGenericClientConstructor(KV_SERVICE, 'KV');
const MaintenanceClient = grpc.makeGenericClientConstructor(MAINTENANCE_SERVICE, 'Maintenance');
const insecure = grpc.credentials.createInsecure();
const call = (client, method, request, timeoutMs = 10_000) =>
  new Promise((resolve, reject) =>
    client[method](request, { deadline: Date.now() + timeoutMs }, (error, response) =>
      error ? reject(error) : resolve(response),
    ),
  );
for (const m of members) m.maintenance = new MaintenanceClient(`127.0.0.1:${m.client}`, insecure);
const status = (member) => call(member.maintenance, 'status', {}, 1000).catch(() => undefined);

/** appliedIndex is the member's applied index now (Status is live; /metrics lags by 1 s). */
async function appliedIndex(member) {
  const s = await status(member);
  return s === undefined ? undefined : Number(s.raftAppliedIndex);
}

// ---- run -----------------------------------------------------------------------------------

const kvClients = [];
let stopPolling = false;
try {
  members.forEach(start);
  let leader;
  for (let i = 0; i < 300 && !leader; i++) {
    await sleep(100);
    for (const m of members) {
      const s = await status(m);
      if (s && s.leader !== 0n && s.leader === s.header?.memberId) leader = m;
    }
  }
  if (!leader) throw new Error('no leader after 30 s');
  // Let every member publish itself (a few log entries) before measuring.
  await sleep(1000);
  for (let i = 0; i < CONNS; i++) {
    // A distinct option per client gives each its own connection.
    kvClients.push(
      new KvClient(`127.0.0.1:${leader.client}`, insecure, {
        'grpc.use_local_subchannel_pool': 1,
        'raftkit.bench.conn': i,
      }),
    );
  }

  const t0 = Date.now();
  const perWindow = [];
  const samples = [];
  let done = 0;
  let errors = 0;
  let issued = 0;

  const sample = () => {
    samples.push({
      t: (Date.now() - t0) / 1000,
      writes: done,
      members: members.map((m) => ({
        log: dirSize(join(m.dir, 'log')),
        snap: dirSize(join(m.dir, 'snap')),
      })),
    });
  };
  const pollApplied = async () => {
    while (!stopPolling) {
      const tick = Date.now();
      await Promise.all(
        members.map(async (m) => {
          // Stamped with the time the request was sent: the index read is at least that
          // recent, so "below the snapshot's index at t" means the snapshot began after t.
          const sent = Date.now();
          const applied = await appliedIndex(m);
          if (applied !== undefined) m.applied.push([sent, applied]);
        }),
      );
      await sleep(Math.max(0, APPLIED_POLL_MS - (Date.now() - tick)));
    }
  };
  const sampler = setInterval(sample, SAMPLE_MS);
  sample();
  const poller = pollApplied();
  const progress = setInterval(() => {
    const s = (Date.now() - t0) / 1000;
    process.stderr.write(
      `\r${done}/${WRITES} puts, ${s.toFixed(0)} s, ${(done / s).toFixed(0)}/s, ${errors} errors `,
    );
  }, 2000);

  const value = randomBytes(VAL_SIZE);
  const client = async (c) => {
    const kv = kvClients[c % kvClients.length];
    while (issued < WRITES) {
      issued++;
      const key = Buffer.from(
        `key/${String(Math.floor(Math.random() * KEY_SPACE)).padStart(8, '0')}`,
      );
      try {
        await call(kv, 'put', { key, value });
        done++;
        const w = Math.floor((Date.now() - t0) / 1000);
        perWindow[w] = (perWindow[w] ?? 0) + 1;
      } catch {
        errors++;
        issued--; // retried: the figures are for WRITES acknowledged puts
        await sleep(50);
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
  const elapsed = (Date.now() - t0) / 1000;
  clearInterval(progress);
  process.stderr.write('\n');
  // The snapshots started near the end finish in the background: give them time, then
  // a last size sample once LevelDB has settled a little.
  await sleep(3000);
  clearInterval(sampler);
  sample();
  stopPolling = true;
  await poller;

  // ---- data dir sizes ----------------------------------------------------------------------
  const header = [
    't (s)',
    'puts',
    ...members.flatMap((m) => [`${m.name} log MB`, `${m.name} snap MB`]),
  ];
  const rows = samples.map((s) => [
    s.t.toFixed(0),
    String(s.writes),
    ...s.members.flatMap((d) => [mb(d.log), mb(d.snap)]),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  console.log(
    `\nData dir sizes (log = LevelDB log store, snap = snapshot files), every ${SAMPLE_MS / 1000} s:`,
  );
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  const maxOf = (key, i) => Math.max(...samples.map((s) => s.members[i][key]));
  const half = samples.filter((s) => s.writes <= WRITES / 2);
  const maxLogFirstHalf = Math.max(
    ...members.map((_, i) => Math.max(...half.map((s) => s.members[i].log))),
  );
  const secondHalf = samples.filter((s) => s.writes > WRITES / 2);
  const maxLogSecondHalf = Math.max(
    ...members.map((_, i) => Math.max(...secondHalf.map((s) => s.members[i].log))),
  );
  console.log('max:');
  for (const [i, m] of members.entries())
    console.log(
      `  ${m.name}: log ${mb(maxOf('log', i))} MB, snap ${mb(maxOf('snap', i))} MB, final log ${mb(samples.at(-1).members[i].log)} MB, final snap ${mb(samples.at(-1).members[i].snap)} MB`,
    );
  console.log(
    `  largest log of any member: first half of the writes ${mb(maxLogFirstHalf)} MB, second half ${mb(maxLogSecondHalf)} MB`,
  );
  // For scale: what the log would hold without compaction, at the rate it grew before the
  // first snapshot (the last sample taken before any member's first "snapshot taken").
  const firstSnapshotAt = Math.min(...members.map((m) => m.snapshots[0]?.end ?? Infinity));
  const early = samples.filter((s) => t0 + s.t * 1000 < firstSnapshotAt && s.writes > 0).at(-1);
  if (early !== undefined) {
    const perPut = Math.max(...early.members.map((d) => d.log)) / early.writes;
    console.log(
      `  without compaction: the log grew ${perPut.toFixed(0)} B per put before the first snapshot, so ${WRITES} puts would need ~${mb(perPut * WRITES)} MB`,
    );
  }
  console.log(
    '  (snap can briefly hold two files: a new snapshot is written before the old is pruned)',
  );

  // ---- snapshots -------------------------------------------------------------------------------
  const spans = [];
  for (const m of members) {
    for (const snap of m.snapshots) {
      // Start: the last poll that saw the applied index still below the snapshot's index.
      const before = m.applied.filter(([, applied]) => applied < snap.index).at(-1);
      const start = before ? before[0] : snap.end;
      spans.push({
        member: m.name,
        leader: m === leader,
        ...snap,
        start: Math.min(start, snap.end),
      });
    }
  }
  spans.sort((a, b) => a.end - b.end);
  console.log(
    `\nSnapshots taken (${spans.length}; duration = start estimate to "snapshot taken"):`,
  );
  for (const s of spans)
    console.log(
      `  ${s.member}${s.leader ? ' (leader)' : ''}: index ${s.index}, ${mb(s.bytes)} MB, at ${((s.end - t0) / 1000).toFixed(1)} s, ~${s.end - s.start} ms`,
    );

  // ---- throughput --------------------------------------------------------------------------------
  const fullWindows = Math.floor(elapsed); // the last, partial second is left out
  const overlaps = (w, list) =>
    list.some((s) => s.start < t0 + (w + 1) * 1000 && s.end >= t0 + w * 1000);
  const windows = Array.from({ length: fullWindows }, (_, w) => ({
    w,
    puts: perWindow[w] ?? 0,
    snap: overlaps(w, spans),
    leaderSnap: overlaps(
      w,
      spans.filter((s) => s.leader),
    ),
  }));
  const mean = (list) =>
    list.length === 0 ? NaN : list.reduce((a, b) => a + b.puts, 0) / list.length;
  console.log(
    '\nPuts per 1-second window (* = a member was taking a snapshot, L = the leader was):',
  );
  for (let i = 0; i < windows.length; i += 10)
    console.log(
      `  ${String(i).padStart(4)}s: ${windows
        .slice(i, i + 10)
        .map((x) => `${String(x.puts).padStart(5)}${x.leaderSnap ? 'L' : x.snap ? '*' : ' '}`)
        .join(' ')}`,
    );
  const snapWindows = windows.filter((x) => x.snap);
  const otherWindows = windows.filter((x) => !x.snap);
  const leaderWindows = windows.filter((x) => x.leaderSnap);
  const minOf = (list) => (list.length === 0 ? NaN : Math.min(...list.map((x) => x.puts)));
  console.log(
    `\nthroughput: ${(WRITES / elapsed).toFixed(0)} puts/s overall (${WRITES} puts of ${VAL_SIZE} B, ${CLIENTS} clients, ${elapsed.toFixed(1)} s, ${errors} failed and retried)`,
  );
  console.log(
    `  windows with a snapshot being taken: ${snapWindows.length}, mean ${mean(snapWindows).toFixed(0)} puts/s (min ${minOf(snapWindows)})`,
  );
  console.log(
    `    of which the leader's:            ${leaderWindows.length}, mean ${mean(leaderWindows).toFixed(0)} puts/s (min ${minOf(leaderWindows)})`,
  );
  console.log(
    `  other windows:                       ${otherWindows.length}, mean ${mean(otherWindows).toFixed(0)} puts/s (min ${minOf(otherWindows)})`,
  );
  // ---- what a stall looks like from inside the members ---------------------------------------
  // "ticker stalled" is logged when a member's event loop was blocked past a tick: the time
  // it was late. A blocked leader cannot send heartbeats, a blocked follower cannot ack.
  const elections = members.reduce(
    (n, m) => n + m.becameLeader.filter((at) => at >= t0 && at <= t0 + elapsed * 1000).length,
    0,
  );
  console.log(`
leader elections during the load: ${elections}`);
  const stallStats = members.map((m) => {
    const long = m.stalls.filter((x) => x.ms >= 500);
    // A stall ending within (or up to 1 s after) one of the member's own snapshots.
    const inSnapshot = long.filter((x) =>
      spans.some((sp) => sp.member === m.name && x.at >= sp.start && x.at <= sp.end + 1000),
    );
    const longest = Math.max(0, ...m.stalls.map((x) => x.ms));
    console.log(
      `  ${m.name}: event loop blocked >= 500 ms ${long.length} times (${inSnapshot.length} while it was taking a snapshot), longest ${longest.toFixed(0)} ms`,
    );
    return { member: m.name, stallsOver500ms: long.length, inSnapshot: inSnapshot.length, longest };
  });
  console.log(
    JSON.stringify({
      elections,
      stalls: stallStats,
      writes: WRITES,
      seconds: elapsed,
      putsPerSecond: WRITES / elapsed,
      maxLogBytes: Object.fromEntries(members.map((m, i) => [m.name, maxOf('log', i)])),
      maxSnapBytes: Object.fromEntries(members.map((m, i) => [m.name, maxOf('snap', i)])),
      maxLogBytesFirstHalf: maxLogFirstHalf,
      maxLogBytesSecondHalf: maxLogSecondHalf,
      snapshots: spans.length,
      meanPutsPerSecondSnapshotWindows: mean(snapWindows),
      meanPutsPerSecondLeaderSnapshotWindows: mean(leaderWindows),
      meanPutsPerSecondOtherWindows: mean(otherWindows),
    }),
  );
} finally {
  stopPolling = true;
  for (const c of kvClients) c.close();
  for (const m of members) m.maintenance?.close();
  for (const m of members) m.proc?.kill('SIGKILL');
  await sleep(300);
  rmSync(root, { recursive: true, force: true });
}
