// Shared helpers of the kv-server end-to-end suites: real server processes on 127.0.0.1,
// gRPC clients of the etcd v3 API, a single-member real etcd, and polling with deadlines.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import type * as pb from '@raftkit/rpc/etcd';
import { CLUSTER_SERVICE, KV_SERVICE, MAINTENANCE_SERVICE } from '@raftkit/rpc/etcd';

/** SERVER_MAIN is the built entry point the suites run (`npx tsc -p tsconfig.json` first). */
export const SERVER_MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

/** ETCD_BIN and ETCDCTL_BIN are Debian's etcd-server and etcd-client binaries. */
export const ETCD_BIN = '/usr/bin/etcd';
export const ETCDCTL_BIN = '/usr/bin/etcdctl';

if (!existsSync(SERVER_MAIN)) {
  throw new Error(
    `${SERVER_MAIN} is missing: build first (cd apps/kv-server && npx tsc -p tsconfig.json)`,
  );
}

// ---- small utilities -----------------------------------------------------------------

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * waitFor polls `probe` until it returns a value other than undefined (errors count as
 * "not yet"), and fails with `what` and the last error once `timeoutMs` has passed.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}` +
          (last !== undefined ? ` (last error: ${String(last)})` : ''),
      );
    }
    await sleep(intervalMs);
  }
}

/** Ports this process has handed out: never handed out twice, even once released. */
const portsGiven = new Set<number>();

/**
 * freePorts finds `count` distinct free TCP ports on 127.0.0.1 by binding port 0 (all
 * held open together, then released), skipping any port this process gave out before.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  const ports: number[] = [];
  try {
    while (ports.length < count) {
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      servers.push(server);
      const address = server.address();
      if (typeof address !== 'object' || address === null) throw new Error('no port');
      if (portsGiven.has(address.port)) continue;
      portsGiven.add(address.port);
      ports.push(address.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

export const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');
export const text = (value: Uint8Array | null | undefined): string =>
  value === null || value === undefined ? '' : Buffer.from(value).toString('utf8');

// ---- gRPC clients of the etcd v3 API --------------------------------------------------

/** RpcError is what a failed call rejects with: the gRPC status code and etcd's message. */
export interface RpcError extends Error {
  readonly code: number;
  readonly details: string;
}

export interface CallOptions {
  readonly timeoutMs?: number;
  readonly metadata?: Record<string, string>;
}

type GenericClient = grpc.Client & Record<string, unknown>;

const KvClientCtor = grpc.makeGenericClientConstructor(KV_SERVICE, 'KV');
const MaintenanceClientCtor = grpc.makeGenericClientConstructor(MAINTENANCE_SERVICE, 'Maintenance');
const ClusterClientCtor = grpc.makeGenericClientConstructor(CLUSTER_SERVICE, 'Cluster');

const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 50,
  'grpc.max_reconnect_backoff_ms': 250,
  'grpc.max_send_message_length': 64 * 1024 * 1024,
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
};

function unary<Req, Res>(
  client: GenericClient,
  method: string,
  request: Req,
  options: CallOptions = {},
): Promise<Res> {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(options.metadata ?? {})) metadata.set(key, value);
  const fn = client[method] as (
    request: Req,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: (error: grpc.ServiceError | null, response?: Res) => void,
  ) => void;
  return new Promise<Res>((resolve, reject) => {
    fn.call(
      client,
      request,
      metadata,
      { deadline: Date.now() + (options.timeoutMs ?? 5000) },
      (error, response) => {
        if (error !== null) reject(error);
        else resolve(response as Res);
      },
    );
  });
}

/** EtcdApi is a typed client of one endpoint's KV, Maintenance and Cluster services. */
export class EtcdApi {
  private readonly kv: GenericClient;
  private readonly maintenance: GenericClient;
  private readonly cluster: GenericClient;

  constructor(readonly address: string) {
    const credentials = grpc.credentials.createInsecure();
    this.kv = new KvClientCtor(address, credentials, CHANNEL_OPTIONS) as GenericClient;
    this.maintenance = new MaintenanceClientCtor(
      address,
      credentials,
      CHANNEL_OPTIONS,
    ) as GenericClient;
    this.cluster = new ClusterClientCtor(address, credentials, CHANNEL_OPTIONS) as GenericClient;
  }

  range(request: pb.RangeRequest, options?: CallOptions): Promise<pb.RangeResponse> {
    return unary(this.kv, 'range', request, options);
  }
  put(request: pb.PutRequest, options?: CallOptions): Promise<pb.PutResponse> {
    return unary(this.kv, 'put', request, options);
  }
  deleteRange(
    request: pb.DeleteRangeRequest,
    options?: CallOptions,
  ): Promise<pb.DeleteRangeResponse> {
    return unary(this.kv, 'deleteRange', request, options);
  }
  txn(request: pb.TxnRequest, options?: CallOptions): Promise<pb.TxnResponse> {
    return unary(this.kv, 'txn', request, options);
  }
  compact(request: pb.CompactionRequest, options?: CallOptions): Promise<pb.CompactionResponse> {
    return unary(this.kv, 'compact', request, options);
  }
  status(options?: CallOptions): Promise<pb.StatusResponse> {
    return unary(this.maintenance, 'status', {}, options);
  }
  memberList(options?: CallOptions): Promise<pb.MemberListResponse> {
    return unary(this.cluster, 'memberList', {}, options);
  }

  close(): void {
    this.kv.close();
    this.maintenance.close();
    this.cluster.close();
  }
}

/** expectRpcError runs `call` and returns the error it must fail with. */
export async function rpcError(call: Promise<unknown>): Promise<RpcError> {
  try {
    await call;
  } catch (error) {
    if (typeof error === 'object' && error !== null && 'code' in error) return error as RpcError;
    throw error;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

// ---- processes ------------------------------------------------------------------------

const LOG_LINES_KEPT = 300;

/** ManagedProcess is one child process with its recent output kept for diagnostics. */
class ManagedProcess {
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(
    readonly child: ChildProcess,
    label: string,
  ) {
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        this.lines.push(`[${label}] ${line}`);
        if (this.lines.length > LOG_LINES_KEPT) this.lines.shift();
      }
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve({ code, signal });
      });
    });
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  async kill(signal: NodeJS.Signals, timeoutMs = 10_000) {
    if (this.running) this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`pid ${this.child.pid} did not exit ${timeoutMs} ms after ${signal}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

