/**
 * InteractionEnv runs the data-driven interaction scripts of `test/testdata/*.txt`: a few
 * RawNodes over MemoryLogStores, a hand-driven network, and one command per step, so a
 * script reads as a timeline of exactly what each node did (STYLE.md point 7; the idea
 * is etcd-io/raft's `testdata` + `rafttest`, the format is ours).
 *
 * ## Script format
 *
 *     # comments and blank lines are kept verbatim
 *     command arg arg key=value
 *     ----
 *     expected output (never blank lines; `ok` when the command printed nothing)
 *     <blank line>
 *
 * `REWRITE=1 npx vitest run test/interaction` replaces every expected output by the
 * actual one; review the diff before committing it.
 *
 * ## Commands (ids are node ids, 1..N)
 *
 * - `add-nodes N [preVote=b] [checkQuorum=b] [electionTicks=n] [heartbeatTicks=n]
 *   [disableProposalForwarding=b] [maxInflightMsgs=n] [maxSizePerMsg=n] [readOnly=safe|leaseBased]
 *   [maxUncommittedEntriesSize=n]`
 *   starts a fresh cluster of voters 1..N (replacing any previous one). Defaults: pre-vote
 *   and check-quorum on, electionTicks 10, heartbeatTicks 1. Election timeouts are fixed
 *   and staggered instead of random (§5.2): node i times out after electionTicks + i - 1
 *   ticks without a leader, so node 1 fires first, and a follower's leader lease (one
 *   electionTicks) expires a little before its own timeout fires.
 * - `log-level debug|info|warn|error|none` prints the nodes' log lines at or above the
 *   level, interleaved with the output (default warn); `none` silences all output, which
 *   keeps the set-up of a script short.
 * - `tick-election ID…`, `tick-heartbeat ID…` tick each node electionTicks / heartbeatTicks
 *   times (a leader's check-quorum period / heartbeat period); `tick ID COUNT` ticks one
 *   node COUNT times.
 * - `campaign ID`, `propose ID DATA`, `propose-batch ID DATA…`, `read-index ID CONTEXT`,
 *   `transfer-leader ID TARGET` (asks node ID, which forwards to its leader if it is a
 *   follower, to hand leadership to TARGET) call the RawNode; a typed error is printed.
 * - `propose-conf-change ID CHANGE…` proposes one membership change (Raft paper §6) of
 *   the given single changes: `vN` adds voter N, `lN` learner N, `rN` removes N (one
 *   change is a simple change, several enter a joint configuration left automatically).
 *   Nodes apply committed changes when they handle a Ready and print the ConfState.
 * - `process-ready ID…` handles one Ready per node by the contract of `Ready`: send
 *   `messages`, persist with `store.apply`, send `persistedMessages`, apply, `advance`.
 *   Prints `describeReady`, then the messages the network dropped. `start-ready ID` does
 *   only the first step, leaving the write in flight (a slow disk), and `finish-ready ID`
 *   the rest; a crash in between loses the write and the messages waiting for it.
 * - `deliver-msgs [drop=ID,…] [type=MsgType] [ID…]` steps the in-flight messages addressed
 *   to the given nodes (default: all), in send order, printing each; `drop=` discards the
 *   messages to those nodes instead; `type=` restricts either to one message kind.
 * - `stabilize [ID…]` repeats "every node handles its Ready, then every node receives its
 *   messages" until nothing is left to do, printing each step.
 * - `status ID`, `raft-log ID`, `raft-state` print a node's status (with progress on a
 *   leader), its log (unstable entries marked), and every node's role, term and leader.
 * - `isolate ID` cuts every link of a node (in-flight messages to or from it are lost, and
 *   so are those sent later); `recover` heals every link.
 * - `crash ID` stops a node, losing all but its store (in-flight messages to it are
 *   lost); `restart ID` builds a new RawNode over that store with the same config.
 */
import type {
  LogFields,
  Logger,
  Message,
  MessageType,
  NodeId,
  RaftConfig,
  ReadOnlyOption,
  Ready,
} from '../../src/index.js';
import {
  type ConfChangeSingle,
  decodeConfChange,
  describeConfState,
  describeEntry,
  describeHardState,
  describeMessage,
  describeReady,
  describeSoftState,
  MESSAGE_TYPES,
  MemoryLogStore,
  ProposalDroppedError,
  RaftError,
  RawNode,
} from '../../src/index.js';

type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'none';
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'none'];

