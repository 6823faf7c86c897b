import type { ConfChange } from '../conf-change.js';
import { decodeConfChange } from '../conf-change.js';
import { RaftError } from '../errors.js';
import type { LogStore } from '../log-store.js';
import { MemoryLogStore } from '../memory-log-store.js';
import type { Message } from '../message.js';
import type { Logger, RandomSource } from '../ports.js';
import { SILENT_LOGGER } from '../ports.js';
import type { Raft } from '../raft.js';
import type { RaftConfig } from '../raft-config.js';
import { seededRandom } from '../random.js';
import { RawNode } from '../raw-node.js';
import type { Ready } from '../ready.js';
import type { TrackerConfig } from '../tracker.js';
import { configFromConfState, confStateFromConfig } from '../tracker.js';
import type { ConfState, Entry, NodeId } from '../types.js';
import { EMPTY_DATA } from '../types.js';
import { disjointQuorums } from './membership.js';
import type { SafetyViolation } from './safety-checker.js';
import { chainHash, entryDigest, SafetyChecker } from './safety-checker.js';
import type { NetworkFaults } from './simulated-network.js';
import { RELIABLE_NETWORK, SimulatedNetwork } from './simulated-network.js';

/** SimClusterOptions configures a simulated cluster. */
export interface SimClusterOptions {
  /** Number of nodes in the initial configuration (voters 1..nodes). */
  readonly nodes: number;
  /**
   * spare is the number of spare nodes (ids nodes+1..nodes+spare) that run from the start but are not members:
   * they start from the group's bootstrap membership, cannot campaign, and join when a
   * configuration change adds them. Default 0.
   */
  readonly spare?: number;
  /** Seed for every random choice (network faults, election timeouts). */
  readonly seed: number;
  /** Raft settings applied to every node (id and peers are filled in). */
  readonly raft?: Partial<Omit<RaftConfig, 'id' | 'peers' | 'random' | 'logger'>>;
  /** Network faults. Default: reliable. */
  readonly faults?: NetworkFaults;
  /**
   * Creates the store of a node at first start. Default: a MemoryLogStore. The same store
   * object survives crashes (only what was saved is kept, by construction).
   */
  readonly createStore?: (id: NodeId, peers: readonly NodeId[]) => LogStore | Promise<LogStore>;
  /** Re-opens a store after a crash (e.g. close and reopen a database). Default: reuse it. */
  readonly reopenStore?: (id: NodeId, store: LogStore) => LogStore | Promise<LogStore>;
  /** Check the safety properties after every step. Default true. */
  readonly checkSafety?: boolean;
  /** Logger for the nodes. Default silent. */
  readonly logger?: Logger;
  /**
   * Model slow disks: a Ready's pre-persist messages leave at once, but its save (and
   * everything after it) happens only when `persist(id)` is called, so messages can
   * arrive — and the node can crash — while a write is in flight. Default false: each
   * Ready is handled to completion at once.
   */
  readonly asyncPersist?: boolean;
  /**
   * Snapshot and compact like an application would: after `everyEntries` applied
   * entries a node snapshots its state machine (the chained hash of what it applied)
   * and compacts its log, keeping `keepEntries`. Followers too far behind are then
   * caught up by MsgSnap. Default: never.
   */
  readonly snapshot?: { readonly everyEntries: number; readonly keepEntries: number };
}

/** SimNodeState is one simulated node: its store (its "disk") and, while up, its RawNode. */
export interface SimNodeState {
  readonly id: NodeId;
  store: LogStore;
  raw: RawNode | undefined;
  /** The state machine: every applied entry, in order, since the last (re)start or snapshot. */
  applied: Entry[];
  appliedIndex: number;
  /** The state machine's state: the chained hash of every entry applied (snapshots included). */
  stateChain: number;
  /** Index of this node's latest snapshot. */
  snapshotIndex: number;
  crashDuringNextReady: boolean;
  /** With asyncPersist: the Ready whose save is in flight. */
  outstanding: Ready | undefined;
  /** The index the prefix-hash cache is based at (the log's first index − 1 when built). */
  prefixBase: number;
  /** Per-node prefix hashes of the log, for Log Matching checks. */
  prefixEntries: (Entry | undefined)[];
  prefixHashes: number[];
}