// ---- raftkit clusters ----------------------------------------------------------------------

/** Member is one kv-server member: its fixed ports and data dir, and its current process. */
export class Member {
  process: ManagedProcess | undefined;
  api: EtcdApi;
  /** Output of earlier incarnations (before restarts), for diagnostics. */
  readonly history: string[] = [];

  constructor(
    readonly index: number,
    readonly name: string,
    readonly clientPort: number,
    readonly peerPort: number,
    readonly dataDir: string,
    private readonly args: readonly string[],
  ) {
    this.api = new EtcdApi(this.address);
  }

  get address(): string {
    return `127.0.0.1:${this.clientPort}`;
  }
  get clientUrl(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }
  get running(): boolean {
    return this.process?.running ?? false;
  }

  /** start spawns the server process (the same flags and data dir every time). */
  start(): void {
    if (this.running) throw new Error(`${this.name} is already running`);
    if (this.process !== undefined) this.history.push(...this.process.lines.slice(-50));
    const child = spawn(process.execPath, [SERVER_MAIN, ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.process = new ManagedProcess(child, this.name);
    // A fresh channel: the old one may sit in reconnect backoff.
    this.api.close();
    this.api = new EtcdApi(this.address);
  }

  /** kill sends `signal` and waits for the process to exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL') {
    const process = this.process;
    if (process === undefined) return undefined;
    return process.kill(signal);
  }

  /** waitReady waits until the member answers Maintenance.Status. */
  async waitReady(timeoutMs = 15_000): Promise<pb.StatusResponse> {
    return waitFor(
      `${this.name} to answer Status`,
      async () => {
        if (!this.running) {
          throw new Error(`${this.name} exited: ${JSON.stringify(this.process?.exit)}`);
        }
        return this.api.status({ timeoutMs: 1000 });
      },
      timeoutMs,
    );
  }

  logs(): string {
    return [...this.history, ...(this.process?.lines ?? [])].join('\n');
  }
}

export interface ClusterOptions {
  readonly size: number;
  /** Extra server flags, e.g. ['--max-request-bytes', '1024']. */
  readonly extraArgs?: readonly string[];
  readonly token?: string;
}

/** Cluster is N raftkit members started with etcd's flags on free ports and temp dirs. */
export class Cluster {
  private constructor(
    readonly root: string,
    readonly members: Member[],
  ) {}

  static async start(options: ClusterOptions): Promise<Cluster> {
    const root = await mkdtemp(join(tmpdir(), 'raftkit-e2e-'));
    const ports = await freePorts(options.size * 2);
    const names = Array.from({ length: options.size }, (_, i) => `m${i + 1}`);
    const initialCluster = names
      .map((name, i) => `${name}=http://127.0.0.1:${ports[i * 2 + 1]!}`)
      .join(',');
    const members = names.map((name, i) => {
      const clientPort = ports[i * 2]!;
      const peerPort = ports[i * 2 + 1]!;
      const dataDir = join(root, name);
      const args = [
        '--name',
        name,
        '--data-dir',
        dataDir,
        '--listen-client-urls',
        `http://127.0.0.1:${clientPort}`,
        '--advertise-client-urls',
        `http://127.0.0.1:${clientPort}`,
        '--listen-peer-urls',
        `http://127.0.0.1:${peerPort}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${peerPort}`,
        '--initial-cluster',
        initialCluster,
        '--initial-cluster-token',
        options.token ?? `e2e-${process.pid}-${ports[0]!}`,
        '--initial-cluster-state',
        'new',
        '--heartbeat-interval',
        '50',
        '--election-timeout',
        '500',
        ...(options.extraArgs ?? []),
      ];
      return new Member(i, name, clientPort, peerPort, dataDir, args);
    });
    const cluster = new Cluster(root, members);
    try {
      for (const member of members) member.start();
      await cluster.waitForLeader();
    } catch (error) {
      const logs = cluster.logs();
      await cluster.destroy();
      throw new Error(`${String(error)}\n--- member output ---\n${logs}`);
    }
    return cluster;
  }

  get running(): Member[] {
    return this.members.filter((member) => member.running);
  }

  get endpoints(): string[] {
    return this.members.map((member) => member.address);
  }

  /**
   * waitForLeader polls Maintenance.Status on every running member until all of them
   * name the same leader, which is itself running and says it leads.
   */
  async waitForLeader(timeoutMs = 20_000): Promise<Member> {
    return waitFor(
      'every running member to agree on a running leader',
      async () => {
        const running = this.running;
        if (running.length === 0) {
          const exits = this.members.map((m) => `${m.name}: ${JSON.stringify(m.process?.exit)}`);
          throw new Error(`no member is running (${exits.join(', ')})`);
        }
        const statuses = await Promise.all(
          running.map((member) => member.api.status({ timeoutMs: 1000 })),
        );
        const leaderId = statuses[0]!.leader;
        if (leaderId === 0n) return undefined;
        if (statuses.some((status) => status.leader !== leaderId)) return undefined;
        const index = statuses.findIndex((status) => status.header?.memberId === leaderId);
        if (index < 0) return undefined;
        const leader = running[index]!;
        // Maintenance.Status works before the leader's first entry is committed; a
        // linearizable read proves the leader can serve.
        await leader.api.range({ key: bytes('__probe') }, { timeoutMs: 1000 });
        return leader;
      },
      timeoutMs,
      50,
    );
  }

  /** followers are the running members other than `leader`. */
  followersOf(leader: Member): Member[] {
    return this.running.filter((member) => member !== leader);
  }

  /** stopAll sends SIGTERM (or SIGKILL) to every running member and waits for the exits. */
  async stopAll(signal: NodeJS.Signals = 'SIGTERM') {
    return Promise.all(this.running.map((member) => member.kill(signal)));
  }

  /** startAll starts every stopped member and waits for a leader. */
  async startAll(): Promise<Member> {
    for (const member of this.members) if (!member.running) member.start();
    return this.waitForLeader();
  }

  logs(): string {
    return this.members.map((member) => member.logs()).join('\n');
  }

  /** destroy SIGKILLs every member, closes the clients and removes the data dirs. */
  async destroy(): Promise<void> {
    await Promise.allSettled(
      this.members.map(async (member) => {
        member.api.close();
        await member.kill('SIGKILL');
      }),
    );
    await rm(this.root, { recursive: true, force: true });
  }
}

// ---- a real etcd ---------------------------------------------------------------------------

/** EtcdServer is a single-member Debian etcd in a temp dir on free ports. */
export class EtcdServer {
  private constructor(
    readonly root: string,
    readonly process: ManagedProcess,
    readonly api: EtcdApi,
    readonly address: string,
  ) {}

  static async start(extraArgs: readonly string[] = []): Promise<EtcdServer> {
    const root = await mkdtemp(join(tmpdir(), 'raftkit-etcd-'));
    const [clientPort, peerPort] = (await freePorts(2)) as [number, number];
    const child = spawn(
      ETCD_BIN,
      [
        '--name',
        'etcd1',
        '--data-dir',
        join(root, 'etcd1'),
        '--listen-client-urls',
        `http://127.0.0.1:${clientPort}`,
        '--advertise-client-urls',
        `http://127.0.0.1:${clientPort}`,
        '--listen-peer-urls',
        `http://127.0.0.1:${peerPort}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${peerPort}`,
        '--initial-cluster',
        `etcd1=http://127.0.0.1:${peerPort}`,
        '--initial-cluster-token',
        `compat-${process.pid}-${clientPort}`,
        '--heartbeat-interval',
        '50',
        '--election-timeout',
        '500',
        '--log-level',
        'warn',
        ...extraArgs,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const managed = new ManagedProcess(child, 'etcd');
    const address = `127.0.0.1:${clientPort}`;
    const server = new EtcdServer(root, managed, new EtcdApi(address), address);
    try {
      await waitFor(
        'etcd to serve a linearizable read',
        async () => {
          if (!managed.running) throw new Error(`etcd exited: ${JSON.stringify(managed.exit)}`);
          return server.api.range({ key: bytes('__probe') }, { timeoutMs: 1000 });
        },
        20_000,
        50,
      );
    } catch (error) {
      const logs = managed.lines.join('\n');
      await server.destroy();
      throw new Error(`${String(error)}\n--- etcd output ---\n${logs}`);
    }
    return server;
  }

  logs(): string {
    return this.process.lines.join('\n');
  }

  async destroy(): Promise<void> {
    this.api.close();
    await this.process.kill('SIGKILL').catch(() => undefined);
    await rm(this.root, { recursive: true, force: true });
  }
}
