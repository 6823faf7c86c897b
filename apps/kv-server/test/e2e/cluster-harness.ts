// Shared helpers of the kv-server end-to-end suites: real server processes on 127.0.0.1,
// gRPC clients of the etcd v3 API, a single-member real etcd, and polling with deadlines.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
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

  constructor(
    readonly address: string,
    credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  ) {
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
  hashKV(request: pb.HashKVRequest, options?: CallOptions): Promise<pb.HashKVResponse> {
    return unary(this.maintenance, 'hashKV', request, options);
  }
  memberList(options?: CallOptions): Promise<pb.MemberListResponse> {
    return unary(this.cluster, 'memberList', {}, options);
  }
  memberAdd(request: pb.MemberAddRequest, options?: CallOptions): Promise<pb.MemberAddResponse> {
    return unary(this.cluster, 'memberAdd', request, options);
  }
  memberRemove(
    request: pb.MemberRemoveRequest,
    options?: CallOptions,
  ): Promise<pb.MemberRemoveResponse> {
    return unary(this.cluster, 'memberRemove', request, options);
  }
  memberUpdate(
    request: pb.MemberUpdateRequest,
    options?: CallOptions,
  ): Promise<pb.MemberUpdateResponse> {
    return unary(this.cluster, 'memberUpdate', request, options);
  }
  memberPromote(
    request: pb.MemberPromoteRequest,
    options?: CallOptions,
  ): Promise<pb.MemberPromoteResponse> {
    return unary(this.cluster, 'memberPromote', request, options);
  }
  moveLeader(request: pb.MoveLeaderRequest, options?: CallOptions): Promise<pb.MoveLeaderResponse> {
    return unary(this.maintenance, 'moveLeader', request, options);
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
  private readonly lineListeners = new Set<(line: string) => void>();

  constructor(
    readonly child: ChildProcess,
    label: string,
  ) {
    const keepLine = (line: string) => {
      if (line === '') return;
      this.lines.push(`[${label}] ${line}`);
      if (this.lines.length > LOG_LINES_KEPT) this.lines.shift();
      for (const listener of this.lineListeners) listener(line);
    };
    // A line can arrive split over two chunks: keep the unfinished tail until its end.
    const keep = (stream: NodeJS.ReadableStream | null) => {
      let tail = '';
      stream?.on('data', (chunk: Buffer) => {
        const parts = (tail + chunk.toString('utf8')).split('\n');
        tail = parts.pop() ?? '';
        for (const line of parts) keepLine(line);
      });
      stream?.on('end', () => {
        keepLine(tail);
        tail = '';
      });
    };
    keep(child.stdout);
    keep(child.stderr);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve({ code, signal });
      });
    });
  }

  /** onLine calls `listener` with every later output line (unlabelled); returns an unsubscribe. */
  onLine(listener: (line: string) => void): () => void {
    this.lineListeners.add(listener);
    return () => this.lineListeners.delete(listener);
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

// ---- a peer-traffic proxy ----------------------------------------------------------------

/** HeldConnection is a proxied connection whose forwarding `PeerProxy.holdNext` stopped. */
export interface HeldConnection {
  /** forwarded is how many bytes from the dialer reached the member before the hold. */
  readonly forwarded: number;
  /** resume forwards what was held back and carries on as before. */
  resume(): void;
  /** drop closes both sides, as a dead dialer's connection ends up. */
  drop(): void;
}

interface ProxiedConnection {
  readonly client: Socket;
  readonly upstream: Socket;
  forwarded: number;
  /** Set while held: the dialer's bytes not yet forwarded. */
  pending: Buffer[] | undefined;
  clientEnded: boolean;
}

/**
 * PeerProxy is a TCP relay in front of a member's peer port: the other members dial the
 * proxy (it is the member's advertised peer URL) and it forwards to the port the member
 * listens on. It lets a test stop one connection mid-stream at a byte count it chooses
 * (`holdNext`), e.g. a snapshot transfer halfway through, deterministically.
 */
export class PeerProxy {
  private readonly connections = new Set<ProxiedConnection>();
  private hold: { bytes: number; resolve: (held: HeldConnection) => void } | undefined;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    readonly targetPort: number,
  ) {
    server.on('connection', (client) => this.accept(client));
  }

  /** listen starts relaying 127.0.0.1:`port` to 127.0.0.1:`targetPort`. */
  static async listen(port: number, targetPort: number): Promise<PeerProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return new PeerProxy(server, port, targetPort);
  }

  /**
   * holdNext makes the first connection whose dialer has sent more than `afterBytes`
   * stop there: exactly `afterBytes` reach the member, the rest is held back (and the
   * dialer's writes back up) until the returned connection is resumed or dropped.
   */
  holdNext(afterBytes: number): Promise<HeldConnection> {
    if (this.hold !== undefined) throw new Error('a hold is already armed on this proxy');
    return new Promise((resolve) => {
      this.hold = { bytes: afterBytes, resolve };
    });
  }

  /** connectionCount is how many connections are currently relayed. */
  get connectionCount(): number {
    return this.connections.size;
  }

  async close(): Promise<void> {
    for (const connection of this.connections) {
      connection.client.destroy();
      connection.upstream.destroy();
    }
    this.connections.clear();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private accept(client: Socket): void {
    const upstream = connect({ host: '127.0.0.1', port: this.targetPort });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const connection: ProxiedConnection = {
      client,
      upstream,
      forwarded: 0,
      pending: undefined,
      clientEnded: false,
    };
    this.connections.add(connection);
    const destroy = () => {
      client.destroy();
      upstream.destroy();
      this.connections.delete(connection);
    };
    client.on('error', destroy);
    upstream.on('error', destroy);
    upstream.on('close', destroy);
    // The dialer closed: the member gets what was forwarded, then the end of the stream
    // (unless the connection is held: then resume or drop decides).
    client.on('close', () => {
      if (connection.pending !== undefined || upstream.destroyed) return;
      if (!upstream.writableEnded) upstream.end();
      upstream.setTimeout(5_000, () => upstream.destroy());
    });
    upstream.pipe(client);
    // Nothing is read from the dialer before the member accepted the connection, so
    // every byte counted as forwarded was written to a live connection to the member.
    client.pause();
    upstream.once('connect', () => {
      if (connection.pending === undefined) client.resume();
    });
    client.on('data', (chunk: Buffer) => {
      if (connection.pending !== undefined) {
        connection.pending.push(chunk);
        return;
      }
      const hold = this.hold;
      if (hold !== undefined && connection.forwarded + chunk.byteLength > hold.bytes) {
        const cut = Math.max(0, hold.bytes - connection.forwarded);
        if (cut > 0) upstream.write(chunk.subarray(0, cut));
        connection.forwarded += cut;
        connection.pending = [chunk.subarray(cut)];
        client.pause();
        this.hold = undefined;
        hold.resolve(this.heldHandle(connection));
        return;
      }
      connection.forwarded += chunk.byteLength;
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once('drain', () => {
          if (connection.pending === undefined) client.resume();
        });
      }
    });
    client.on('end', () => {
      connection.clientEnded = true;
      if (connection.pending === undefined && !upstream.writableEnded) upstream.end();
    });
  }

  private heldHandle(connection: ProxiedConnection): HeldConnection {
    return {
      forwarded: connection.forwarded,
      resume: () => {
        const pending = connection.pending;
        if (pending === undefined) return;
        connection.pending = undefined;
        for (const chunk of pending) {
          connection.forwarded += chunk.byteLength;
          connection.upstream.write(chunk);
        }
        if (connection.clientEnded) connection.upstream.end();
        else connection.client.resume();
      },
      drop: () => {
        // The dialer is gone; the member still gets the bytes already forwarded, then
        // the end of the connection (as when a killed process's socket is closed).
        connection.pending = undefined;
        connection.client.destroy();
      },
    };
  }
}