/** ConfigEpoch is the membership in force from a log index on (the initial one from 0). */
interface ConfigEpoch {
  readonly index: number;
  readonly confState: ConfState;
  readonly config: TrackerConfig;
  readonly key: string;
}

function confKey(confState: ConfState): string {
  return `${confState.voters.join(',')}|${confState.votersOutgoing.join(',')}|${confState.learners.join(',')}|${confState.learnersNext.join(',')}|${confState.autoLeave ? 1 : 0}`;
}

function membersOf(confState: ConfState): Set<NodeId> {
  return new Set([
    ...confState.voters,
    ...confState.votersOutgoing,
    ...confState.learners,
    ...confState.learnersNext,
  ]);
}

interface PendingProposal {
  readonly node: NodeId;
  readonly digestData: string;
}

interface PendingRead {
  readonly node: NodeId;
  readonly ackedBeforeInvoke: number;
  readIndex: number | undefined;
}

function dataKey(data: Uint8Array): string {
  let key = '';
  for (let i = 0; i < data.length; i++) key += String.fromCharCode(data[i]!);
  return key;
}

/**
 * SimCluster runs N Raft nodes in one process over a SimulatedNetwork, deterministically
 * from one seed: crash and restart keep only what each node persisted, every Ready is
 * handled by the contract (send-before-persist messages, save, send the rest, apply,
 * advance), and the SafetyChecker runs after every step. It is the engine of the seeded
 * simulation and of the MIT 6.5840-style scenario tests, and a kit for testing your own
 * state machine logic against real Raft behaviour.
 */
export class SimCluster {
  /** ids lists every node that runs: the initial members, then the spare nodes. */
  readonly ids: NodeId[];
  /** initialVoters are the voters of the initial configuration (the bootstrap membership). */
  readonly initialVoters: NodeId[];
  /**
   * configHistory is the committed membership history, one epoch per applied configuration change in log
   * order (recorded when some node first applies it; every node must agree).
   */
  readonly configHistory: ConfigEpoch[] = [];
  /** stopped holds the nodes removed from the group: stopped for good once their removal is applied anywhere. */
  readonly stopped = new Set<NodeId>();
  /** Nodes that have been members of some committed configuration. */
  private readonly everMembers = new Set<NodeId>();
  private readonly toStop = new Set<NodeId>();
  private readonly checkedPairs = new Set<string>();
  readonly network: SimulatedNetwork;
  readonly checker = new SafetyChecker();
  readonly random: RandomSource;
  readonly nodes = new Map<NodeId, SimNodeState>();
  /** Writes acknowledged to clients (applied on the node they were proposed to). */
  readonly acknowledged: { index: number; digest: number }[] = [];
  /** Highest log index of an acknowledged write. */
  maxAckedIndex = 0;
  readsServed = 0;
  steps = 0;
  private readonly options: SimClusterOptions;
  private readonly proposals = new Map<string, PendingProposal>();
  private readonly reads = new Map<string, PendingRead>();
  private readCounter = 0;
  private restartCounter = 0;

  private constructor(options: SimClusterOptions) {
    this.options = options;
    this.initialVoters = Array.from({ length: options.nodes }, (_, i) => i + 1);
    this.ids = Array.from({ length: options.nodes + (options.spare ?? 0) }, (_, i) => i + 1);
    const initial: ConfState = {
      voters: this.initialVoters,
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    };
    this.configHistory.push({
      index: 0,
      confState: initial,
      config: configFromConfState(initial),
      key: confKey(initial),
    });
    for (const id of this.initialVoters) this.everMembers.add(id);
    this.random = seededRandom(options.seed);
    this.network = new SimulatedNetwork(
      seededRandom(options.seed ^ 0x5bd1e995),
      options.faults ?? RELIABLE_NETWORK,
    );
  }

