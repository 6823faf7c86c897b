// Cluster control: start kv-server (or etcd) members as child processes on 127.0.0.1,
// with etcd's flags, and kill / pause / resume / restart them by pid. The cluster model
// follows membership changes: members added during the run join an existing cluster,
// and removed members are left to exit by themselves and never restarted.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTestPki, type TestPki } from '@raftkit/rpc/testing';
import { EtcdEndpoint } from './etcd-client.js';
import type { ProxyTarget } from './network.js';

/** Target is the server under test: raftkit's kv-server or the real etcd binary. */
export type Target = 'raftkit' | 'etcd';

/** KV_SERVER_MAIN is the built kv-server entry point (apps/kv-server/dist/main.js). */
export const KV_SERVER_MAIN = fileURLToPath(
  new URL('../../../apps/kv-server/dist/main.js', import.meta.url),
);

/** ETCD_BINARY is Debian's etcd, overridable with CHAOS_ETCD_BINARY. */
export const ETCD_BINARY = process.env.CHAOS_ETCD_BINARY ?? '/usr/bin/etcd';

/** MemberSpec is one member's name and ports. */
export interface MemberSpec extends ProxyTarget {
  readonly clientPort: number;
}

/** ClusterOptions configures a cluster. */
export interface ClusterOptions {
  readonly target: Target;
  readonly members: readonly MemberSpec[];
  /** logDir receives one `<name>.log` per member (appended across restarts). */
  readonly logDir: string;
  /** env is added to each member's environment (e.g. the planted-bug switch). */
  readonly env?: Readonly<Record<string, string>>;
  readonly heartbeatMs?: number;
  readonly electionMs?: number;
  /**
   * peerTls runs the peer traffic over mutual TLS: https peer URLs, and every member
   * given one certificate of a throwaway CA (`--peer-cert-file`, `--peer-key-file`,
   * `--peer-trusted-ca-file`, `--peer-client-cert-auth`). Default plaintext.
   */
  readonly peerTls?: boolean;
}

/** MemberState is whether a member process is running, paused (SIGSTOP) or down. */
export type MemberState = 'running' | 'paused' | 'down';

/**
 * MemberRole is what the cluster model knows of a member: a `voter` or `learner` of the
 * cluster, or `removed` once its removal was acknowledged or observed (it must exit by
 * itself and is never restarted).
 */
export type MemberRole = 'voter' | 'learner' | 'removed';

/** MemberExit is how one incarnation of a member process ended. */
export interface MemberExit {
  /** at is `Date.now()` at the exit. */
  readonly at: number;
  readonly code: number | null;
  readonly signal: string | null;
  /** byItself is false when the chaos run killed it (SIGKILL). */
  readonly byItself: boolean;
}

/** JoinOptions places a member that joins a running cluster (after MemberAdd). */
export interface JoinOptions {
  readonly role: 'voter' | 'learner';
  /** id is the member id MemberAdd answered with, when known. */
  readonly id?: bigint;
  /**
   * initialCluster is its `--initial-cluster`: the current members and itself, each
   * with its advertised (proxy) peer port.
   */
  readonly initialCluster: readonly { readonly name: string; readonly proxyPort: number }[];
}

interface Member {
  readonly spec: MemberSpec;
  readonly dataDir: string;
  readonly initialCluster: string;
  readonly clusterState: 'new' | 'existing';
  role: MemberRole;
  id: bigint | undefined;
  child: ChildProcess | null;
  state: MemberState;
  readonly exits: MemberExit[];
}

const live = new Set<ChildProcess>();
/** Children the chaos run SIGKILLed (their exit is not their own). */
const killed = new WeakSet<ChildProcess>();
const dataRoots = new Set<string>();
let exitHookInstalled = false;

/**
 * killAllChildren SIGKILLs every member process still alive and removes the data
 * directories of clusters not stopped yet (synchronous; for exit and signal hooks).
 */
export function killAllChildren(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }
  live.clear();
  for (const root of dataRoots) rmSync(root, { recursive: true, force: true });
  dataRoots.clear();
}

/** Cluster runs and controls the member processes of one chaos run. */
export class Cluster {
  private readonly members = new Map<string, Member>();
  private readonly root: string;
  private readonly endpoints = new Map<string, EtcdEndpoint>();
  private readonly pki: TestPki | undefined;