/** A node of the environment: its store survives a crash, its RawNode does not. */
interface Slot {
  readonly id: NodeId;
  readonly store: MemoryLogStore;
  readonly config: RaftConfig;
  raw: RawNode | undefined;
  /** A Ready whose write is in flight (`start-ready`), with what the network dropped. */
  writing: { readonly ready: Ready; readonly dropped: Message[] } | undefined;
}

/** The message kinds `Ready.messages` may hold: none of them vouches for durable state. */
const SENDABLE_BEFORE_PERSIST: ReadonlySet<MessageType> = new Set<MessageType>([
  'MsgApp',
  'MsgHeartbeat',
  'MsgSnap',
  'MsgTimeoutNow',
]);

const encoder = new TextEncoder();
/** Stop a runaway `stabilize` (a livelock in the core would otherwise hang the test). */
const MAX_STABILIZE_ROUNDS = 200;

/** InteractionEnv holds the cluster of one script; `run` executes one command line. */
export class InteractionEnv {
  private slots = new Map<NodeId, Slot>();
  /** The network: messages sent and not yet delivered, in send order. */
  private inFlight: Message[] = [];
  private readonly isolated = new Set<NodeId>();
  private output: string[] = [];
  private indent = '';
  private logLevel: LogLevel = 'warn';

  /** run executes one command and returns what it printed (`ok` when nothing). */
  run(commandLine: string): string {
    this.output = [];
    this.indent = '';
    const [command = '', ...words] = commandLine.trim().split(/\s+/);
    const args = words.filter((word) => !word.includes('='));
    const options = new Map(
      words
        .filter((word) => word.includes('='))
        .map((word) => word.split('=', 2) as [string, string]),
    );
    switch (command) {
      case 'add-nodes':
        this.addNodes(toInt(args[0]), options);
        break;
      case 'log-level':
        this.logLevel = oneOf(args[0], LOG_LEVELS, 'log level');
        break;
      case 'tick-election':
        for (const id of ids(args)) this.tick(id, this.slot(id).config.electionTicks ?? 10);
        break;
      case 'tick-heartbeat':
        for (const id of ids(args)) this.tick(id, this.slot(id).config.heartbeatTicks ?? 1);
        break;
      case 'tick':
        this.tick(toInt(args[0]), toInt(args[1]));
        break;
      case 'campaign':
        this.call(toInt(args[0]), (raw) => raw.campaign());
        break;
      case 'propose':
        this.call(toInt(args[0]), (raw) => raw.propose(bytes(args[1])));
        break;
      case 'propose-batch':
        this.call(toInt(args[0]), (raw) => raw.proposeBatch(args.slice(1).map(bytes)));
        break;
      case 'read-index':
        this.call(toInt(args[0]), (raw) => raw.readIndex(bytes(args[1])));
        break;
      case 'propose-conf-change':
        this.call(toInt(args[0]), (raw) =>
          raw.proposeConfChange({
            transition: 'auto',
            changes: args.slice(1).map(confChangeSingle),
            context: new Uint8Array(),
          }),
        );
        break;
      case 'transfer-leader':
        this.call(toInt(args[0]), (raw) => raw.transferLeader(toInt(args[1])));
        break;
      case 'process-ready':
        this.forEachWithHeader(ids(args), 'handling Ready', (id) => this.processReady(id));
        break;
      case 'start-ready':
        this.startReady(toInt(args[0]));
        break;
      case 'finish-ready':
        this.finishReady(toInt(args[0]));
        break;
      case 'deliver-msgs':
        this.deliverMsgs(args, options);
        break;
      case 'stabilize':
        this.stabilize(args.length > 0 ? ids(args) : [...this.slots.keys()]);
        break;
      case 'status':
        this.status(toInt(args[0]));
        break;
      case 'raft-log':
        this.raftLog(toInt(args[0]));
        break;
      case 'raft-state':
        this.raftState();
        break;
      case 'isolate':
        this.isolated.add(this.slot(toInt(args[0])).id);
        this.dropInFlight((m) => this.isolated.has(m.from) || this.isolated.has(m.to));
        break;
      case 'recover':
        this.isolated.clear();
        break;
      case 'crash': {
        const slot = this.slot(toInt(args[0]));
        slot.raw = undefined;
        slot.writing = undefined; // a write in flight is lost, and so are the messages it held
        this.dropInFlight((m) => m.to === slot.id);
        break;
      }
      case 'restart': {
        const slot = this.slot(toInt(args[0]));
        if (slot.raw !== undefined) throw new Error(`node ${slot.id} is running`);
        slot.raw = new RawNode(slot.config, slot.store);
        break;
      }
      default:
        throw new Error(`unknown command '${command}'`);
    }
    return this.output.length > 0 ? this.output.join('\n') : 'ok';
  }