  /** create builds and starts a cluster. */
  static async create(options: SimClusterOptions): Promise<SimCluster> {
    const cluster = new SimCluster(options);
    for (const id of cluster.ids) {
      // Every node, spare ones included, starts from the bootstrap membership: replaying
      // the log's configuration changes on top of it yields the group's membership.
      const store = options.createStore
        ? await options.createStore(id, cluster.initialVoters)
        : new MemoryLogStore({
            voters: cluster.initialVoters,
            learners: [],
            votersOutgoing: [],
            learnersNext: [],
            autoLeave: false,
          });
      cluster.nodes.set(id, {
        id,
        store,
        raw: undefined,
        applied: [],
        appliedIndex: 0,
        stateChain: 0,
        snapshotIndex: 0,
        crashDuringNextReady: false,
        outstanding: undefined,
        prefixBase: 0,
        prefixEntries: [],
        prefixHashes: [],
      });
      cluster.startNode(id);
    }
    return cluster;
  }

  private startNode(id: NodeId): void {
    const node = this.node(id);
    this.restartCounter++;
    node.raw = new RawNode(
      {
        electionTicks: 10,
        heartbeatTicks: 1,
        ...this.options.raft,
        id,
        peers: this.initialVoters,
        random: seededRandom(
          (this.options.seed * 31 + id * 7919 + this.restartCounter * 104729) >>> 0,
        ),
        logger: this.options.logger ?? SILENT_LOGGER,
        // The state machine restarts from the stored snapshot: apply after it.
        applied: node.store.snapshot().metadata.index,
      },
      node.store,
    );
    node.applied = [];
    // The state machine is rebuilt from the stored snapshot (if any), then the log.
    const snapshot = node.store.snapshot();
    node.appliedIndex = snapshot.metadata.index;
    node.stateChain = snapshot.metadata.index === 0 ? 0 : decodeChain(snapshot.data);
    node.snapshotIndex = snapshot.metadata.index;
    if (snapshot.metadata.index > 0 && this.options.checkSafety !== false) {
      this.checker.checkSnapshot(id, snapshot.metadata.index, node.stateChain);
    }
    node.crashDuringNextReady = false;
    node.outstanding = undefined;
  }

  /** node returns a node's state. */
  node(id: NodeId): SimNodeState {
    const node = this.nodes.get(id);
    if (node === undefined) throw new RaftError('SIM_NO_NODE', `no node ${id}`);
    return node;
  }

  /** raft returns the live Raft of a node, or undefined when it is down. */
  raft(id: NodeId): Raft | undefined {
    return this.nodes.get(id)?.raw?.raft;
  }

  /** liveIds lists the nodes that are up. */
  liveIds(): NodeId[] {
    return this.ids.filter((id) => this.nodes.get(id)?.raw !== undefined);
  }

  /** violations returns what the safety checker found. */
  violations(): readonly SafetyViolation[] {
    return this.checker.violations;
  }

  // --- the Ready loop -----------------------------------------------------------------

  /** processReady handles every pending Ready of a node; returns whether it had any. */
  async processReady(id: NodeId): Promise<boolean> {
    const node = this.node(id);
    let any = false;
    while (node.raw?.hasReady()) {
      any = true;
      const raw = node.raw;
      const ready = raw.ready();
      this.network.send(ready.messages);
      if (node.crashDuringNextReady) {
        // The process dies after its leader traffic left but before the fsync completed.
        this.crash(id);
        return any;
      }
      if (this.options.asyncPersist) {
        node.outstanding = ready;
        return any;
      }
      await this.finishReady(node, ready);
    }
    return any;
  }

  /** hasOutstanding reports whether a node has a Ready whose save is in flight. */
  hasOutstanding(id: NodeId): boolean {
    return this.nodes.get(id)?.outstanding !== undefined;
  }

