import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { KvClient } from '../src/index.js';
import { closedPort } from './fake-server.js';

function binaryWorks(name: string, args: string[]): boolean {
  try {
    return spawnSync(name, args, { stdio: 'ignore', timeout: 10_000 }).status === 0;
  } catch {
    return false;
  }
}

/** hasEtcd is true when an `etcd` binary runs (Debian: `apt-get install etcd-server`). */
export const hasEtcd: boolean = binaryWorks('etcd', ['--version']);

/** hasEtcdctl is true when `etcdctl` runs (Debian: `apt-get install etcd-client`). */
export const hasEtcdctl: boolean = binaryWorks('etcdctl', ['version']);

/** RealEtcd is one single-member server (etcd or raftkit) on loopback, with a temp data dir. */
export interface RealEtcd {
  /** endpoint is the client `host:port`. */
  readonly endpoint: string;
  /** metricsUrl is where the server serves Prometheus text (`http://…/metrics`). */
  readonly metricsUrl: string;
  readonly process: ChildProcess;
  readonly dataDir: string;
  log(): string;
  stop(): Promise<void>;
}

/** RAFTKIT_SERVER is raftkit's built kv-server entry (turbo builds it before these tests). */
export const RAFTKIT_SERVER: string = fileURLToPath(
  new URL('../../kv-server/dist/main.js', import.meta.url),
);

/** hasRaftkit is true when kv-server is built (`apps/kv-server/dist/main.js` exists). */
export const hasRaftkit: boolean = existsSync(RAFTKIT_SERVER);

/** ServerProcess is one spawned server process, its output kept for error messages. */
interface ServerProcess {
  readonly process: ChildProcess;
  log(): string;
  /** stop ends the process (SIGTERM, then SIGKILL after 5 s) and waits for its exit. */
  stop(): Promise<void>;
}

