// Shared by the hand-run benches in this folder (cpu-profile.mjs, memory-soak.mjs): a
// 3-member kv-server cluster on 127.0.0.1 (temp data dirs, free ports, a unique token),
// /proc sampling of its members, `raftkitctl bench` runs, and cleanup that always
// kills what it started and removes the temp dirs.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, initialClusterOf, memberFlags } from './member-flags.mjs';

export const serverMain = fileURLToPath(new URL('../dist/main.js', import.meta.url));
export const cliMain = fileURLToPath(new URL('../../kv-client/dist/cli.js', import.meta.url));

const children = new Set();
const tempDirs = new Set();

function killAll(signal) {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill(signal);
      } catch {}
    }
  }
}

process.on('exit', () => {
  killAll('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping the cluster`);
    stopAll().finally(() => process.exit(130));
  });
}

/** stopAll sends SIGTERM to every child, SIGKILL after 10 s, and waits for them. */
export async function stopAll() {
  killAll('SIGTERM');
  const deadline = Date.now() + 10_000;
  while ([...children].some((c) => c.exitCode === null && c.signalCode === null)) {
    if (Date.now() > deadline) {
      killAll('SIGKILL');
      break;
    }
    await sleep(50);
  }
  for (const child of children) children.delete(child);
}

/** removeTempDirs removes the data dirs made by startCluster. */
export function removeTempDirs() {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * startCluster starts 3 members of `main` (default: this tree's dist/main.js).
 * `nodeArgs(i)` gives extra node flags for member i (e.g. --cpu-prof), `serverArgs`
 * extra kv-server flags for all, `memberArgs(i)` extra kv-server flags for member i. Resolves once a leader is known and a put went through.
 */
export async function startCluster({
  nodeArgs = () => [],
  serverArgs = [],
  label = 'bench',
  main = serverMain,
  memberArgs = () => [],
} = {}) {
  const dir = mkdtempSync(join(tmpdir(), `raftkit-${label}-`));
  tempDirs.add(dir);
  const ports = new Set();
  while (ports.size < 6) ports.add(await freePort());
  const [p0, p1, p2, p3, p4, p5] = [...ports];
  const token = `${label}-${process.pid}-${Date.now()}`;
  const members = [
    { name: 'm1', client: p0, peer: p1 },
    { name: 'm2', client: p2, peer: p3 },
    { name: 'm3', client: p4, peer: p5 },
  ];
  const initialCluster = initialClusterOf(members);
  members.forEach((member, i) => {
    const args = [
      ...nodeArgs(i),
      main,
      ...memberFlags({
        name: member.name,
        dataDir: join(dir, member.name),
        client: member.client,
        peer: member.peer,
        initialCluster,
        token,
      }),
      ...serverArgs,
      ...memberArgs(i),
    ];
    member.log = join(dir, `${member.name}.log`);
    const log = openSync(member.log, 'w');
    const child = spawn(process.execPath, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    children.add(child);
    member.process = child;
    member.pid = child.pid;
    member.endpoint = `127.0.0.1:${member.client}`;
  });
  const cluster = { dir, members, endpoints: members.map((m) => m.endpoint) };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (members.some((m) => m.process.exitCode !== null || m.process.signalCode !== null)) {
      throw new Error(`a member exited during startup:\n${tail(members[0].log)}`);
    }
    const leader = leaderOf(cluster);
    if (leader !== undefined) {
      try {
        cli(['--endpoints', leader.endpoint, 'put', 'bench/ready', 'yes']);
        return cluster;
      } catch {}
    }
    if (Date.now() > deadline) throw new Error('cluster not healthy within 60 s');
    await sleep(300);
  }
}

/** cli runs raftkitctl synchronously and returns its stdout. */
export function cli(args) {
  return execFileSync(process.execPath, [cliMain, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 10_000,
  });
}

/** leaderOf finds the leader member from `endpoint status -w json`, or undefined. */
export function leaderOf(cluster) {
  for (const member of cluster.members) {
    try {
      const out = cli(['--endpoints', member.endpoint, 'endpoint', 'status', '-w', 'json']);
      const [status] = JSON.parse(out);
      const s = status.Status ?? status.status ?? status;
      const leader = BigInt(s.leader ?? 0);
      const self = BigInt(s.header?.member_id ?? 0);
      if (leader !== 0n && leader === self) return member;
    } catch {}
  }
  return undefined;
}

/** waitLeader retries leaderOf for up to `timeoutMs` (elections take a moment under load). */
export async function waitLeader(cluster, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const leader = leaderOf(cluster);
    if (leader !== undefined || Date.now() > deadline) return leader;
    await sleep(300);
  }
}

export function tail(file, lines = 15) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {}

/** cpuMs reads utime+stime (all threads) of a process in milliseconds. */
export function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
  } catch {
    return undefined;
  }
}

/** memoryMb reads VmRSS and VmHWM of a process. */
export function memoryMb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
  } catch {
    return { rssMb: NaN, hwmMb: NaN };
  }
}

/** runBench runs `raftkitctl bench <args> --json` and resolves with its parsed result. */
export function runBench(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliMain, 'bench', ...args, '--json', '--no-progress'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('exit', (code) => {
      children.delete(child);
      try {
        resolve(JSON.parse(stdout));
      } catch {
        reject(new Error(`raftkitctl bench exited ${code}: ${(stderr || stdout).slice(0, 500)}`));
      }
    });
  });
}

/**
 * CpuSampler reads every member's /proc CPU every 200 ms so the CPU over an exact
 * epoch-ms window can be interpolated (as scripts/bench.mjs does).
 */
export class CpuSampler {
  constructor(pids) {
    this.pids = pids;
    this.samples = new Map(pids.map((pid) => [pid, []]));
    this.timer = setInterval(() => this.sample(), 200);
    this.sample();
  }
  sample() {
    const t = Date.now();
    for (const pid of this.pids) {
      const ms = cpuMs(pid);
      if (ms !== undefined) this.samples.get(pid).push({ t, ms });
    }
  }
  at(pid, t) {
    const list = this.samples.get(pid) ?? [];
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
  window(pid, from, to) {
    return this.at(pid, to) - this.at(pid, from);
  }
  stop() {
    clearInterval(this.timer);
  }
}