  /**
   * persist completes a node's in-flight Ready (asyncPersist mode): save, send the
   * messages that waited for it, apply, advance — then starts the next Ready.
   */
  async persist(id: NodeId): Promise<void> {
    const node = this.node(id);
    const ready = node.outstanding;
    if (ready === undefined || node.raw === undefined) return;
    node.outstanding = undefined;
    await this.finishReady(node, ready);
    await this.processReady(id);
    this.afterStep();
  }

  private async finishReady(node: SimNodeState, ready: Ready): Promise<void> {
    await this.save(node, ready);
    this.network.send(ready.persistedMessages);
    this.apply(node, ready);
    const raw = node.raw!;
    raw.advance(ready);
    await this.maybeSnapshot(node, raw);
  }

  private async maybeSnapshot(node: SimNodeState, raw: RawNode): Promise<void> {
    const policy = this.options.snapshot;
    if (policy === undefined || node.appliedIndex - node.snapshotIndex < policy.everyEntries)
      return;
    const index = node.appliedIndex;
    await node.store.createSnapshot(index, raw.status().confState, encodeChain(node.stateChain));
    node.snapshotIndex = index;
    const compactTo = index - policy.keepEntries;
    if (compactTo > node.store.firstIndex() - 1) await node.store.compact(compactTo);
  }

  private async save(node: SimNodeState, ready: Ready): Promise<void> {
    if (ready.hardState === undefined && ready.entries.length === 0 && ready.snapshot === undefined)
      return;
    const update = { hardState: ready.hardState, entries: ready.entries, snapshot: ready.snapshot };
    if (node.store instanceof MemoryLogStore) node.store.apply(update);
    else await node.store.save(update);
  }

  private apply(node: SimNodeState, ready: Ready): void {
    if (ready.snapshot !== undefined) {
      node.applied = [];
      node.appliedIndex = ready.snapshot.metadata.index;
      node.stateChain = decodeChain(ready.snapshot.data);
      node.snapshotIndex = ready.snapshot.metadata.index;
      if (this.options.checkSafety !== false) {
        this.checker.checkSnapshot(node.id, node.appliedIndex, node.stateChain);
      }
    }
    if (ready.committedEntries.length > 0) {
      if (this.options.checkSafety !== false)
        this.checker.observeApplied(node.id, ready.committedEntries);
      for (const entry of ready.committedEntries) {
        node.applied.push(entry);
        node.appliedIndex = entry.index;
        node.stateChain = chainHash(node.stateChain, entryDigest(entry));
        if (entry.type === 'confChange') {
          this.applyConfChange(node, entry);
          continue;
        }
        if (entry.data.length === 0) continue;
        const key = dataKey(entry.data);
        const proposal = this.proposals.get(key);
        if (proposal !== undefined && proposal.node === node.id) {
          this.proposals.delete(key);
          this.acknowledged.push({ index: entry.index, digest: entryDigest(entry) });
          if (entry.index > this.maxAckedIndex) this.maxAckedIndex = entry.index;
        }
      }
    }
    for (const readState of ready.readStates) {
      const read = this.reads.get(dataKey(readState.context));
      if (read !== undefined && read.node === node.id) read.readIndex = readState.index;
    }
    this.serveReads(node);
  }

  /**
   * applyConfChange applies a committed configuration change on a node, as an
   * application does, and records the resulting membership in the history (checking that
   * every node computes the same one at the same index).
   */
  private applyConfChange(node: SimNodeState, entry: Entry): void {
    let confState: ConfState;
    try {
      confState = node.raw!.applyConfChange(decodeConfChange(entry.data));
    } catch (error) {
      if (!(error instanceof RaftError)) throw error;
      this.checker.fail(
        'ConfigSafety',
        `node ${node.id} could not apply the configuration change at ${entry.index}: ${error.message}`,
      );
      return;
    }
    const key = confKey(confState);
    const last = this.configHistory[this.configHistory.length - 1]!;
    if (entry.index > last.index) {
      const epoch = {
        index: entry.index,
        confState,
        config: configFromConfState(confState),
        key,
      };
      this.configHistory.push(epoch);
      // Two consecutive configurations can both be in force (some nodes have applied the
      // change, others not yet): every quorum of one must meet every quorum of the other
      // (Raft paper §6; thesis §4.1 for single-server changes).
      this.checkOverlap(last, epoch);
      const members = membersOf(confState);
      for (const id of members) this.everMembers.add(id);
      for (const id of this.everMembers) {
        if (!members.has(id) && !this.stopped.has(id)) this.toStop.add(id);
      }
      return;
    }
    const recorded = this.epochAt(entry.index);
    if (recorded.index !== entry.index || recorded.key !== key) {
      this.checker.fail(
        'ConfigSafety',
        `node ${node.id} computed membership ${key} at ${entry.index}, but ${recorded.key} was recorded`,
      );
    }
  }

