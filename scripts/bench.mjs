#!/usr/bin/env node
// `pnpm bench`: raftkit against etcd, side by side, in one run on this machine.
//
//   node scripts/bench.mjs [--duration 10s] [--warmup 1s] [--only raftkit|etcd]
//                          [--rows put-c1,put-c64,…] [--out bench-results] [--quick]
//
// Starts a fresh 3-member raftkit cluster (apps/kv-server/dist/main.js) and, when an
// etcd binary exists, a fresh 3-member etcd cluster: temp data dirs, free loopback
// ports, default durability (both fsync every append). Each row runs
// `raftkitctl bench … --json` (apps/kv-client/dist/cli.js, one fresh process per row)
// against raftkit, then against etcd (the order alternates by row), while a sampler
// reads every member's /proc/<pid>/stat (utime+stime) every 200 ms; server CPU is
// interpolated over the exact measured interval the load generator reports. RSS is
// VmRSS (and VmHWM, the peak) from /proc/<pid>/status after each row. Prints a
// side-by-side table with raftkit/etcd ratios, writes bench-results/<timestamp>.json,
// and always kills every member and removes the temp dirs.
import { execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statfsSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const serverMain = join(root, 'apps/kv-server/dist/main.js');
const cliMain = join(root, 'apps/kv-client/dist/cli.js');
const clientIndex = join(root, 'apps/kv-client/dist/index.js');

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '10s' },
    warmup: { type: 'string', default: '1s' },
    only: { type: 'string' },
    rows: { type: 'string' },
    out: { type: 'string', default: 'bench-results' },
    quick: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  console.log(
    'usage: node scripts/bench.mjs [--duration 10s] [--warmup 1s] [--only raftkit|etcd] [--rows id,id] [--out dir] [--quick]',
  );
  process.exit(0);
}
const duration = flags.quick ? '3s' : flags.duration;
const warmup = flags.quick ? '500ms' : flags.warmup;

function which(name) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}
const etcdBinary = existsSync('/usr/bin/etcd') ? '/usr/bin/etcd' : which('etcd');

for (const file of [serverMain, cliMain, clientIndex]) {
  if (!existsSync(file)) {
    console.error(`bench: ${file} is missing; build first (pnpm build, or pnpm bench)`);
    process.exit(1);
  }
}
// The harness's own KvClient (leader lookups) keeps its connections idle with
// keepalive pings, which etcd answers with "excess pings" GOAWAYs; grpc-js logs those
// as errors. They are harmless here, so its logging is off (set before it loads).
process.env.GRPC_VERBOSITY ??= 'NONE';
const { KvClient } = await import(clientIndex);

// ---- rows -----------------------------------------------------------------------

const PUT = ['--key-size', '8', '--val-size', '256', '--key-space-size', '100000'];
const RANGE = ['--key-size', '8', '--val-size', '256', '--key-space-size', '1000', '--prefill'];
const ALL_ROWS = [
  {
    id: 'put-c1',
    label: 'put 256 B, 1 client → leader',
    workload: 'put',
    clients: 1,
    conns: 1,
    target: 'leader',
    args: PUT,
  },
  {
    id: 'put-c16',
    label: 'put 256 B, 16 clients → leader',
    workload: 'put',
    clients: 16,
    conns: 4,
    target: 'leader',
    args: PUT,
  },
  {
    id: 'put-c64',
    label: 'put 256 B, 64 clients → leader',
    workload: 'put',
    clients: 64,
    conns: 8,
    target: 'leader',
    args: PUT,
  },
  {
    id: 'put-c256',
    label: 'put 256 B, 256 clients → leader',
    workload: 'put',
    clients: 256,
    conns: 8,
    target: 'leader',
    args: PUT,
  },
  {
    id: 'put-c64-all',
    label: 'put 256 B, 64 clients → all members',
    workload: 'put',
    clients: 64,
    conns: 6,
    target: 'all',
    args: PUT,
  },
  {
    id: 'range-l-c64',
    label: 'range linearizable, 64 clients → all',
    workload: 'range',
    clients: 64,
    conns: 6,
    target: 'all',
    args: [...RANGE, '--consistency', 'l'],
  },
  {
    id: 'range-s-c64',
    label: 'range serializable, 64 clients → all',
    workload: 'range',
    clients: 64,
    conns: 6,
    target: 'all',
    args: [...RANGE, '--consistency', 's'],
  },
  {
    id: 'watch-latency',
    label: 'watch latency, 16 watchers, 200 puts/s',
    workload: 'watch-latency',
    clients: 16,
    conns: 1,
    target: 'leader',
    args: ['--watchers', '16', '--rate', '200', '--val-size', '256'],
  },
];
const wanted = flags.rows?.split(',').map((id) => id.trim());
const rows = wanted === undefined ? ALL_ROWS : ALL_ROWS.filter((row) => wanted.includes(row.id));
if (rows.length === 0) {
  console.error(`bench: no rows match --rows (${ALL_ROWS.map((r) => r.id).join(', ')})`);
  process.exit(1);
}