function spawnServer(file: string, args: readonly string[]): ServerProcess {
  const child = spawn(file, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // A spawn that fails (no such binary) emits 'error' and may never emit 'exit'.
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (error) => {
      output += `spawn ${file}: ${error.message}\n`;
      resolve();
    });
  });
  return {
    process: child,
    log: () => output,
    async stop() {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/**
 * waitServing polls Status on `endpoint` until the server answers and knows a leader,
 * failing early if the process exits and after `timeoutMs` at the latest.
 */
async function waitServing(
  what: string,
  endpoint: string,
  server: ServerProcess,
  timeoutMs: number,
): Promise<void> {
  const probe = new KvClient({
    endpoints: [endpoint],
    dialTimeoutMs: 500,
    requestTimeoutMs: 1000,
    retries: 0,
  });
  const exited = () => server.process.exitCode !== null || server.process.signalCode !== null;
  try {
    const until = Date.now() + timeoutMs;
    let last = 'no answer yet';
    for (;;) {
      try {
        const status = await probe.status(endpoint);
        if (status.leader !== 0n) return;
        last = 'no leader yet';
      } catch (error) {
        last = (error as Error).message;
      }
      if (exited() || Date.now() > until) {
        throw new Error(`${what} did not start: ${last}\n${server.log().slice(-2000)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    probe.close();
  }
}

/**
 * startSingle spawns one single-member server with etcd's flags on free loopback ports
 * and a temp data dir, and waits (20 s at most) until it answers with a leader.
 */
async function startSingle(
  what: string,
  file: string,
  leadingArgs: readonly string[],
  extraArgs: (ports: { metrics: number }) => readonly string[],
  metricsUrl: (ports: { client: number; metrics: number }) => string,
): Promise<RealEtcd> {
  const [clientPort, peerPort, metricsPort] = (await freePorts(3)) as [number, number, number];
  const dataDir = mkdtempSync(join(tmpdir(), `raftkit-${what}-`));
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const server = spawnServer(file, [
    ...leadingArgs,
    '--name',
    't',
    '--data-dir',
    join(dataDir, 'data'),
    '--listen-client-urls',
    client,
    '--advertise-client-urls',
    client,
    '--listen-peer-urls',
    peer,
    '--initial-advertise-peer-urls',
    peer,
    '--initial-cluster',
    `t=${peer}`,
    ...extraArgs({ metrics: metricsPort }),
  ]);
  const started: RealEtcd = {
    endpoint: `127.0.0.1:${clientPort}`,
    metricsUrl: metricsUrl({ client: clientPort, metrics: metricsPort }),
    process: server.process,
    dataDir,
    log: server.log,
    async stop() {
      await server.stop();
      if (existsSync(dataDir)) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  try {
    await waitServing(what, started.endpoint, server, 20_000);
  } catch (error) {
    await started.stop();
    throw error;
  }
  return started;
}

/** startEtcd starts a single-member etcd on free ports and waits until it answers. */
export function startEtcd(): Promise<RealEtcd> {
  // etcd serves /metrics on its client URLs too.
  return startSingle(
    'etcd',
    'etcd',
    [],
    () => [],
    ({ client }) => `http://127.0.0.1:${client}/metrics`,
  );
}

/**
 * startRaftkit starts a single-member raftkit kv-server (`node apps/kv-server/dist/main.js`,
 * with etcd's flags and short raft timeouts) on free ports and waits until it answers.
 */
export function startRaftkit(): Promise<RealEtcd> {
  // kv-server serves /metrics only on --listen-metrics-urls.
  return startSingle(
    'raftkit',
    process.execPath,
    [RAFTKIT_SERVER],
    ({ metrics }) => [
      '--heartbeat-interval',
      '50',
      '--election-timeout',
      '500',
      '--listen-metrics-urls',
      `http://127.0.0.1:${metrics}`,
    ],
    ({ metrics }) => `http://127.0.0.1:${metrics}/metrics`,
  );
}

/**
 * useRealServer starts one server (`start`) for the enclosing describe block, with a
 * KvClient on it (both handed to `onStart` before the tests), and stops both after them.
 */
export function useRealServer(
  start: () => Promise<RealEtcd>,
  onStart: (server: RealEtcd, kv: KvClient) => void,
): void {
  let server: RealEtcd | undefined;
  let kv: KvClient | undefined;
  beforeAll(async () => {
    server = await start();
    kv = new KvClient({
      endpoints: [server.endpoint],
      dialTimeoutMs: 2000,
      requestTimeoutMs: 5000,
    });
    onStart(server, kv);
  }, 30_000);
  afterAll(async () => {
    kv?.close();
    await server?.stop();
  });
}

/** useRealEtcd is useRealServer with one single-member etcd. */
export function useRealEtcd(onStart: (etcd: RealEtcd, kv: KvClient) => void): void {
  useRealServer(startEtcd, onStart);
}

/**
 * RealServerKind is one kind of server a shared integration suite runs against, with what
 * legitimately differs between them.
 */
export interface RealServerKind {
  readonly name: 'etcd' | 'raftkit';
  /** skip says why this kind's tests cannot run here, or is undefined when they can. */
  readonly skip: string | undefined;
  readonly start: () => Promise<RealEtcd>;
  /** watchersMetric is the gauge of watchers the server serves (on its metricsUrl). */
  readonly watchersMetric: string;
}

/** REAL_SERVERS are a real etcd 3.4 and raftkit's own kv-server. */
export const REAL_SERVERS: readonly RealServerKind[] = [
  {
    name: 'etcd',
    skip: hasEtcd ? undefined : 'no `etcd` binary',
    start: startEtcd,
    watchersMetric: 'etcd_debugging_mvcc_watcher_total',
  },
  {
    name: 'raftkit',
    skip: hasRaftkit ? undefined : `kv-server is not built (no ${RAFTKIT_SERVER})`,
    start: startRaftkit,
    // Copied from the watch hub once a second (kv-server.ts startMetricsUpdates).
    watchersMetric: 'raftkit_watchers',
  },
];

/** EtcdMember is one member process of a RealEtcdCluster. */
export interface EtcdMember {
  readonly name: string;
  /** endpoint is the client `host:port`. */
  readonly endpoint: string;
  /** peerUrl is the member's peer URL. */
  readonly peerUrl: string;
  readonly process: ChildProcess;
  log(): string;
  /** stop ends the process (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
}

/** RealEtcdCluster is a multi-member etcd on loopback, with one temp data dir. */
export interface RealEtcdCluster {
  readonly members: EtcdMember[];
  readonly dataDir: string;
  /** endpoints are the members' client endpoints, in member order. */
  readonly endpoints: string[];
  /** join starts one more member that was added (`member add`) under `name` and `peerUrl`. */
  join(name: string, peerUrl: string, initialCluster: string): Promise<EtcdMember>;
  log(): string;
  stop(): Promise<void>;
}

/** freePorts returns `count` distinct loopback ports nothing listens on. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await closedPort());
  return [...ports];
}

function spawnMember(
  dataDir: string,
  name: string,
  clientPort: number,
  peerUrl: string,
  initialCluster: string,
  state: 'new' | 'existing',
  token: string,
): EtcdMember {
  const client = `http://127.0.0.1:${clientPort}`;
  const peerPort = new URL(peerUrl).port;
  const server = spawnServer('etcd', [
    '--name',
    name,
    '--data-dir',
    join(dataDir, name),
    '--listen-client-urls',
    client,
    '--advertise-client-urls',
    client,
    '--listen-peer-urls',
    `http://127.0.0.1:${peerPort}`,
    '--initial-advertise-peer-urls',
    peerUrl,
    '--initial-cluster',
    initialCluster,
    '--initial-cluster-state',
    state,
    '--initial-cluster-token',
    token,
  ]);
  return { name, endpoint: `127.0.0.1:${clientPort}`, peerUrl, ...server };
}

/**
 * startEtcdCluster starts `size` etcd members on free loopback ports (one temp data dir)
 * and waits until every member knows a leader.
 */
export async function startEtcdCluster(size: number): Promise<RealEtcdCluster> {
  const dataDir = mkdtempSync(join(tmpdir(), 'raftkit-etcd-cluster-'));
  const ports = await freePorts(2 * size);
  const specs = Array.from({ length: size }, (_, i) => ({
    name: `m${i + 1}`,
    clientPort: ports[2 * i] as number,
    peerUrl: `http://127.0.0.1:${ports[2 * i + 1]}`,
  }));
  const initialCluster = specs.map((spec) => `${spec.name}=${spec.peerUrl}`).join(',');
  const token = `raftkit-kv-client-${ports[0]}`;
  const members = specs.map((spec) =>
    spawnMember(dataDir, spec.name, spec.clientPort, spec.peerUrl, initialCluster, 'new', token),
  );
  const joined: EtcdMember[] = [];
  const cluster: RealEtcdCluster = {
    members,
    dataDir,
    endpoints: members.map((member) => member.endpoint),
    async join(name, peerUrl, initial) {
      const [clientPort] = await freePorts(1);
      const port = clientPort as number;
      const member = spawnMember(dataDir, name, port, peerUrl, initial, 'existing', token);
      joined.push(member);
      await waitServing(`etcd ${member.name}`, member.endpoint, member, 30_000);
      return member;
    },
    log: () =>
      [...members, ...joined].map((m) => `--- ${m.name} ---\n${m.log().slice(-2000)}`).join('\n'),
    async stop() {
      await Promise.all([...members, ...joined].map((member) => member.stop()));
      if (existsSync(dataDir)) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(
      members.map((member) => waitServing(`etcd ${member.name}`, member.endpoint, member, 30_000)),
    );
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

/** ProcessResult is how a command line ended. */
export interface ProcessResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** runProcess runs a program to its end (20 s at most) with ETCDCTL_API=3 and no stdin. */
export function runProcess(file: string, args: readonly string[]): Promise<ProcessResult> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      [...args],
      { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end();
  });
}

/** CliProcess is a long-running CLI command (`watch`, `lease keep-alive`) in a child process. */
export interface CliProcess {
  readonly child: ChildProcess;
  /** stdout is every byte printed so far. */
  stdout(): Buffer;
  stderr(): string;
  /** lines are the non-empty lines printed so far. */
  lines(): string[];
  /** waitForLines waits until `count` whole lines were printed (the process must live). */
  waitForLines(count: number): Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** startCliProcess spawns `file args` with ETCDCTL_API=3 and collects its output. */
export function startCliProcess(file: string, args: readonly string[]): CliProcess {
  const child = spawn(file, [...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const stdout = () => Buffer.concat(out);
  return {
    child,
    stdout,
    stderr: () => err,
    lines: () =>
      stdout()
        .toString()
        .split('\n')
        .filter((line) => line !== ''),
    exited,
    async waitForLines(count) {
      const end = Date.now() + 20_000;
      const printed = () => stdout().toString('latin1').split('\n').length - 1;
      while (printed() < count) {
        if (Date.now() > end || child.exitCode !== null) {
          throw new Error(`${file} printed ${JSON.stringify(stdout().toString())}: ${err}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
}