  // --- setup ---------------------------------------------------------------------------

  private addNodes(count: number, options: Map<string, string>): void {
    const known = ['preVote', 'checkQuorum', 'disableProposalForwarding', 'electionTicks'];
    known.push('heartbeatTicks', 'maxInflightMsgs', 'maxSizePerMsg', 'readOnly');
    known.push('maxUncommittedEntriesSize');
    for (const key of options.keys())
      if (!known.includes(key)) throw new Error(`unknown option ${key}`);
    const flag = (key: string, fallback: boolean) =>
      options.has(key) ? oneOf(options.get(key), ['true', 'false'], key) === 'true' : fallback;
    const number = (key: string, fallback: number) =>
      options.has(key) ? toInt(options.get(key)) : fallback;
    const voters = Array.from({ length: count }, (_, i) => i + 1);
    this.slots = new Map();
    this.inFlight = [];
    this.isolated.clear();
    for (const id of voters) {
      const config: RaftConfig = {
        id,
        peers: voters,
        electionTicks: number('electionTicks', 10),
        heartbeatTicks: number('heartbeatTicks', 1),
        preVote: flag('preVote', true),
        checkQuorum: flag('checkQuorum', true),
        disableProposalForwarding: flag('disableProposalForwarding', false),
        maxInflightMsgs: number('maxInflightMsgs', 256),
        maxSizePerMsg: number('maxSizePerMsg', 1024 * 1024),
        ...(options.has('maxUncommittedEntriesSize')
          ? { maxUncommittedEntriesSize: number('maxUncommittedEntriesSize', 0) }
          : {}),
        readOnlyOption: oneOf<ReadOnlyOption>(
          options.get('readOnly') ?? 'safe',
          ['safe', 'leaseBased'],
          'readOnly',
        ),
        // The "random" part of node i's election timeout is always i - 1 (see above).
        random: (bound: number) => (id - 1) % bound,
        logger: this.loggerFor(id),
      };
      const store = new MemoryLogStore({
        voters,
        learners: [],
        votersOutgoing: [],
        learnersNext: [],
        autoLeave: false,
      });
      this.slots.set(id, {
        id,
        store,
        config,
        raw: new RawNode(config, store),
        writing: undefined,
      });
    }
  }

  /** loggerFor prints a node's log lines (at or above the env's level) into the output. */
  private loggerFor(id: NodeId): Logger {
    const line =
      (level: LogLevel) =>
      (message: string, fields?: LogFields): void => {
        if (LOG_LEVELS.indexOf(level) < LOG_LEVELS.indexOf(this.logLevel)) return;
        let text = `${level.toUpperCase()} ${id} ${message}`;
        for (const [key, value] of Object.entries(fields ?? {})) {
          if (key === 'id' && value === id) continue;
          text += ` ${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`;
        }
        this.print(text);
      };
    return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
  }

  // --- output --------------------------------------------------------------------------

  private print(text: string): void {
    if (this.logLevel === 'none') return;
    for (const line of text.split('\n')) this.output.push(this.indent + line);
  }

  /** indented runs `body` with its output indented by two more spaces. */
  private indented(body: () => void): void {
    const saved = this.indent;
    this.indent += '  ';
    try {
      body();
    } finally {
      this.indent = saved;
    }
  }

  /** forEachWithHeader runs `body` per id, under a `> id what` header when there are several. */
  private forEachWithHeader(nodeIds: NodeId[], what: string, body: (id: NodeId) => void): void {
    if (nodeIds.length === 1) {
      body(nodeIds[0]!);
      return;
    }
    for (const id of nodeIds) {
      this.print(`> ${id} ${what}`);
      this.indented(() => body(id));
    }
  }

  // --- driving nodes -------------------------------------------------------------------

  private slot(id: NodeId): Slot {
    const slot = this.slots.get(id);
    if (slot === undefined) throw new Error(`no node ${id}`);
    return slot;
  }

  private running(id: NodeId): RawNode {
    const raw = this.slot(id).raw;
    if (raw === undefined) throw new Error(`node ${id} is crashed; restart it first`);
    return raw;
  }

  private tick(id: NodeId, count: number): void {
    const raw = this.running(id);
    for (let i = 0; i < count; i++) raw.tick();
  }