  /** Creates the cluster (no process starts until `start`). */
  constructor(private readonly options: ClusterOptions) {
    this.root = mkdtempSync(join(tmpdir(), 'raftkit-chaos-'));
    dataRoots.add(this.root);
    if (options.peerTls === true) {
      this.pki = makeTestPki(['peer']);
      dataRoots.add(this.pki.dir);
    }
    const initialCluster = this.clusterFlag(options.members);
    for (const spec of options.members) {
      this.members.set(spec.name, {
        spec,
        dataDir: join(this.root, spec.name),
        initialCluster,
        clusterState: 'new',
        role: 'voter',
        id: undefined,
        child: null,
        state: 'down',
        exits: [],
      });
    }
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', killAllChildren);
    }
  }

  /**
   * names lists the members of the cluster (voters and learners) in order: the ones the
   * nemeses, the workload and the final reads use.
   */
  names(): string[] {
    return [...this.members.entries()]
      .filter(([, member]) => member.role === 'voter' || member.role === 'learner')
      .map(([name]) => name);
  }

  /** allNames lists every member the run created, removed ones too. */
  allNames(): string[] {
    return [...this.members.keys()];
  }

  /** spec is a member's name and ports. */
  spec(name: string): MemberSpec {
    return this.member(name).spec;
  }

  /** roleOf is a member's role in the model. */
  roleOf(name: string): MemberRole {
    return this.member(name).role;
  }

  /** setRole records a member's new role (`removed` is final). */
  setRole(name: string, role: MemberRole): void {
    const member = this.member(name);
    if (member.role === 'removed') return;
    member.role = role;
  }

  /** idOf is a member's id, once learned (MemberAdd's answer or a member list). */
  idOf(name: string): bigint | undefined {
    return this.member(name).id;
  }

  /** setId records a member's id. */
  setId(name: string, id: bigint): void {
    this.member(name).id = id;
  }

  /** exitsOf lists how a member's processes ended, oldest first. */
  exitsOf(name: string): readonly MemberExit[] {
    return this.member(name).exits;
  }

  /**
   * addMember adds a member that joins the running cluster (`--initial-cluster-state
   * existing`, fresh data dir); it does not start it. Its proxy is the caller's concern.
   */
  addMember(spec: MemberSpec, join: JoinOptions): void {
    if (this.members.has(spec.name)) throw new Error(`chaos: member ${spec.name} exists`);
    this.members.set(spec.name, {
      spec,
      dataDir: this.dataDir(spec.name),
      initialCluster: this.clusterFlag(join.initialCluster),
      clusterState: 'existing',
      role: join.role,
      id: join.id,
      child: null,
      state: 'down',
      exits: [],
    });
  }

  private dataDir(name: string): string {
    return join(this.root, name);
  }

  /** pids maps each running or paused member process (removed ones too) to its process id. */
  pids(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [name, member] of this.members) {
      if (member.child?.pid !== undefined && member.state !== 'down')
        out.set(name, member.child.pid);
    }
    return out;
  }

  /** stateOf is a member's process state. */
  stateOf(name: string): MemberState {
    return this.member(name).state;
  }

  /** endpoint is a client for a member's client URL (one per member, reused). */
  endpoint(name: string): EtcdEndpoint {
    let endpoint = this.endpoints.get(name);
    if (endpoint === undefined) {
      endpoint = new EtcdEndpoint(name, `127.0.0.1:${this.member(name).spec.clientPort}`);
      this.endpoints.set(name, endpoint);
    }
    return endpoint;
  }

  private member(name: string): Member {
    const member = this.members.get(name);
    if (member === undefined) throw new Error(`chaos: no member named ${name}`);
    return member;
  }

  private args(member: Member): string[] {
    const { spec, initialCluster } = member;
    return [
      '--name',
      spec.name,
      '--data-dir',
      member.dataDir,
      '--listen-client-urls',
      `http://127.0.0.1:${spec.clientPort}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${spec.clientPort}`,
      '--listen-peer-urls',
      `${this.peerScheme}://127.0.0.1:${spec.peerPort}`,
      '--initial-advertise-peer-urls',
      this.peerUrl(spec.proxyPort),
      '--initial-cluster',
      initialCluster,
      '--initial-cluster-token',
      'raftkit-chaos',
      '--initial-cluster-state',
      member.clusterState,
      '--heartbeat-interval',
      String(this.options.heartbeatMs ?? 100),
      '--election-timeout',
      String(this.options.electionMs ?? 1000),
      // Snapshot often, so kills, restarts and partitions also exercise snapshots,
      // compaction and InstallSnapshot (raftkit keeps only a short tail behind them).
      '--snapshot-count',
      '500',
      ...(this.options.target === 'etcd' ? [] : ['--experimental-snapshot-catchup-entries', '100']),
      ...this.peerTlsArgs(),
    ];
  }

  private get peerScheme(): 'http' | 'https' {
    return this.pki === undefined ? 'http' : 'https';
  }

  private peerTlsArgs(): string[] {
    const peer = this.pki?.leaves.peer;
    if (this.pki === undefined || peer === undefined) return [];
    return [
      '--peer-cert-file',
      peer.certFile,
      '--peer-key-file',
      peer.keyFile,
      '--peer-trusted-ca-file',
      this.pki.caFile,
      '--peer-client-cert-auth',
    ];
  }

  /** peerUrl is the peer URL a member advertises: its proxy's (https under peer TLS). */
  peerUrl(proxyPort: number): string {
    return `${this.peerScheme}://127.0.0.1:${proxyPort}`;
  }

  /** clusterFlag renders `--initial-cluster` from names and advertised (proxy) peer ports. */
  private clusterFlag(
    members: readonly { readonly name: string; readonly proxyPort: number }[],
  ): string {
    return members.map((m) => `${m.name}=${this.peerUrl(m.proxyPort)}`).join(',');
  }

  /** startMember starts (or restarts, keeping its data) one member, unless it was removed. */
  startMember(name: string): void {
    const member = this.member(name);
    if (member.state !== 'down' || member.role === 'removed') return;
    const log = openSync(this.logPath(name), 'a');
    const [command, args] =
      this.options.target === 'etcd'
        ? [ETCD_BINARY, this.args(member)]
        : [process.execPath, [KV_SERVER_MAIN, ...this.args(member)]];
    const child = spawn(command, args, {
      stdio: ['ignore', log, log],
      env: { ...process.env, ...this.options.env },
    });
    closeSync(log);
    live.add(child);
    member.child = child;
    member.state = 'running';
    child.on('exit', (code, signal) => {
      live.delete(child);
      member.exits.push({ at: Date.now(), code, signal, byItself: !killed.has(child) });
      if (member.child === child) {
        member.child = null;
        member.state = 'down';
      }
    });
  }

  /** start starts every member. */
  start(): void {
    for (const name of this.members.keys()) this.startMember(name);
  }

  /** kill sends SIGKILL to a member and waits for it to exit. */
  async kill(name: string): Promise<void> {
    const member = this.member(name);
    const child = member.child;
    if (child === null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    killed.add(child);
    child.kill('SIGKILL');
    await exited;
  }

  /** exited resolves once the member's current process exits (at once if it has none). */
  exited(name: string): Promise<void> {
    const child = this.member(name).child;
    if (child === null) return Promise.resolve();
    return new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /**
   * waitForExit resolves true once the member has no process (it exited or was never
   * started), false if it is still there after `timeoutMs`.
   */
  async waitForExit(name: string, timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const exited = await Promise.race([
      this.exited(name).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return exited;
  }

  /** logPath is the file a member's output is appended to. */
  logPath(name: string): string {
    this.member(name);
    return join(this.options.logDir, `${name}.log`);
  }

  /** pause sends SIGSTOP to a running member. */
  pause(name: string): void {
    const member = this.member(name);
    if (member.state !== 'running' || member.child === null) return;
    member.child.kill('SIGSTOP');
    member.state = 'paused';
  }

  /** resume sends SIGCONT to a paused member. */
  resume(name: string): void {
    const member = this.member(name);
    if (member.state !== 'paused' || member.child === null) return;
    member.child.kill('SIGCONT');
    member.state = 'running';
  }

  /**
   * recover resumes paused members (removed ones too, so they can learn of their removal
   * and exit) and restarts the members that are down (not the removed ones).
   */
  recover(): void {
    for (const name of this.members.keys()) {
      this.resume(name);
      this.startMember(name);
    }
  }

  /**
   * leader asks every running member for Maintenance.Status and returns the member that
   * reports itself leader in the highest term, or undefined.
   */
  async leader(timeoutMs = 1000): Promise<string | undefined> {
    const statuses = await Promise.all(
      this.names().map(async (name) => {
        if (this.stateOf(name) !== 'running') return undefined;
        try {
          const status = await this.endpoint(name).status(timeoutMs);
          return { name, status };
        } catch {
          return undefined;
        }
      }),
    );
    let best: { name: string; term: bigint } | undefined;
    for (const entry of statuses) {
      if (entry === undefined) continue;
      const { status } = entry;
      const self = status.header?.memberId;
      if (self === undefined || status.leader !== self) continue;
      if (best === undefined || status.raftTerm > best.term) {
        best = { name: entry.name, term: status.raftTerm };
      }
    }
    return best?.name;
  }

  /** waitForLeader polls `leader` until one is found or `timeoutMs` passes. */
  async waitForLeader(timeoutMs: number): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const leader = await this.leader();
      if (leader !== undefined) return leader;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return undefined;
  }

  /** stop kills every member, closes the clients and removes the data directories. */
  async stop(options: { keepData?: boolean } = {}): Promise<void> {
    for (const endpoint of this.endpoints.values()) endpoint.close();
    this.endpoints.clear();
    await Promise.all(this.allNames().map((name) => this.kill(name)));
    dataRoots.delete(this.root);
    if (options.keepData !== true) rmSync(this.root, { recursive: true, force: true });
    if (this.pki !== undefined) {
      dataRoots.delete(this.pki.dir);
      this.pki.remove();
    }
  }
}