// ---- processes, cleanup -----------------------------------------------------------

const children = new Set();
const tempDirs = new Set();
let cleanedUp = false;

function killAll(signal) {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill(signal);
      } catch {}
    }
  }
}

function removeTempDirs() {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

async function cleanup() {
  if (cleanedUp) return;
  cleanedUp = true;
  clearInterval(sampler);
  killAll('SIGTERM');
  const deadline = Date.now() + 5000;
  while ([...children].some((c) => c.exitCode === null && c.signalCode === null)) {
    if (Date.now() > deadline) {
      killAll('SIGKILL');
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  removeTempDirs();
}

process.on('exit', () => {
  killAll('SIGKILL');
  removeTempDirs();
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    console.error(`\nbench: ${signal}, stopping the clusters`);
    cleanup().finally(() => process.exit(130));
  });
}

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

async function freePorts(count) {
  const ports = new Set();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

// ---- clusters -----------------------------------------------------------------------

async function startCluster(kind) {
  const dir = mkdtempSync(join(tmpdir(), `raftkit-bench-${kind}-`));
  tempDirs.add(dir);
  const ports = await freePorts(6);
  const token = `bench-${kind}-${process.pid}-${Date.now()}`;
  const members = [0, 1, 2].map((i) => ({
    name: `${kind}${i + 1}`,
    client: ports[2 * i],
    peer: ports[2 * i + 1],
  }));
  const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  for (const member of members) {
    const args = [
      '--name',
      member.name,
      '--data-dir',
      join(dir, member.name),
      '--listen-client-urls',
      `http://127.0.0.1:${member.client}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${member.client}`,
      '--listen-peer-urls',
      `http://127.0.0.1:${member.peer}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${member.peer}`,
      '--initial-cluster',
      initialCluster,
      '--initial-cluster-token',
      token,
      '--initial-cluster-state',
      'new',
    ];
    const log = openSync(join(dir, `${member.name}.log`), 'w');
    const child =
      kind === 'raftkit'
        ? spawn(process.execPath, [serverMain, ...args], { stdio: ['ignore', log, log] })
        : spawn(etcdBinary, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    children.add(child);
    member.process = child;
    member.pid = child.pid;
    member.endpoint = `127.0.0.1:${member.client}`;
    member.log = join(dir, `${member.name}.log`);
    child.on('exit', (code, signal) => {
      if (!cleanedUp) {
        console.error(
          `\nbench: ${kind} member ${member.name} exited (${signal ?? code}); log tail:`,
        );
        console.error(tail(member.log));
      }
    });
  }
  const cluster = { kind, dir, members, endpoints: members.map((m) => m.endpoint) };
  await waitHealthy(cluster);
  return cluster;
}

function tail(file, lines = 15) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function alive(cluster) {
  return cluster.members.every((m) => m.process.exitCode === null && m.process.signalCode === null);
}

async function findLeader(cluster) {
  const client = new KvClient({
    endpoints: cluster.endpoints,
    dialTimeoutMs: 1000,
    requestTimeoutMs: 2000,
  });
  try {
    const statuses = await Promise.all(
      cluster.members.map((m) => client.status(m.endpoint).catch(() => undefined)),
    );
    for (const [i, status] of statuses.entries()) {
      if (
        status !== undefined &&
        status.leader !== 0n &&
        status.header?.memberId === status.leader
      ) {
        return cluster.members[i];
      }
    }
    return undefined;
  } finally {
    client.close();
  }
}

async function waitHealthy(cluster) {
  const deadline = Date.now() + 60_000;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (!alive(cluster)) throw new Error(`${cluster.kind}: a member exited during startup`);
    const client = new KvClient({
      endpoints: cluster.endpoints,
      dialTimeoutMs: 1000,
      requestTimeoutMs: 2000,
    });
    try {
      if ((await findLeader(cluster)) !== undefined) {
        await client.put('bench/ready', 'yes');
        return;
      }
      last = 'no leader yet';
    } catch (error) {
      last = error.message;
    } finally {
      client.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  throw new Error(`${cluster.kind} cluster not healthy within 60 s (${last})`);
}

// ---- /proc sampling ---------------------------------------------------------------

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {}

/** cpuMs reads utime+stime of a process in milliseconds. */
function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
  } catch {
    return undefined;
  }
}

function memoryMb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return {
      rssMb: Math.round(kb('VmRSS') / 102.4) / 10,
      peakMb: Math.round(kb('VmHWM') / 102.4) / 10,
    };
  } catch {
    return { rssMb: null, peakMb: null };
  }
}

const samples = new Map(); // pid -> [{ t, ms }]
const clusters = [];
function sample() {
  const t = Date.now();
  for (const cluster of clusters) {
    for (const member of cluster.members) {
      const ms = cpuMs(member.pid);
      if (ms === undefined) continue;
      const list = samples.get(member.pid) ?? [];
      list.push({ t, ms });
      if (list.length > 5000) list.splice(0, list.length - 5000);
      samples.set(member.pid, list);
    }
  }
}
const sampler = setInterval(sample, 200);

/** cpuAt interpolates a process's CPU milliseconds at time t from the samples. */
function cpuAt(pid, t) {
  const list = samples.get(pid) ?? [];
  if (list.length === 0) return 0;
  let before = list[0];
  for (const point of list) {
    if (point.t <= t) before = point;
    else {
      if (point.t === before.t) return point.ms;
      return before.ms + ((point.ms - before.ms) * (t - before.t)) / (point.t - before.t);
    }
  }
  return before.ms;
}

// ---- running one row on one cluster ----------------------------------------------

function runBenchProcess(args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliMain, 'bench', ...args], {
      stdio: ['ignore', 'pipe', process.stderr.isTTY ? 'inherit' : 'pipe'],
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr?.on('data', (chunk) => (stderr += chunk));
    child.on('exit', (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

async function runRow(row, cluster, other) {
  let endpoints = cluster.endpoints;
  if (row.target === 'leader') {
    const leader = await findLeader(cluster);
    if (leader === undefined) return { error: 'no leader before the row' };
    endpoints = [leader.endpoint];
  }
  const args = [
    row.workload,
    '--endpoints',
    endpoints.join(','),
    '--clients',
    String(row.clients),
    '--conns',
    String(row.conns),
    '--duration',
    duration,
    '--json',
    ...(process.stderr.isTTY ? ['--progress'] : ['--no-progress']),
    ...(row.workload === 'watch-latency' ? [] : ['--warmup', warmup]),
    ...row.args,
  ];
  const loadBefore = loadavg()[0];
  sample();
  const outcome = await runBenchProcess(args);
  await new Promise((resolve) => setTimeout(resolve, 250)); // one more sample after the end
  sample();
  const loadAfter = loadavg()[0];
  let result;
  try {
    result = JSON.parse(outcome.stdout);
  } catch {
    return {
      error: `raftkitctl bench exited ${outcome.code}: ${(outcome.stderr || outcome.stdout).trim().slice(0, 300)}`,
      command: `raftkitctl bench ${args.join(' ')}`,
    };
  }
  const window = (pid) => cpuAt(pid, result.endedAt) - cpuAt(pid, result.startedAt);
  const wallMs = Math.max(1, result.endedAt - result.startedAt);
  const perMember = cluster.members.map((m) => Math.round(window(m.pid)));
  const totalMs = perMember.reduce((a, b) => a + b, 0);
  const ops = result.requests + result.errors;
  const memory = cluster.members.map((m) => ({ name: m.name, ...memoryMb(m.pid) }));
  return {
    command: `raftkitctl bench ${args.join(' ')}`,
    leader: row.target === 'leader' ? endpoints[0] : undefined,
    result,
    serverCpu: {
      perMemberMs: perMember,
      totalMs,
      percentOfCore: Math.round((totalMs / wallMs) * 1000) / 10,
      usPerOp: ops > 0 && result.status === 'ok' ? Math.round((totalMs * 1000) / ops) : null,
    },
    otherClusterCpuMs:
      other === undefined
        ? null
        : Math.round(other.members.reduce((sum, m) => sum + window(m.pid), 0)),
    memory,
    loadavg1: { before: loadBefore, after: loadAfter },
  };
}

// ---- machine facts ------------------------------------------------------------------

function fsyncProbe(dir) {
  const file = join(dir, 'fsync-probe');
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(4096, 1);
  const times = [];
  try {
    for (let i = 0; i < 50; i++) {
      const start = process.hrtime.bigint();
      writeSync(fd, block);
      fsyncSync(fd);
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
  times.sort((a, b) => a - b);
  return { p50: round(times[25]), p99: round(times[49]) };
}

function round(value, digits = 3) {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function commandOutput(file, args) {
  try {
    return execFileSync(file, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

const FS_TYPES = {
  61267: 'ext2/3/4',
  16914836: 'tmpfs',
  1481003842: 'xfs',
  2435016766: 'btrfs',
  2035054128: 'overlayfs',
};

// ---- formatting -----------------------------------------------------------------------

const fmt = (value, digits = 0) =>
  value === null || value === undefined || Number.isNaN(value)
    ? '—'
    : value.toLocaleString('en-US', {
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      });
const ms = (value) =>
  value === undefined
    ? '—'
    : value >= 100
      ? value.toFixed(1)
      : value >= 10
        ? value.toFixed(2)
        : value.toFixed(3);
const ratio = (a, b) => (a === undefined || b === undefined || !b ? '—' : `${(a / b).toFixed(2)}×`);

function cell(entry, pick) {
  if (entry === undefined) return undefined;
  if (entry.error !== undefined || entry.result.status !== 'ok') return undefined;
  return pick(entry);
}

function statusText(entry) {
  if (entry === undefined) return 'not run';
  if (entry.error !== undefined) return 'failed';
  if (entry.result.status !== 'ok') return 'unsupported';
  return undefined;
}

function renderTable(header, body) {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => String(r[i]).length)));
  const line = (cells) =>
    `| ${cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...body.map(line)].join('\n');
}

function figuresTable(report) {
  const header = [
    'workload',
    'raftkit ops/s',
    'etcd ops/s',
    'ops ratio',
    'raftkit p50',
    'etcd p50',
    'raftkit p99',
    'etcd p99',
    'p99 ratio',
    'errors r/e',
  ];
  const body = report.rows.map((row) => {
    const r = row.raftkit;
    const e = row.etcd;
    const tput = (x) => cell(x, (y) => y.result.throughput);
    const p50 = (x) => cell(x, (y) => y.result.latencyMs.p50);
    const p99 = (x) => cell(x, (y) => y.result.latencyMs.p99);
    const errs = (x) => (x === undefined || x.error !== undefined ? '—' : fmt(x.result.errors));
    return [
      row.label,
      statusText(r) ?? fmt(tput(r), 0),
      statusText(e) ?? fmt(tput(e), 0),
      ratio(tput(r), tput(e)),
      statusText(r) ?? ms(p50(r)),
      statusText(e) ?? ms(p50(e)),
      statusText(r) ?? ms(p99(r)),
      statusText(e) ?? ms(p99(e)),
      ratio(p99(r), p99(e)),
      `${errs(r)}/${errs(e)}`,
    ];
  });
  return renderTable(header, body);
}

function resourceTable(report) {
  const header = [
    'workload',
    'client CPU r/e',
    'server CPU r/e',
    'server µs/op r/e',
    'max member RSS MB r/e',
  ];
  const body = report.rows.map((row) => {
    const pair = (pick, suffix = '') =>
      [row.raftkit, row.etcd]
        .map((x) => {
          const v = x === undefined || x.error !== undefined ? undefined : pick(x);
          return v === undefined || v === null ? '—' : `${fmt(v, suffix === '%' ? 0 : 0)}${suffix}`;
        })
        .join(' / ');
    return [
      row.label,
      pair((x) => (x.result.status === 'ok' ? x.result.clientCpu.percent : undefined), '%'),
      pair((x) => (x.result.status === 'ok' ? x.serverCpu.percentOfCore : undefined), '%'),
      pair((x) => x.serverCpu.usPerOp),
      pair((x) => Math.max(...x.memory.map((m) => m.rssMb ?? 0))),
    ];
  });
  return renderTable(header, body);
}

// ---- main -----------------------------------------------------------------------------

const startedAt = new Date();
const kinds = ['raftkit', 'etcd'].filter((kind) => flags.only === undefined || flags.only === kind);
if (kinds.includes('etcd') && etcdBinary === undefined) {
  console.log('bench: no etcd binary (apt-get install etcd-server); running raftkit only.');
  kinds.splice(kinds.indexOf('etcd'), 1);
}
const report = {
  startedAt: startedAt.toISOString(),
  settings: { duration, warmup, rows: rows.map((r) => r.id) },
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? null,
    memoryGb: round(totalmem() / 2 ** 30, 1),
    kernel: release(),
    node: process.version,
    etcd: etcdBinary ? (commandOutput(etcdBinary, ['--version'])?.split('\n')[0] ?? null) : null,
    raftkitCommit: commandOutput('git', ['-C', root, 'rev-parse', '--short', 'HEAD']),
    // The working tree may hold uncommitted changes: when the server was last built.
    serverBuiltAt: statSync(join(root, 'apps/kv-server/dist/kv-server.js')).mtime.toISOString(),
    tmpFilesystem: null,
    fsyncMs: null,
    loadavgAtStart: loadavg(),
  },
  rows: [],
};

let exitCode = 0;
try {
  const probeDir = mkdtempSync(join(tmpdir(), 'raftkit-bench-probe-'));
  tempDirs.add(probeDir);
  const fsType = statfsSync(probeDir).type;
  report.machine.tmpFilesystem = FS_TYPES[fsType] ?? `0x${fsType.toString(16)}`;
  report.machine.fsyncMs = fsyncProbe(probeDir);
  if (fsType === 0x01021994) {
    console.log(
      'bench: WARNING: the temp dir is tmpfs, so fsync costs nothing; set TMPDIR to a real disk.',
    );
  }
  console.log(
    `bench: ${report.machine.cpus} CPUs (${report.machine.cpuModel}), node ${process.version}, ${report.machine.etcd ?? 'no etcd'}; ` +
      `temp fs ${report.machine.tmpFilesystem}, 4 KiB write+fsync p50 ${report.machine.fsyncMs.p50} ms; load ${loadavg()[0].toFixed(2)}`,
  );
  for (const kind of kinds) {
    const t = Date.now();
    const cluster = await startCluster(kind);
    clusters.push(cluster);
    console.log(
      `bench: ${kind} cluster up in ${((Date.now() - t) / 1000).toFixed(1)} s (${cluster.endpoints.join(', ')})`,
    );
  }
  for (const [index, row] of rows.entries()) {
    const entry = { id: row.id, label: row.label };
    const order = index % 2 === 0 ? clusters : [...clusters].reverse();
    for (const cluster of order) {
      if (!alive(cluster)) throw new Error(`${cluster.kind}: a member died`);
      const other = clusters.find((c) => c !== cluster);
      const outcome = await runRow(row, cluster, other);
      entry[cluster.kind] = outcome;
      const r = outcome.result;
      const summary =
        outcome.error !== undefined
          ? `FAILED: ${outcome.error}`
          : r.status !== 'ok'
            ? `unsupported (${r.unsupported})`
            : `${fmt(r.throughput)} ops/s, p50 ${ms(r.latencyMs.p50)} ms, p99 ${ms(r.latencyMs.p99)} ms, ${r.errors} errors, server CPU ${outcome.serverCpu.percentOfCore}%`;
      console.log(`  ${row.id.padEnd(14)} ${cluster.kind.padEnd(8)} ${summary}`);
    }
    report.rows.push(entry);
  }
  report.endedAt = new Date().toISOString();
  report.machine.loadavgAtEnd = loadavg();
  console.log('');
  console.log(figuresTable(report));
  console.log('');
  console.log(resourceTable(report));
  console.log('');
  console.log(
    'ratios are raftkit/etcd: ops ratio > 1 and p99 ratio < 1 favour raftkit. CPU is % of one core (server: sum of the 3 members, over the measured interval); RSS after the row.',
  );
  const outDir = resolve(root, flags.out);
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`figures: ${file}`);
  console.log(
    'micro-benchmarks (separately): pnpm --filter @raftkit/core bench · pnpm --filter @raftkit/storage bench · pnpm --filter @raftkit/rpc bench',
  );
} catch (error) {
  console.error(`bench: ${error.message}`);
  for (const cluster of clusters) {
    for (const member of cluster.members)
      console.error(`--- ${member.name} log tail ---\n${tail(member.log)}`);
  }
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);