  /** call runs a RawNode method, printing (not throwing) the core's typed errors. */
  private call(id: NodeId, body: (raw: RawNode) => void): void {
    const raw = this.running(id);
    try {
      body(raw);
    } catch (error) {
      this.printError(error);
    }
  }

  private printError(error: unknown): void {
    // Anything but a RaftError is an invariant breach in the core: fail the test.
    if (!(error instanceof RaftError)) throw error;
    const reason = error instanceof ProposalDroppedError ? `(${error.reason})` : '';
    // Printed even at log level none, so a failing set-up step cannot go unnoticed.
    const level = this.logLevel;
    this.logLevel = 'error';
    this.print(`error: ${error.name}${reason}: ${error.message}`);
    this.logLevel = level;
  }

  /** processReady handles one Ready of node `id` in the order the `Ready` contract demands. */
  private processReady(id: NodeId): void {
    if (this.startReady(id)) this.finishReady(id);
  }

  /**
   * startReady takes a Ready, prints it and sends what may leave before it is durable;
   * its write is then in flight until `finishReady`. Returns false when there is no Ready.
   */
  private startReady(id: NodeId): boolean {
    const slot = this.slot(id);
    const raw = this.running(id);
    if (slot.writing !== undefined) throw new Error(`node ${id} has a Ready in flight`);
    if (!raw.hasReady()) {
      this.print('<no Ready>');
      return false;
    }
    const ready = raw.ready();
    this.print(describeReady(ready) || '<empty Ready>');
    // Every script checks the contract: only a leader's replication traffic may leave early.
    const early = ready.messages.find((message) => !SENDABLE_BEFORE_PERSIST.has(message.type));
    if (early !== undefined) {
      throw new Error(`Ready contract broken: ${describeMessage(early)} is sent before persisting`);
    }
    const dropped: Message[] = [];
    this.send(ready.messages, dropped);
    slot.writing = { ready, dropped };
    return true;
  }

  /** finishReady persists the Ready in flight, sends `persistedMessages`, applies and advances. */
  private finishReady(id: NodeId): void {
    const slot = this.slot(id);
    const raw = this.running(id);
    if (slot.writing === undefined) throw new Error(`node ${id} has no Ready in flight`);
    const { ready, dropped } = slot.writing;
    slot.writing = undefined;
    slot.store.apply({
      hardState: ready.hardState,
      entries: ready.entries,
      snapshot: ready.snapshot,
    });
    this.send(ready.persistedMessages, dropped);
    // Applying commands is a no-op here (the committed entries were printed with the
    // Ready); membership changes are applied to the node, in log order.
    for (const entry of ready.committedEntries) {
      if (entry.type !== 'confChange') continue;
      const confState = raw.applyConfChange(decodeConfChange(entry.data));
      this.print(`ConfState after ${entry.index}: ${describeConfState(confState)}`);
    }
    raw.advance(ready);
    if (dropped.length > 0) {
      this.print('Dropped by the network:');
      for (const message of dropped) this.print(`  ${describeMessage(message)}`);
    }
  }

  /** linkUp is whether a message can travel from `from` to `to` now. */
  private linkUp(from: NodeId, to: NodeId): boolean {
    if (this.isolated.has(from) || this.isolated.has(to)) return false;
    return this.slots.get(to)?.raw !== undefined;
  }

  private send(messages: readonly Message[], dropped: Message[]): void {
    for (const message of messages) {
      if (this.linkUp(message.from, message.to)) this.inFlight.push(message);
      else dropped.push(message);
    }
  }

  private dropInFlight(lost: (message: Message) => boolean): void {
    for (const message of this.inFlight.filter(lost)) {
      this.print(`lost in flight: ${describeMessage(message)}`);
    }
    this.inFlight = this.inFlight.filter((message) => !lost(message));
  }

  /** takeMessages removes and returns the in-flight messages to `to` (of `type`, if given). */
  private takeMessages(to: NodeId, type?: MessageType): Message[] {
    const taken: Message[] = [];
    const kept: Message[] = [];
    for (const message of this.inFlight) {
      const match = message.to === to && (type === undefined || message.type === type);
      (match ? taken : kept).push(message);
    }
    this.inFlight = kept;
    return taken;
  }

