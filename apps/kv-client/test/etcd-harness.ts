import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