  /** epochAt returns the membership in force once entries through `index` are applied. */
  epochAt(index: number): ConfigEpoch {
    const history = this.configHistory;
    for (let i = history.length - 1; i > 0; i--) if (history[i]!.index <= index) return history[i]!;
    return history[0]!;
  }

  /** members returns the members (voters and learners) of the latest committed configuration. */
  members(): NodeId[] {
    const latest = this.configHistory[this.configHistory.length - 1]!;
    return [...membersOf(latest.confState)].sort((a, b) => a - b);
  }

  /** latestConfState returns the latest committed membership. */
  latestConfState(): ConfState {
    return this.configHistory[this.configHistory.length - 1]!.confState;
  }

  private checkOverlap(a: ConfigEpoch, b: ConfigEpoch): void {
    if (a.key === b.key) return;
    const pair = `${a.key}/${b.key}`;
    if (this.checkedPairs.has(pair)) return;
    this.checkedPairs.add(pair);
    const disjoint = disjointQuorums(a.config.voters, b.config.voters);
    if (disjoint !== undefined) {
      this.checker.fail(
        'DisjointQuorums',
        `configurations ${a.key} (from ${a.index}) and ${b.key} (from ${b.index}) have disjoint quorums {${disjoint[0].join(',')}} and {${disjoint[1].join(',')}}`,
      );
    }
  }

  /**
   * checkMembership checks, for every live node, that its membership is exactly the
   * committed one at what it has applied, and
   * that no two live nodes use configurations with disjoint quorums. Configurations of
   * live nodes two or more changes apart are not compared: a node that lags behind
   * several changes holds an old configuration it cannot act on (a majority of it has
   * moved to later terms and newer logs, §5.4.1), and disjointness between such
   * configurations is expected when a group is replaced member by member.
   */
  private checkMembership(live: readonly Raft[]): void {
    if (this.configHistory.length === 1 && this.ids.length === this.initialVoters.length) return;
    const inUse = new Map<number, ConfigEpoch>();
    for (const raft of live) {
      const node = this.node(raft.id);
      // A snapshot's membership takes effect when the snapshot is applied, like its
      // state: the membership always follows the applied index.
      const expected = this.epochAt(node.appliedIndex);
      const key = confKey(confStateFromConfig(raft.tracker.config));
      if (key !== expected.key) {
        this.checker.fail(
          'ConfigSafety',
          `node ${raft.id} uses membership ${key} but the committed one at its applied index ${node.appliedIndex} is ${expected.key}`,
        );
        continue;
      }
      inUse.set(this.configHistory.indexOf(expected), expected);
    }
    const positions = [...inUse.keys()].sort((a, b) => a - b);
    for (let i = 1; i < positions.length; i++) {
      if (positions[i]! === positions[i - 1]! + 1) {
        this.checkOverlap(inUse.get(positions[i - 1]!)!, inUse.get(positions[i]!)!);
      }
    }
  }

  private stopRemoved(): void {
    if (this.toStop.size === 0) return;
    for (const id of this.toStop) {
      this.stopped.add(id);
      if (this.nodes.get(id)?.raw !== undefined) this.crash(id);
    }
    this.toStop.clear();
  }

