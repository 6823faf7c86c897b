#!/usr/bin/env node
// Memory per member under sustained writes, by hand (not a test):
//
//   node apps/kv-server/bench/memory-soak.mjs [--minutes 10] [--interval 10]
//        [--auto-compaction-mode revision --auto-compaction-retention 10000]
//        [--clients 64] [--conns 8] [--val-size 256] [--key-space-size 100000]
//        [--json FILE] [--no-prefill] [--logs DIR]
//   node apps/kv-server/bench/memory-soak.mjs --analyze FILE   (a run saved with --json)
//
// A fresh 3-member cluster (build first: apps/kv-server and apps/kv-client) on
// 127.0.0.1 with temp data dirs, under `raftkitctl bench put` at the leader for
// --minutes, every member also serving /metrics. Before the run every key of the key
// space is written once (sequential keys; --no-prefill skips it), so that the live key
// set is complete from the start and only history can grow. Every --interval seconds it samples
// each member's RSS (VmRSS from /proc/<pid>/status) and V8 heap (heap used and the
// heap's size, and external memory — ArrayBuffers — from prom-client's nodejs_* gauges
// on /metrics) and the store's revision (endpoint status), and prints a row.
//
// At the end it prints, per member and third of the run, the floor and the peak of heap
// used and of RSS. Memory is called bounded when every member's heap floor (what
// survives garbage collection: the keys and the history kept) in the last third is at
// most 10 % above that of the first third. RSS peaks are printed beside it: they follow
// transient buffers (a snapshot of the whole store every --snapshot-count entries), so
// they depend on when a sample falls and — with etcd's revision compactor, which acts
// every 5 minutes — on how much history the current cycle has gathered.
//
// Without the --auto-compaction-* flags the members keep every revision (etcd's default,
// retention 0). --logs DIR keeps the members' logs. Always kills what it started and
// removes the temp dirs.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  cli,
  cliMain,
  memoryMb,
  removeTempDirs,
  runBench,
  sleep,
  startCluster,
  stopAll,
  tail,
  waitLeader,
} from './cluster.mjs';

const { values: flags } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    interval: { type: 'string', default: '10' },
    'auto-compaction-mode': { type: 'string' },
    'auto-compaction-retention': { type: 'string' },
    clients: { type: 'string', default: '64' },
    conns: { type: 'string', default: '8' },
    'val-size': { type: 'string', default: '256' },
    'key-space-size': { type: 'string', default: '100000' },
    json: { type: 'string' },
    analyze: { type: 'string' },
    prefill: { type: 'boolean', default: true },
    logs: { type: 'string' },
  },
  allowNegative: true,
});
const minutes = Number(flags.minutes);
const intervalMs = Number(flags.interval) * 1000;
const compaction =
  flags['auto-compaction-retention'] !== undefined
    ? [
        '--auto-compaction-mode',
        flags['auto-compaction-mode'] ?? 'periodic',
        '--auto-compaction-retention',
        flags['auto-compaction-retention'],
      ]
    : [];

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** scrape reads the nodejs_* memory gauges from a member's /metrics. */
async function scrape(port) {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`, {
      signal: AbortSignal.timeout(5000),
    });
    const text = await response.text();
    const gauge = (name) => {
      const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)`, 'm').exec(text);
      return match ? Number(match[1]) / 2 ** 20 : NaN;
    };
    return {
      heapUsedMb: gauge('nodejs_heap_size_used_bytes'),
      heapTotalMb: gauge('nodejs_heap_size_total_bytes'),
      externalMb: gauge('nodejs_external_memory_bytes'),
    };
  } catch {
    return { heapUsedMb: NaN, heapTotalMb: NaN, externalMb: NaN };
  }
}

function revisionOf(endpoint) {
  try {
    const [status] = JSON.parse(cli(['--endpoints', endpoint, 'endpoint', 'status', '-w', 'json']));
    const s = status.Status ?? status.status ?? status;
    return Number(s.header?.revision ?? NaN);
  } catch {
    return NaN;
  }
}