// ---- raftkit clusters ----------------------------------------------------------------------

/**
 * Member is one kv-server member: its fixed ports and data dir, and its current process.
 * `peerPort` is the port it listens on for peers; with a `proxy` the other members reach
 * it through `proxy.port` instead (its advertised peer URL).
 */
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
    readonly proxy?: PeerProxy,
    /** credentials are what `api` dials the client port with (default plaintext). */
    private readonly credentials?: grpc.ChannelCredentials,
  ) {
    this.api = new EtcdApi(this.address, this.credentials);
  }

  /** advertisedPeerPort is the port the other members dial (the proxy's, if any). */
  get advertisedPeerPort(): number {
    return this.proxy?.port ?? this.peerPort;
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
    this.api = new EtcdApi(this.address, this.credentials);
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

  /**
   * waitForLog resolves with the first output line of the current process (unlabelled)
   * that `match` accepts: among the lines already kept when `past` is set, else only
   * among later ones. Rejects after `timeoutMs` or if the process exits first.
   */
  async waitForLog(
    match: RegExp | ((line: string) => boolean),
    options: { readonly timeoutMs?: number; readonly past?: boolean } = {},
  ): Promise<string> {
    const process = this.process;
    if (process === undefined) throw new Error(`${this.name} was never started`);
    const accepts = typeof match === 'function' ? match : (line: string) => match.test(line);
    if (options.past === true) {
      const prefix = `[${this.name}] `;
      for (const labelled of process.lines) {
        const line = labelled.startsWith(prefix) ? labelled.slice(prefix.length) : labelled;
        if (accepts(line)) return line;
      }
    }
    const timeoutMs = options.timeoutMs ?? 10_000;
    let unsubscribe = () => {};
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<string>((resolve, reject) => {
        unsubscribe = process.onLine((line) => {
          if (accepts(line)) resolve(line);
        });
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `${this.name}: no log line matching ${String(match)} within ${timeoutMs} ms`,
              ),
            ),
          timeoutMs,
        );
        process.exited.then((exit) =>
          reject(
            new Error(
              `${this.name} exited (${JSON.stringify(exit)}) before logging ${String(match)}`,
            ),
          ),
        );
      });
    } finally {
      unsubscribe();
      clearTimeout(timer);
    }
  }

  logs(): string {
    return [...this.history, ...(this.process?.lines ?? [])].join('\n');
  }
}

