import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/** RealEtcd is one single-member etcd on loopback, with a temp data dir. */
export interface RealEtcd {
  readonly endpoint: string;
  readonly process: ChildProcess;
  readonly dataDir: string;
  log(): string;
  stop(): Promise<void>;
}

/** startEtcd starts a single-member etcd on free ports and waits until it answers. */
export async function startEtcd(): Promise<RealEtcd> {
  const clientPort = await closedPort();
  let peerPort = await closedPort();
  while (peerPort === clientPort) peerPort = await closedPort();
  const dataDir = mkdtempSync(join(tmpdir(), 'raftkit-etcd-'));
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const child = spawn(
    'etcd',
    [
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
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const etcd: RealEtcd = {
    endpoint: `127.0.0.1:${clientPort}`,
    process: child,
    dataDir,
    log: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      if (existsSync(dataDir)) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  const probe = new KvClient({
    endpoints: [etcd.endpoint],
    dialTimeoutMs: 500,
    requestTimeoutMs: 1000,
    retries: 0,
  });
  try {
    const until = Date.now() + 20_000;
    for (;;) {
      try {
        await probe.status(etcd.endpoint);
        return etcd;
      } catch (error) {
        if (child.exitCode !== null || Date.now() > until) {
          await etcd.stop();
          throw new Error(
            `etcd did not start: ${(error as Error).message}\n${output.slice(-2000)}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } finally {
    probe.close();
  }
}

/** EtcdMember is one member process of a RealEtcdCluster. */
/**
 * useRealEtcd starts one etcd for the enclosing describe block, with a KvClient on it
 * (both handed to `onStart` before the tests), and stops both after them.
 */
export function useRealEtcd(onStart: (etcd: RealEtcd, kv: KvClient) => void): void {
  let etcd: RealEtcd | undefined;
  let kv: KvClient | undefined;
  beforeAll(async () => {
    etcd = await startEtcd();
    kv = new KvClient({ endpoints: [etcd.endpoint], dialTimeoutMs: 2000, requestTimeoutMs: 5000 });
    onStart(etcd, kv);
  }, 30_000);
  afterAll(async () => {
    kv?.close();
    await etcd?.stop();
  });
}

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
  const child = spawn(
    'etcd',
    [
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
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    name,
    endpoint: `127.0.0.1:${clientPort}`,
    peerUrl,
    process: child,
    log: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

async function waitServing(member: EtcdMember, timeoutMs: number): Promise<void> {
  const probe = new KvClient({
    endpoints: [member.endpoint],
    dialTimeoutMs: 500,
    requestTimeoutMs: 1000,
    retries: 0,
  });
  try {
    const until = Date.now() + timeoutMs;
    for (;;) {
      try {
        const status = await probe.status(member.endpoint);
        if (status.leader !== 0n) return;
      } catch (error) {
        if (member.process.exitCode !== null || Date.now() > until) {
          throw new Error(
            `etcd ${member.name} did not start: ${(error as Error).message}\n${member.log().slice(-2000)}`,
          );
        }
      }
      if (Date.now() > until) throw new Error(`etcd ${member.name} found no leader in time`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    probe.close();
  }
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
      await waitServing(member, 30_000);
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
    await Promise.all(members.map((member) => waitServing(member, 30_000)));
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
