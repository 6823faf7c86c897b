// Test kit for driving RawNode by hand: nodes over a MemoryLogStore, a Ready handler that
// obeys the persist-before-send contract, hand-built messages, and a tiny synchronous
// network in the manner of etcd-io/raft's raft_test.go (`network.cut/isolate/recover`).
import type {
  Entry,
  HardState,
  Message,
  MsgApp,
  MsgAppResp,
  MsgHeartbeat,
  MsgHeartbeatResp,
  MsgVote,
  MsgVoteResp,
  NodeId,
  RaftConfig,
  ReadState,
  Ready,
} from '../../src/index.js';
import {
  EMPTY_DATA,
  MemoryLogStore,
  NONE,
  RaftError,
  RawNode,
  seededRandom,
} from '../../src/index.js';
import type { Raft } from '../../src/raft.js';

/** entry builds a normal entry; `data` defaults to empty (a no-op). */
export function entry(index: number, term: number, data: Uint8Array = EMPTY_DATA): Entry {
  return { index, term, type: 'normal', data };
}

/** logOfTerms builds entries 1..n whose terms are `terms` (etcd's `index(1).terms(...)`). */
export function logOfTerms(...terms: number[]): Entry[] {
  return terms.map((term, i) => entry(i + 1, term));
}

/** bytes turns text into command bytes. */
export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** NodeOptions configures one hand-driven node. */
export type NodeOptions = Partial<Omit<RaftConfig, 'id' | 'peers'>> & {
  /** Entries already durable in the store (indexes from 1). */
  readonly log?: readonly Entry[];
  /** Hard state already durable in the store. */
  readonly hardState?: HardState;
  /** Reuse this store (a restart after a crash) instead of creating one. */
  readonly store?: MemoryLogStore;
};

/** Handled is everything a node emitted while its Readys were handled. */
export interface Handled {
  readonly readies: Ready[];
  /** Messages sent before persisting (a leader's replication traffic). */
  readonly messages: Message[];
  /** Messages sent only after persisting (votes, acknowledgements, …). */
  readonly persistedMessages: Message[];
  readonly committedEntries: Entry[];
  readonly readStates: ReadState[];
}

/**
 * TestNode is one RawNode over its own MemoryLogStore. Paper tests default to plain Raft
 * (pre-vote and check-quorum off, as in the paper's §5), with a fixed-seed random source.
 */
export class TestNode {
  readonly raw: RawNode;
  readonly store: MemoryLogStore;

  constructor(
    readonly id: NodeId,
    readonly peers: readonly NodeId[],
    options: NodeOptions = {},
  ) {
    const { log, hardState, store, ...config } = options;
    this.store =
      store ??
      new MemoryLogStore({
        voters: [...peers],
        learners: [],
        votersOutgoing: [],
        learnersNext: [],
        autoLeave: false,
      });
    if (log !== undefined) this.store.append(log);
    if (hardState !== undefined) this.store.setHardState(hardState);
    this.raw = new RawNode(
      {
        electionTicks: 10,
        heartbeatTicks: 1,
        preVote: false,
        checkQuorum: false,
        random: seededRandom(id * 7919 + 17),
        ...config,
        id,
        peers,
      },
      this.store,
    );
  }

  get raft(): Raft {
    return this.raw.raft;
  }

  /**
   * handle processes every pending Ready by the contract: send `messages`, persist, send
   * `persistedMessages`, apply, advance. Returns what came out.
   */
  handle(): Handled {
    const out: Handled = {
      readies: [],
      messages: [],
      persistedMessages: [],
      committedEntries: [],
      readStates: [],
    };
    while (this.raw.hasReady()) {
      const ready = this.raw.ready();
      out.readies.push(ready);
      out.messages.push(...ready.messages);
      this.store.apply({
        hardState: ready.hardState,
        entries: ready.entries,
        snapshot: ready.snapshot,
      });
      out.persistedMessages.push(...ready.persistedMessages);
      out.committedEntries.push(...ready.committedEntries);
      out.readStates.push(...ready.readStates);
      this.raw.advance(ready);
    }
    return out;
  }

