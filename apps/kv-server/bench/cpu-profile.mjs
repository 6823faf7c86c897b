#!/usr/bin/env node
// Server CPU per request, by hand (not a test):
//
//   node apps/kv-server/bench/cpu-profile.mjs [--rows put-c1,put-c64,range-l-c64]
//        [--duration 10s] [--warmup 1s] [--prof-dir DIR] [--no-prof] [--top 25]
//        [--server path/to/main.js,other/main.js] [--repeat N] [--json FILE]
//
// For each row: a fresh 3-member cluster (every member under `node --cpu-prof`, unless
// --no-prof), `raftkitctl bench … --json` against it (put rows at the leader, range
// rows at all members, as scripts/bench.mjs), /proc utime+stime of every member sampled
// every 200 ms and interpolated over the bench's measured interval. Prints ops/s,
// p50/p99, server CPU µs per op (leader and all three), and — from the leader's
// .cpuprofile, restricted to the measured interval — the functions and files with the
// most self time. Profiles are kept in --prof-dir (default: a temp dir, printed).
//
// A/B: with several --server builds (e.g. a copy of the tree before a change), every
// repetition runs each row on each build in turn (alternating which goes first) and
// the summary gives medians per build, since a shared machine makes single runs noisy.
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CpuSampler,
  removeTempDirs,
  runBench,
  serverMain,
  startCluster,
  stopAll,
  waitLeader,
} from './cluster.mjs';
import { summarizeProfile } from './profile-summary.mjs';

const { values: flags } = parseArgs({
  options: {
    rows: { type: 'string', default: 'put-c1,put-c64,range-l-c64' },
    duration: { type: 'string', default: '10s' },
    warmup: { type: 'string', default: '1s' },
    'prof-dir': { type: 'string' },
    'no-prof': { type: 'boolean', default: false },
    top: { type: 'string', default: '25' },
    server: { type: 'string' },
    repeat: { type: 'string', default: '1' },
    json: { type: 'string' },
  },
});

const PUT = ['--key-size', '8', '--val-size', '256', '--key-space-size', '100000'];
const RANGE = ['--key-size', '8', '--val-size', '256', '--key-space-size', '1000', '--prefill'];
const ROWS = {
  'put-c1': { workload: 'put', clients: 1, conns: 1, target: 'leader', args: PUT },
  'put-c64': { workload: 'put', clients: 64, conns: 8, target: 'leader', args: PUT },
  'range-l-c64': {
    workload: 'range',
    clients: 64,
    conns: 6,
    target: 'all',
    args: [...RANGE, '--consistency', 'l'],
  },
  'range-s-c64': {
    workload: 'range',
    clients: 64,
    conns: 6,
    target: 'all',
    args: [...RANGE, '--consistency', 's'],
  },
};

const servers = (flags.server?.split(',') ?? [serverMain]).map((path) => resolve(path));
const repeat = Number(flags.repeat);
const profRoot = flags['prof-dir'] ?? mkdtempSync(join(tmpdir(), 'raftkit-cpuprof-'));
const rowIds = flags.rows.split(',');
for (const id of rowIds) {
  if (ROWS[id] === undefined) {
    console.error(`unknown row ${id} (${Object.keys(ROWS).join(', ')})`);
    process.exit(2);
  }
}