const fmt = (value, width = 7) => (Number.isFinite(value) ? value.toFixed(0) : '-').padStart(width);

if (flags.analyze !== undefined) {
  // Print the figures and verdict of a run saved with --json.
  const saved = JSON.parse(readFileSync(flags.analyze, 'utf8'));
  report(saved.samples, saved.result, Number(saved.flags.minutes));
  process.exit(0);
}

const metricsPorts = [await freePort(), await freePort(), await freePort()];
const samples = [];
let result;
const cluster = await startCluster({
  label: 'soak',
  serverArgs: compaction,
  memberArgs: (i) => ['--listen-metrics-urls', `http://127.0.0.1:${metricsPorts[i]}`],
}).catch(async (error) => {
  console.error(String(error));
  await stopAll();
  removeTempDirs();
  process.exit(1);
});
cluster.members.forEach((m, i) => {
  m.metricsPort = metricsPorts[i];
});

try {
  const leader = await waitLeader(cluster);
  if (leader === undefined) throw new Error('no leader');
  const benchArgs = [
    'put',
    '--endpoints',
    leader.endpoint,
    '--clients',
    flags.clients,
    '--conns',
    flags.conns,
    '--duration',
    `${minutes * 60}s`,
    '--val-size',
    flags['val-size'],
    '--key-space-size',
    flags['key-space-size'],
    '--json',
    '--no-progress',
  ];
  console.log(
    `memory soak: ${minutes} min of raftkitctl bench ${benchArgs.join(' ')}` +
      `\n  members: ${cluster.members.map((m) => `${m.name} pid ${m.pid}${m === leader ? ' (leader)' : ''}`).join(', ')}` +
      `\n  auto compaction: ${compaction.length > 0 ? compaction.join(' ') : 'off (every revision kept)'}`,
  );
  if (flags.prefill) {
    // Write every key once first, so the live key set is whole from the start and what
    // grows during the run is history, not new keys.
    const started = Date.now();
    const prefill = await runBench([
      'put',
      '--endpoints',
      leader.endpoint,
      '--clients',
      flags.clients,
      '--conns',
      flags.conns,
      '--sequential-keys',
      '--total',
      flags['key-space-size'],
      '--val-size',
      flags['val-size'],
      '--key-space-size',
      flags['key-space-size'],
    ]);
    console.log(
      `  prefill: ${prefill.requests} puts of sequential keys in ${((Date.now() - started) / 1000).toFixed(0)} s (${prefill.errors} errors)`,
    );
  }
  const bench = spawn(process.execPath, [cliMain, 'bench', ...benchArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  bench.stdout.on('data', (chunk) => (stdout += chunk));
  bench.stderr.on('data', (chunk) => (stderr += chunk));
  const benchDone = new Promise((resolve) => bench.on('exit', resolve));
  let finished = false;
  benchDone.then(() => (finished = true));

  const header = cluster.members
    .map((m) => `${`${m.name} rss`.padStart(8)} ${'heap'.padStart(6)} ${'ext'.padStart(5)}`)
    .join(' |');
  console.log(`\n${'t (s)'.padStart(6)} ${'revision'.padStart(9)} | ${header}`);
  const started = Date.now();
  while (!finished) {
    const t = (Date.now() - started) / 1000;
    const row = { t, revision: revisionOf(leader.endpoint), members: [] };
    for (const m of cluster.members) {
      row.members.push({ name: m.name, ...memoryMb(m.pid), ...(await scrape(m.metricsPort)) });
    }
    samples.push(row);
    console.log(
      `${fmt(t, 6)} ${fmt(row.revision, 9)} | ${row.members
        .map((m) => `${fmt(m.rssMb, 8)} ${fmt(m.heapUsedMb, 6)} ${fmt(m.externalMb, 5)}`)
        .join(' |')}`,
    );
    const next = started + samples.length * intervalMs;
    while (!finished && Date.now() < next) await sleep(Math.min(500, next - Date.now()));
  }
  await benchDone;
  try {
    result = JSON.parse(stdout);
  } catch {
    throw new Error(`raftkitctl bench failed: ${(stderr || stdout).slice(0, 500)}`);
  }
  for (const m of cluster.members) {
    if (m.process.exitCode !== null || m.process.signalCode !== null) {
      console.log(`member ${m.name} exited:\n${tail(m.log)}`);
    }
  }
} finally {
  if (flags.logs !== undefined) {
    mkdirSync(flags.logs, { recursive: true });
    for (const m of cluster.members) copyFileSync(m.log, join(flags.logs, `${m.name}.log`));
  }
  await stopAll();
  removeTempDirs();
}

// ---- verdict ----------------------------------------------------------------------

if (flags.json) {
  writeFileSync(flags.json, JSON.stringify({ flags, compaction, result, samples }, null, 2));
}
report(samples, result, minutes);

/**
 * report prints the figures and the verdict. Per member and third of the run: the
 * floor (lowest sample) and the peak of heap used, and the peak of RSS. Memory is
 * called bounded when, for every member, the heap floor of the last third is at most
 * 10 % above that of the first third — what survives garbage collection (the live data:
 * the keys and the history kept) stops growing — and RSS peaks are reported beside it:
 * they follow transient buffers (snapshots of the store every --snapshot-count
 * entries), so they depend on when a sample falls, and with etcd's 5-minute revision
 * compactor on how much history one cycle accumulated.
 */
function report(rows, bench, runMinutes) {
  const names = rows[0]?.members.map((m) => m.name) ?? [];
  const pick = (part, i, key) => part.map((r) => r.members[i][key]).filter(Number.isFinite);
  const max = (values) => Math.max(...values);
  const min = (values) => Math.min(...values);
  const total = runMinutes * 60;
  const part = (from, to) => rows.filter((r) => r.t >= from && r.t < to);
  const thirds = [
    part(0, total / 3),
    part(total / 3, (2 * total) / 3),
    part((2 * total) / 3, Infinity),
  ];
  const show = (values) => values.map((v) => v.toFixed(0)).join(' → ');
  console.log(
    `\nput: ${bench.throughput.toFixed(0)} ops/s, p50 ${bench.latencyMs.p50} ms, p99 ${bench.latencyMs.p99} ms, ${bench.requests} ok, ${bench.errors} errors ${JSON.stringify(bench.errorsByCode)}`,
  );
  console.log(`revision at the end: ${rows.at(-1)?.revision}`);
  console.log('by third of the run (MB):');
  const verdicts = names.map((name, i) => {
    const heapFloor = thirds.map((t) => min(pick(t, i, 'heapUsedMb')));
    const heapPeak = thirds.map((t) => max(pick(t, i, 'heapUsedMb')));
    const rssPeak = thirds.map((t) => max(pick(t, i, 'rssMb')));
    const rssFloor = thirds.map((t) => min(pick(t, i, 'rssMb')));
    const bounded = heapFloor[2] <= heapFloor[0] * 1.1;
    console.log(
      `  ${name}: heap used floor ${show(heapFloor)}, peak ${show(heapPeak)}; RSS floor ${show(rssFloor)}, peak ${show(rssPeak)}; highest RSS (VmHWM) ${max(pick(rows, i, 'hwmMb')).toFixed(0)} — ${bounded ? 'bounded' : 'NOT bounded'}`,
    );
    return bounded;
  });
  console.log(
    verdicts.every(Boolean)
      ? 'memory bounded: no member’s heap floor grew more than 10 % from the first third to the last'
      : 'memory NOT bounded: a member’s heap floor grew more than 10 % from the first third to the last',
  );
}