  private deliverMsgs(args: string[], options: Map<string, string>): void {
    const typeOption = options.get('type');
    const type = typeOption === undefined ? undefined : oneOf(typeOption, MESSAGE_TYPES, 'type');
    const dropOption = options.get('drop');
    if (dropOption !== undefined) {
      for (const id of ids(dropOption.split(','))) {
        for (const message of this.takeMessages(id, type)) {
          this.print(`dropped: ${describeMessage(message)}`);
        }
      }
    }
    const recipients = args.length > 0 ? ids(args) : [...this.slots.keys()];
    if (dropOption !== undefined && args.length === 0) return;
    for (const id of recipients) this.deliver(id, type);
  }

  /** deliver steps every in-flight message to `id` (of `type`), printing each. */
  private deliver(id: NodeId, type?: MessageType): void {
    for (const message of this.takeMessages(id, type)) {
      this.print(describeMessage(message));
      this.indented(() => this.call(id, (raw) => raw.step(message)));
    }
  }

  private stabilize(nodeIds: NodeId[]): void {
    const up = () => nodeIds.filter((id) => this.slot(id).raw !== undefined);
    for (let round = 0; round < MAX_STABILIZE_ROUNDS; round++) {
      let idle = true;
      for (const id of up()) {
        if (!this.running(id).hasReady()) continue;
        idle = false;
        this.print(`> ${id} handling Ready`);
        this.indented(() => this.processReady(id));
      }
      for (const id of up()) {
        if (!this.inFlight.some((message) => message.to === id)) continue;
        idle = false;
        this.print(`> ${id} receiving messages`);
        this.indented(() => this.deliver(id));
      }
      if (idle) return;
    }
    throw new Error(`stabilize did not settle within ${MAX_STABILIZE_ROUNDS} rounds`);
  }

  // --- inspection ----------------------------------------------------------------------

  private status(id: NodeId): void {
    const status = this.running(id).status();
    this.print(`${describeSoftState(status.softState)} ${describeHardState(status.hardState)}`);
    let line = `Applied:${status.applied} LastIndex:${status.lastIndex}`;
    if (status.leadTransferee !== 0) line += ` LeadTransferee:${status.leadTransferee}`;
    this.print(line);
    for (const [peer, p] of status.progress ?? []) {
      const active = p.recentActive ? ' active' : '';
      this.print(
        `${peer}: ${p.state} match=${p.match} next=${p.next} inflight=${p.inflight}${active}`,
      );
    }
  }

  private raftLog(id: NodeId): void {
    const raftLog = this.running(id).raft.raftLog;
    const entries = raftLog.allEntries();
    if (entries.length === 0) this.print('log is empty');
    const stable = raftLog.stableIndex();
    for (const entry of entries) {
      this.print(describeEntry(entry) + (entry.index > stable ? ' (unstable)' : ''));
    }
    this.print(`Committed:${raftLog.committed} Applied:${raftLog.applied}`);
  }

  private raftState(): void {
    for (const slot of this.slots.values()) {
      const isolated = this.isolated.has(slot.id) ? ' (isolated)' : '';
      if (slot.raw === undefined) {
        this.print(`${slot.id}: crashed${isolated}`);
        continue;
      }
      const raft = slot.raw.raft;
      this.print(`${slot.id}: ${raft.role} Term:${raft.term} Lead:${raft.leader}${isolated}`);
    }
  }
}

// --- argument parsing --------------------------------------------------------------------

function toInt(word: string | undefined): number {
  const value = Number(word);
  if (word === undefined || !Number.isSafeInteger(value)) {
    throw new Error(`expected an integer, got '${word ?? ''}'`);
  }
  return value;
}

function ids(words: readonly string[]): NodeId[] {
  if (words.length === 0) throw new Error('expected at least one node id');
  return words.map(toInt);
}

function oneOf<T extends string>(word: string | undefined, allowed: readonly T[], what: string): T {
  if (!allowed.includes(word as T)) {
    throw new Error(`bad ${what} '${word ?? ''}': expected one of ${allowed.join(', ')}`);
  }
  return word as T;
}

function bytes(word: string | undefined): Uint8Array {
  if (word === undefined) throw new Error('expected a payload');
  return encoder.encode(word);
}

/** confChangeSingle parses `vN` (add voter), `lN` (add learner) or `rN` (remove). */
function confChangeSingle(word: string): ConfChangeSingle {
  const match = /^([vlr])(\d+)$/.exec(word);
  if (match === null) throw new Error(`bad conf change '${word}': want vN, lN or rN`);
  const type = match[1] === 'v' ? 'addNode' : match[1] === 'l' ? 'addLearnerNode' : 'removeNode';
  return { type, nodeId: Number(match[2]) };
}