async function runOne(id, main, tag) {
  const row = ROWS[id];
  const profDir = join(profRoot, tag, id);
  mkdirSync(profDir, { recursive: true });
  const cluster = await startCluster({
    label: 'cpuprof',
    main,
    nodeArgs: (i) =>
      flags['no-prof']
        ? []
        : ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-name', `m${i + 1}.cpuprofile`],
  });
  const leader = await waitLeader(cluster);
  if (leader === undefined) throw new Error('no leader');
  const endpoints = row.target === 'leader' ? [leader.endpoint] : cluster.endpoints;
  const sampler = new CpuSampler(cluster.members.map((m) => m.pid));
  // Wall clock (Date.now) to the monotonic clock the profiles use, in µs.
  const monoOffsetUs = Number(process.hrtime.bigint() / 1000n) - Date.now() * 1000;
  const args = [
    row.workload,
    '--endpoints',
    endpoints.join(','),
    '--clients',
    String(row.clients),
    '--conns',
    String(row.conns),
    '--duration',
    flags.duration,
    '--warmup',
    flags.warmup,
    ...row.args,
  ];
  const result = await runBench(args);
  await new Promise((r) => setTimeout(r, 250));
  sampler.sample();
  sampler.stop();
  const ops = result.requests + result.errors;
  const perMember = cluster.members.map((m) =>
    sampler.window(m.pid, result.startedAt, result.endedAt),
  );
  const total = perMember.reduce((a, b) => a + b, 0);
  const leaderIndex = cluster.members.indexOf(leader);
  await stopAll();
  const entry = {
    id,
    server: main,
    tag,
    command: `raftkitctl bench ${args.join(' ')}`,
    opsPerSec: result.throughput,
    p50: result.latencyMs?.p50,
    p99: result.latencyMs?.p99,
    errors: result.errors,
    requests: result.requests,
    leaderUsPerOp: (perMember[leaderIndex] * 1000) / ops,
    totalUsPerOp: (total * 1000) / ops,
    perMemberMs: perMember.map(Math.round),
    leaderIndex,
  };
  console.log(
    `\n== ${tag} ${id}: ${entry.opsPerSec.toFixed(0)} ops/s, p50 ${entry.p50} ms, p99 ${entry.p99} ms, errors ${entry.errors}`,
  );
  console.log(
    `   server CPU: leader ${entry.leaderUsPerOp.toFixed(0)} µs/op, all three ${entry.totalUsPerOp.toFixed(0)} µs/op (per member ms: ${entry.perMemberMs.join(', ')})`,
  );
  if (!flags['no-prof']) {
    const name = `m${leaderIndex + 1}.cpuprofile`;
    if (!readdirSync(profDir).includes(name)) {
      console.log(`   (no profile written for the leader in ${profDir})`);
    } else {
      const file = join(profDir, name);
      const window = {
        fromUs: result.startedAt * 1000 + monoOffsetUs,
        toUs: result.endedAt * 1000 + monoOffsetUs,
      };
      entry.profile = file;
      entry.window = window;
      console.log(`   leader profile: ${file} (window ${window.fromUs}..${window.toUs} µs)`);
      console.log(summarizeProfile(file, { window, ops, top: Number(flags.top) }));
    }
  }
  removeTempDirs();
  return entry;
}

const results = [];
try {
  for (let r = 0; r < repeat; r++) {
    for (const id of rowIds) {
      const order = servers.map((main, i) => ({ main, tag: `s${i}` }));
      if (r % 2 === 1) order.reverse();
      for (const { main, tag } of order) results.push(await runOne(id, main, tag));
    }
  }
} finally {
  await stopAll();
  removeTempDirs();
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
console.log(`\nsummary (median of ${repeat})`);
servers.forEach((main, i) => {
  console.log(`  s${i} = ${main}`);
});
for (const id of rowIds) {
  for (let i = 0; i < servers.length; i++) {
    const runs = results.filter((e) => e.id === id && e.tag === `s${i}`);
    const m = (key) => median(runs.map((e) => e[key]));
    console.log(
      `${id.padEnd(12)} s${i} ${String(Math.round(m('opsPerSec'))).padStart(6)} ops/s  p50 ${m('p50').toFixed(2).padStart(7)} ms  p99 ${m('p99').toFixed(1).padStart(7)} ms  leader ${m('leaderUsPerOp').toFixed(0).padStart(5)} µs/op  all ${m('totalUsPerOp').toFixed(0).padStart(5)} µs/op   [leader µs/op runs: ${runs.map((e) => e.leaderUsPerOp.toFixed(0)).join(' ')}]`,
    );
  }
}
if (flags.json) writeFileSync(flags.json, JSON.stringify(results, null, 2));
console.log(`profiles in ${profRoot}`);