/** logFields parses one of the server's JSON log lines (pino); undefined if it is not one. */
export function logFields(line: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(line);
    return typeof parsed === 'object' && parsed !== null
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

export interface ClusterOptions {
  readonly size: number;
  /** Extra server flags, e.g. ['--max-request-bytes', '1024']. */
  readonly extraArgs?: readonly string[];
  readonly token?: string;
  /**
   * peerProxy puts a PeerProxy in front of every member's peer port (the members
   * advertise the proxy), so a test can hold peer connections mid-stream. Default off.
   */
  readonly peerProxy?: boolean;
  /**
   * peerTls makes the peer URLs https and gives every member these `--peer-*` TLS files
   * (one certificate for all, valid for 127.0.0.1). Default plaintext.
   */
  readonly peerTls?: {
    readonly certFile: string;
    readonly keyFile: string;
    readonly trustedCaFile: string;
    readonly clientCertAuth: boolean;
  };
}

/** Cluster is N raftkit members started with etcd's flags on free ports and temp dirs. */
export class Cluster {
  private constructor(
    readonly root: string,
    readonly members: Member[],
    /** peerScheme is 'https' when the cluster runs with peer TLS, else 'http'. */
    readonly peerScheme: 'http' | 'https',
    private readonly memberArgs: (
      name: string,
      clientPort: number,
      peerPort: number,
      initialCluster: string,
      state: 'new' | 'existing',
    ) => string[],
  ) {}

  /**
   * joiner prepares (does not start) a new member that joins with
   * `--initial-cluster-state existing`: its `--initial-cluster` lists the current
   * running members and itself. Add it with MemberAdd (its `peerUrl`) before starting it.
   */
  async joiner(name: string): Promise<{ member: Member; peerUrl: string }> {
    const [clientPort, peerPort] = await freePorts(2);
    const peerUrl = `${this.peerScheme}://127.0.0.1:${peerPort!}`;
    const initialCluster = [
      ...this.running.map(
        (member) => `${member.name}=${this.peerScheme}://127.0.0.1:${member.advertisedPeerPort}`,
      ),
      `${name}=${peerUrl}`,
    ].join(',');
    const member = new Member(
      this.members.length,
      name,
      clientPort!,
      peerPort!,
      join(this.root, name),
      this.memberArgs(name, clientPort!, peerPort!, initialCluster, 'existing'),
    );
    this.members.push(member);
    return { member, peerUrl };
  }

  static async start(options: ClusterOptions): Promise<Cluster> {
    const root = await mkdtemp(join(tmpdir(), 'raftkit-e2e-'));
    const perMember = options.peerProxy === true ? 3 : 2;
    const ports = await freePorts(options.size * perMember);
    const names = Array.from({ length: options.size }, (_, i) => `m${i + 1}`);
    // With a proxy, the third port of each member is the proxy's: the advertised one.
    const advertisedPort = (i: number) => ports[i * perMember + perMember - 1]!;
    const peerScheme = options.peerTls === undefined ? 'http' : 'https';
    const peerTlsArgs =
      options.peerTls === undefined
        ? []
        : [
            '--peer-cert-file',
            options.peerTls.certFile,
            '--peer-key-file',
            options.peerTls.keyFile,
            '--peer-trusted-ca-file',
            options.peerTls.trustedCaFile,
            ...(options.peerTls.clientCertAuth ? ['--peer-client-cert-auth'] : []),
          ];
    const initialCluster = names
      .map((name, i) => `${name}=${peerScheme}://127.0.0.1:${advertisedPort(i)}`)
      .join(',');
    const proxies: (PeerProxy | undefined)[] = [];
    try {
      for (let i = 0; i < options.size; i++) {
        proxies.push(
          options.peerProxy === true
            ? await PeerProxy.listen(advertisedPort(i), ports[i * perMember + 1]!)
            : undefined,
        );
      }
    } catch (error) {
      await Promise.all(proxies.map((proxy) => proxy?.close()));
      await rm(root, { recursive: true, force: true });
      throw error;
    }
    const token = options.token ?? `e2e-${process.pid}-${ports[0]!}`;
    const memberArgs = (
      name: string,
      clientPort: number,
      peerPort: number,
      cluster: string,
      state: 'new' | 'existing',
      advertisedPeerPort = peerPort,
    ) => [
      '--name',
      name,
      '--data-dir',
      join(root, name),
      '--listen-client-urls',
      `http://127.0.0.1:${clientPort}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${clientPort}`,
      '--listen-peer-urls',
      `${peerScheme}://127.0.0.1:${peerPort}`,
      '--initial-advertise-peer-urls',
      `${peerScheme}://127.0.0.1:${advertisedPeerPort}`,
      '--initial-cluster',
      cluster,
      '--initial-cluster-token',
      token,
      '--initial-cluster-state',
      state,
      '--heartbeat-interval',
      '50',
      '--election-timeout',
      '500',
      ...peerTlsArgs,
      ...(options.extraArgs ?? []),
    ];
    const members = names.map((name, i) => {
      const clientPort = ports[i * perMember]!;
      const peerPort = ports[i * perMember + 1]!;
      const dataDir = join(root, name);
      const args = memberArgs(name, clientPort, peerPort, initialCluster, 'new', advertisedPort(i));
      return new Member(i, name, clientPort, peerPort, dataDir, args, proxies[i]);
    });
    const cluster = new Cluster(root, members, peerScheme, memberArgs);
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
        await member.proxy?.close();
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