  /** outbox handles the Readys and returns every outgoing message, in send order. */
  outbox(): Message[] {
    const handled = this.handle();
    return [...handled.messages, ...handled.persistedMessages];
  }

  /** tick ticks `count` times. */
  tick(count = 1): void {
    for (let i = 0; i < count; i++) this.raw.tick();
  }

  /** step feeds a peer message (RawNode.step). */
  step(message: Message): void {
    this.raw.step(message);
  }

  /** entries returns every entry of the node's log. */
  entries(): Entry[] {
    return this.raft.raftLog.allEntries();
  }

  /** terms returns the terms of the node's log, index 1 first. */
  terms(): number[] {
    return this.entries().map((e) => e.term);
  }
}

/**
 * makeLeader turns `node` into the leader of term `raft.term + 1` by granting it the votes
 * of every peer, then handles its Readys (persisting the no-op). Returns what it sent.
 */
export function makeLeader(node: TestNode): Handled {
  node.raw.campaign();
  node.handle();
  if (node.raft.role === 'preCandidate') {
    for (const peer of node.peers) {
      if (peer === node.id || node.raft.role !== 'preCandidate') continue;
      node.step({
        type: 'MsgPreVoteResp',
        from: peer,
        to: node.id,
        term: node.raft.term + 1,
        reject: false,
      });
    }
    node.handle();
  }
  const term = node.raft.term;
  for (const peer of node.peers) {
    if (peer === node.id || node.raft.role === 'leader') continue;
    node.step(voteResp(peer, node.id, term, false));
  }
  if (node.raft.role !== 'leader') throw new Error(`node ${node.id} did not become leader`);
  return node.handle();
}

/**
 * stableLeader builds a leader of term 1 over `peers` (node `peers[0]`) whose no-op every
 * follower acknowledged: committed, and every follower in replicate state.
 */
export function stableLeader(peers: readonly NodeId[], options: NodeOptions = {}): TestNode {
  const leader = new TestNode(peers[0]!, peers, options);
  makeLeader(leader);
  const { term } = leader.raft;
  const last = leader.raft.raftLog.lastIndex();
  for (const peer of peers)
    if (peer !== leader.id) leader.step(appResp(peer, leader.id, term, last));
  leader.handle();
  return leader;
}

// --- hand-built messages -----------------------------------------------------------------

export function msgApp(
  from: NodeId,
  to: NodeId,
  term: number,
  fields: { index: number; logTerm: number; entries?: readonly Entry[]; commit?: number },
): MsgApp {
  return {
    type: 'MsgApp',
    from,
    to,
    term,
    index: fields.index,
    logTerm: fields.logTerm,
    entries: fields.entries ?? [],
    commit: fields.commit ?? 0,
  };
}

export function appResp(
  from: NodeId,
  to: NodeId,
  term: number,
  index: number,
  reject = false,
  hint: { rejectHint: number; logTerm: number } = { rejectHint: 0, logTerm: 0 },
): MsgAppResp {
  return { type: 'MsgAppResp', from, to, term, index, reject, ...hint };
}

export function vote(
  from: NodeId,
  to: NodeId,
  term: number,
  lastIndex: number,
  lastTerm: number,
  transfer = false,
): MsgVote {
  return { type: 'MsgVote', from, to, term, index: lastIndex, logTerm: lastTerm, transfer };
}

export function voteResp(from: NodeId, to: NodeId, term: number, reject: boolean): MsgVoteResp {
  return { type: 'MsgVoteResp', from, to, term, reject };
}

export function heartbeat(
  from: NodeId,
  to: NodeId,
  term: number,
  commit = 0,
  context: Uint8Array = EMPTY_DATA,
): MsgHeartbeat {
  return { type: 'MsgHeartbeat', from, to, term, commit, context };
}