  private serveReads(node: SimNodeState): void {
    for (const [key, read] of this.reads) {
      if (
        read.node !== node.id ||
        read.readIndex === undefined ||
        node.appliedIndex < read.readIndex
      )
        continue;
      this.reads.delete(key);
      this.readsServed++;
      if (this.options.checkSafety !== false) {
        this.checker.observeRead(
          node.id,
          read.readIndex,
          read.ackedBeforeInvoke,
          node.appliedIndex,
        );
      }
    }
  }

  /** stepNode delivers a message to its recipient (if up) and processes its Readys. */
  async deliver(message: Message): Promise<void> {
    const node = this.nodes.get(message.to);
    if (node?.raw === undefined) {
      if (message.type === 'MsgSnap')
        await this.reportSnapshot(message.from, message.to, 'failure');
      return;
    }
    try {
      node.raw.step(message);
    } catch (error) {
      if (!(error instanceof RaftError)) throw error;
    }
    await this.processReady(message.to);
    // A transport reports how a snapshot transfer ended, as @raftkit/rpc does.
    if (message.type === 'MsgSnap') await this.reportSnapshot(message.from, message.to, 'finish');
    this.afterStep();
  }

  private async reportLostSnapshots(): Promise<void> {
    const lost = this.network.lostSnapshots;
    while (lost.length > 0) {
      const { from, to } = lost.shift()!;
      await this.reportSnapshot(from, to, 'failure');
    }
  }

  private async reportSnapshot(
    from: NodeId,
    to: NodeId,
    status: 'finish' | 'failure',
  ): Promise<void> {
    const sender = this.nodes.get(from);
    if (sender?.raw === undefined) return;
    sender.raw.reportSnapshot(to, status);
    await this.processReady(from);
  }

  /** deliverOne delivers one due message; returns false when none is due. */
  async deliverOne(): Promise<boolean> {
    await this.reportLostSnapshots();
    const message = this.network.takeDeliverable();
    if (message === undefined) return false;
    await this.deliver(message);
    return true;
  }

  /** tick ticks one node and processes its Readys. */
  async tick(id: NodeId): Promise<void> {
    await this.reportLostSnapshots();
    const node = this.node(id);
    if (node.raw === undefined) return;
    node.raw.tick();
    await this.processReady(id);
    this.afterStep();
  }

  /**
   * round is one unit of simulated time: every live node ticks once, then every due
   * message is delivered (including those the deliveries produce, when not delayed).
   */
  async round(): Promise<void> {
    for (const id of this.ids) await this.persist(id);
    for (const id of this.ids) await this.tick(id);
    this.network.advanceRound();
    for (let guard = 0; guard < 100_000; guard++) {
      if (await this.deliverOne()) continue;
      let persisted = false;
      for (const id of this.ids) {
        if (this.hasOutstanding(id)) {
          await this.persist(id);
          persisted = true;
        }
      }
      if (!persisted) break;
    }
  }

  /** runRounds runs `count` rounds. */
  async runRounds(count: number): Promise<void> {
    for (let i = 0; i < count; i++) await this.round();
  }

  /** afterStep runs the safety checks (every step, unless disabled). */
  afterStep(): void {
    this.steps++;
    // A node whose removal was applied somewhere is stopped for good (a removed member
    // shuts down; it is no longer needed by any quorum that can form).
    this.stopRemoved();
    if (this.options.checkSafety === false) return;
    const live: Raft[] = [];
    for (const id of this.ids) {
      const raft = this.nodes.get(id)?.raw?.raft;
      if (raft !== undefined) live.push(raft);
    }
    this.checker.observeLeaders(live);
    this.checker.checkLogMatching(live, (raft, index) => this.prefixHash(raft, index));
    this.checkMembership(live);
  }