export function heartbeatResp(
  from: NodeId,
  to: NodeId,
  term: number,
  context: Uint8Array = EMPTY_DATA,
): MsgHeartbeatResp {
  return { type: 'MsgHeartbeatResp', from, to, term, context };
}

/** ofType keeps the messages of one kind, typed. */
export function ofType<T extends Message['type']>(
  messages: readonly Message[],
  type: T,
): Extract<Message, { type: T }>[] {
  return messages.filter((m): m is Extract<Message, { type: T }> => m.type === type);
}

// --- a synchronous network ---------------------------------------------------------------

/**
 * TestNetwork connects TestNodes and delivers messages synchronously until quiet. Links
 * can be cut, nodes isolated, and message kinds ignored. Every message that crossed a
 * live link is kept in `log`, tagged with whether it waited for persistence.
 */
export class TestNetwork {
  readonly nodes = new Map<NodeId, TestNode>();
  private readonly cut = new Set<string>();
  private readonly ignored = new Set<Message['type']>();
  readonly log: { message: Message; persisted: boolean }[] = [];
  /** Read states each node's Readys produced. */
  readonly readStates = new Map<NodeId, ReadState[]>();
  /** Entries each node applied, in order. */
  readonly applied = new Map<NodeId, Entry[]>();
  private queue: Message[] = [];

  constructor(ids: readonly NodeId[], options: NodeOptions | ((id: NodeId) => NodeOptions) = {}) {
    for (const id of ids) {
      const nodeOptions = typeof options === 'function' ? options(id) : options;
      this.nodes.set(id, new TestNode(id, ids, nodeOptions));
    }
  }

  node(id: NodeId): TestNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  /** collect handles every node's Readys and queues what they sent. */
  collect(): void {
    for (const node of this.nodes.values()) {
      const handled = node.handle();
      for (const message of handled.messages) this.log.push({ message, persisted: false });
      for (const message of handled.persistedMessages) this.log.push({ message, persisted: true });
      this.queue.push(...handled.messages, ...handled.persistedMessages);
      this.readStates.set(node.id, [
        ...(this.readStates.get(node.id) ?? []),
        ...handled.readStates,
      ]);
      this.applied.set(node.id, [
        ...(this.applied.get(node.id) ?? []),
        ...handled.committedEntries,
      ]);
    }
  }

  /** stabilize delivers messages until none are left (bounded, to catch storms). */
  stabilize(limit = 10_000): void {
    this.collect();
    for (let delivered = 0; this.queue.length > 0; delivered++) {
      if (delivered > limit) throw new Error('network did not stabilize');
      const message = this.queue.shift()!;
      if (this.cut.has(`${message.from}>${message.to}`) || this.ignored.has(message.type)) continue;
      const target = this.nodes.get(message.to);
      if (target === undefined) continue;
      try {
        target.step(message);
      } catch (error) {
        if (!(error instanceof RaftError)) throw error;
      }
      this.collect();
    }
  }

  /** campaign makes `id` start an election and lets the network settle. */
  campaign(id: NodeId): void {
    this.node(id).raw.campaign();
    this.stabilize();
  }

  /** tickAll ticks every node `count` times, settling after each tick. */
  tickAll(count = 1): void {
    for (let i = 0; i < count; i++) {
      for (const node of this.nodes.values()) node.tick();
      this.stabilize();
    }
  }

  cutLink(a: NodeId, b: NodeId): void {
    this.cut.add(`${a}>${b}`);
    this.cut.add(`${b}>${a}`);
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) if (other !== id) this.cutLink(id, other);
  }

  ignore(type: Message['type']): void {
    this.ignored.add(type);
  }

  recover(): void {
    this.cut.clear();
    this.ignored.clear();
  }

  /** leader returns the id of the single node that is leader in the highest term, or NONE. */
  leader(): NodeId {
    let best: Raft | undefined;
    for (const node of this.nodes.values()) {
      if (node.raft.role === 'leader' && (best === undefined || node.raft.term > best.term))
        best = node.raft;
    }
    return best?.id ?? NONE;
  }
}