  private prefixHash(raft: Raft, index: number): number | undefined {
    const node = this.node(raft.id);
    const log = raft.raftLog;
    const first = log.firstIndex();
    // Find how much of the cached prefix is still this log (usually all of it).
    let valid = Math.min(node.prefixEntries.length - 1, log.lastIndex());
    while (valid >= first && node.prefixEntries[valid] !== log.entryAt(valid)) valid--;
    // A moved start (compaction, or an installed snapshot replacing the log) invalidates
    // the cached chain's base: reseed it.
    if (first - 1 !== node.prefixBase) valid = -1;
    if (valid < first - 1) {
      node.prefixBase = first - 1;
      // The log starts after a snapshot: seed the chain with the committed prefix it
      // stands for (its own contents are checked by checkSnapshot).
      valid = first - 1;
      node.prefixEntries.length = 0;
      node.prefixHashes.length = 0;
      const seed = this.checker.committedChainAt(valid);
      // Not known committed yet: this prefix cannot be compared now (try again later).
      if (seed === undefined) return undefined;
      node.prefixHashes[valid] = seed;
    }
    node.prefixEntries.length = valid + 1;
    node.prefixHashes.length = valid + 1;
    for (let i = valid + 1; i <= index; i++) {
      const entry = log.entryAt(i);
      const previous = node.prefixHashes[i - 1] ?? 0;
      node.prefixEntries[i] = entry;
      node.prefixHashes[i] =
        entry === undefined ? previous : chainHash(previous, entryDigest(entry));
    }
    return node.prefixHashes[index] ?? 0;
  }

  // --- clients ----------------------------------------------------------------------------

  /**
   * propose submits `data` at node `id` as a client would. Returns false if the node is
   * down or dropped it. The write counts as acknowledged once that node applies it.
   * Data must be unique per proposal (it identifies the write).
   */
  async propose(id: NodeId, data: Uint8Array | readonly Uint8Array[]): Promise<boolean> {
    const node = this.node(id);
    if (node.raw === undefined) return false;
    const batch = data instanceof Uint8Array ? [data] : data;
    try {
      node.raw.proposeBatch(batch);
    } catch (error) {
      if (error instanceof RaftError) return false;
      throw error;
    }
    for (const command of batch)
      this.proposals.set(dataKey(command), { node: id, digestData: dataKey(command) });
    await this.processReady(id);
    this.afterStep();
    return true;
  }

  /**
   * proposeConfChange proposes a membership change at node `id`. Returns false if the
   * node is down or the change was refused (another is pending, or it is invalid).
   */
  async proposeConfChange(id: NodeId, cc: ConfChange): Promise<boolean> {
    const node = this.node(id);
    if (node.raw === undefined) return false;
    try {
      node.raw.proposeConfChange(cc);
    } catch (error) {
      if (error instanceof RaftError) return false;
      throw error;
    }
    await this.processReady(id);
    this.afterStep();
    return true;
  }

  /** readIndex starts a linearizable read at node `id`; it is checked when served. */
  async readIndex(id: NodeId): Promise<void> {
    const node = this.node(id);
    if (node.raw === undefined) return;
    const context = new Uint8Array(8);
    let counter = ++this.readCounter;
    for (let i = 0; i < 8; i++) {
      context[i] = counter & 0xff;
      counter = Math.floor(counter / 256);
    }
    this.reads.set(dataKey(context), {
      node: id,
      ackedBeforeInvoke: this.maxAckedIndex,
      readIndex: undefined,
    });
    node.raw.readIndex(context);
    await this.processReady(id);
    this.afterStep();
  }

  /** transferLeader asks the current leader (if any) to hand over to `to`. */
  async transferLeader(to: NodeId): Promise<void> {
    const leader = this.leader();
    if (leader === undefined) return;
    this.node(leader).raw?.transferLeader(to);
    await this.processReady(leader);
    this.afterStep();
  }

  // --- faults -----------------------------------------------------------------------------

  /** crash stops a node at once: its memory is gone, its store keeps what was saved. */
  crash(id: NodeId): void {
    const node = this.node(id);
    node.raw = undefined;
    node.outstanding = undefined;
    node.applied = [];
    node.prefixEntries = [];
    node.prefixHashes = [];
    this.network.dropTo(id);
    for (const [key, read] of this.reads) if (read.node === id) this.reads.delete(key);
    for (const [key, proposal] of this.proposals)
      if (proposal.node === id) this.proposals.delete(key);
  }

  /** crashDuringNextReady makes the node die after sending its pre-persist messages, before saving. */
  crashDuringNextReady(id: NodeId): void {
    this.node(id).crashDuringNextReady = true;
  }

  /** restart brings a crashed node back from its store (state machine rebuilt from the log). */
  async restart(id: NodeId): Promise<void> {
    const node = this.node(id);
    if (node.raw !== undefined || this.stopped.has(id)) return;
    if (this.options.reopenStore) node.store = await this.options.reopenStore(id, node.store);
    this.startNode(id);
    await this.processReady(id);
    this.afterStep();
  }

  /** isolate cuts a node off from every other node. */
  isolate(id: NodeId): void {
    this.network.isolate(id, this.ids);
  }

  /** reconnect restores a node's links. */
  reconnect(id: NodeId): void {
    this.network.reconnect(id);
  }

  /** partition splits the cluster into groups. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    this.network.partition(groups);
  }

  /** heal restores every link. */
  heal(): void {
    this.network.heal();
  }

  // --- observation ------------------------------------------------------------------------

  /** leader returns the live leader with the highest term, if any. */
  leader(): NodeId | undefined {
    let best: Raft | undefined;
    for (const id of this.ids) {
      const raft = this.raft(id);
      if (raft?.role === 'leader' && (best === undefined || raft.term > best.term)) best = raft;
    }
    return best?.id;
  }

  /** leaders returns every live node that believes it is leader, by term. */
  leaders(): Map<number, NodeId[]> {
    const byTerm = new Map<number, NodeId[]>();
    for (const id of this.liveIds()) {
      const raft = this.raft(id)!;
      if (raft.role !== 'leader') continue;
      byTerm.set(raft.term, [...(byTerm.get(raft.term) ?? []), id]);
    }
    return byTerm;
  }

  /**
   * nCommitted returns how many live nodes applied `index`, and its data if they agree
   * (MIT 6.5840's nCommitted). Throws if two nodes applied different data.
   */
  nCommitted(index: number): { count: number; data: Uint8Array | undefined } {
    let count = 0;
    let data: Uint8Array | undefined;
    for (const id of this.liveIds()) {
      const node = this.node(id);
      const first = node.appliedIndex - node.applied.length + 1;
      const entry = node.applied[index - first];
      if (entry === undefined || entry.index !== index) continue;
      if (data !== undefined && dataKey(data) !== dataKey(entry.data)) {
        throw new RaftError('SIM_DIVERGED', `nodes applied different data at index ${index}`);
      }
      data = entry.data;
      count++;
    }
    return { count, data };
  }

  /** appliedIndex returns a live node's applied index. */
  appliedIndex(id: NodeId): number {
    return this.node(id).appliedIndex;
  }

  /** checkAcknowledged verifies every acknowledged write is in the committed log. */
  checkAcknowledged(): void {
    for (const { index, digest } of this.acknowledged)
      this.checker.checkAcknowledged(index, digest);
  }

  /** termOf returns a live node's term. */
  termOf(id: NodeId): number | undefined {
    return this.raft(id)?.term;
  }
}

function encodeChain(chain: number): Uint8Array {
  const data = new Uint8Array(4);
  new DataView(data.buffer).setUint32(0, chain);
  return data;
}

function decodeChain(data: Uint8Array): number {
  if (data.length !== 4)
    throw new RaftError('SIM_BAD_SNAPSHOT', 'simulated snapshot data must be 4 bytes');
  return new DataView(data.buffer, data.byteOffset, 4).getUint32(0);
}

/** encodeCommand turns a string into command bytes (ASCII/Latin-1). */
export function encodeCommand(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
  return bytes;
}

/** decodeCommand is the inverse of encodeCommand. */
export function decodeCommand(data: Uint8Array | undefined): string | undefined {
  return data === undefined ? undefined : dataKey(data);
}

/** NO_DATA is an empty payload. */
export const NO_DATA = EMPTY_DATA;
