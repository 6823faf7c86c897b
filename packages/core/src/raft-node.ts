import type { ConfChange, ConfChangeSingle } from './conf-change.js';
import { decodeConfChange } from './conf-change.js';
import {
  NodeStoppedError,
  ProposalDroppedError,
  ProposalLostError,
  ProposalTimeoutError,
  RaftError,
  ReadIndexError,
  SnapshotOutOfDateError,
} from './errors.js';
import type { LogStore } from './log-store.js';
import type { Message } from './message.js';
import type { Logger, StateMachine, Ticker, Transport } from './ports.js';
import { SILENT_LOGGER } from './ports.js';
import { decodeProposal, encodeProposal } from './proposal-envelope.js';
import type { RaftConfig } from './raft-config.js';
import type { SnapshotStatus, Status } from './raw-node.js';
import { RawNode } from './raw-node.js';
import { contextKey } from './read-only.js';
import type { Ready } from './ready.js';
import type { ConfState, Entry, NodeId, Snapshot, SoftState } from './types.js';
import { NONE } from './types.js';

/** RaftNodeOptions are the ports and settings a RaftNode runs over. */
export interface RaftNodeOptions<Result> {
  readonly config: RaftConfig;
  readonly store: LogStore;
  readonly stateMachine: StateMachine<Result>;
  readonly transport: Transport;
  readonly ticker: Ticker;
  /**
   * Ticks after which a proposal or read with no outcome is rejected with
   * ProposalTimeoutError / ReadIndexError. Default 5 × electionTicks.
   */
  readonly requestTimeoutTicks?: number;
  /** Called whenever the leader or this node's role changes. */
  readonly onSoftState?: (softState: SoftState) => void;
  /**
   * onConfChange is called when this node applies a configuration change (in log order with the
   * commands around it), with the change — its context as proposed — and the new
   * membership; the application updates its transport (peers to connect to or drop).
   */
  readonly onConfChange?: (cc: ConfChange, confState: ConfState) => void;
  /**
   * skipConfChange lets the application refuse one single change of a committed
   * configuration change when it is applied — etcd's server does so for a member id it
   * removed before, which can never return (a proposal to add it, delayed in the network,
   * may still commit after its removal). A skipped change is not applied and not passed
   * to `onConfChange`; a change whose every single change is skipped leaves the
   * membership as it is (and `onConfChange` is not called). It is also asked when a
   * durable state machine's changes are replayed at start. The answer must depend only on replicated state (what was
   * applied before this entry), so that every node applies the same membership.
   */
  readonly skipConfChange?: (change: ConfChangeSingle, context: Uint8Array) => boolean;
  /** Called when the node stops because of a fatal error (failed save, failing state machine). */
  readonly onFatal?: (error: unknown) => void;
  /**
   * When to snapshot (needs `StateMachine.snapshot`): after `everyEntries` applied
   * entries, the state machine's image is saved with `LogStore.createSnapshot` and the
   * log is compacted, keeping the last `keepEntries` entries so slightly-behind
   * followers catch up from the log. With a `phase` (0 ≤ phase < everyEntries) the
   * snapshots are taken when the applied index passes `phase + k × everyEntries`
   * instead: members given different phases do not all snapshot at the same index (the
   * first snapshot then comes after fewer than `everyEntries` entries). Off by default.
   */
  readonly snapshot?: SnapshotPolicy;
  readonly logger?: Logger;
}

/** SnapshotPolicy says when RaftNode snapshots (see RaftNodeOptions.snapshot). */
export interface SnapshotPolicy {
  readonly everyEntries: number;
  readonly keepEntries: number;
  readonly phase?: number;
}

/**
 * snapshotDue reports whether a snapshot is due at `applied` after the last one at
 * `last`: `everyEntries` entries after it, or, with a phase, once `applied` passed the
 * next point `phase + k × everyEntries` above `last`.
 */
export function snapshotDue(policy: SnapshotPolicy, last: number, applied: number): boolean {
  const every = policy.everyEntries;
  const phase = policy.phase;
  if (phase === undefined) return applied - last >= every;
  const period = (index: number) => Math.floor((index - phase) / every);
  return period(applied) > period(last);
}

interface PendingProposal {
  /** Resolves with the state machine's result, or the ConfState for a configuration change. */
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly deadline: number;
  /** Set once the entry is in this (leader) node's log. */
  index: number;
  term: number;
}

interface PendingRead {
  readonly resolve: (index: number) => void;
  readonly reject: (error: unknown) => void;
  readonly deadline: number;
}

interface ReadBatch {
  readonly reads: PendingRead[];
  /** The read point, once the leader answered. */
  index: number | undefined;
  /** The request's context, to ask again if no answer comes. */
  readonly context: Uint8Array;
  /** The tick at which the read point was last asked for. */
  askedAt: number;
}

/**
 * RaftNode drives a RawNode over injected ports: it ticks on the Ticker, steps messages
 * the transport hands it, and runs the Ready loop — send leader traffic, persist in one
 * `LogStore.save`, send what waited for persistence, apply committed entries to the
 * StateMachine, `advance`. Everything that arrives while a save is in flight (proposals,
 * reads, messages) is handled as one batch in the next turn: one append, one fsync, one
 * MsgApp per peer. Proposals resolve with the state machine's result once applied on
 * this node.
 *
 * Proposals made through a RaftNode are wrapped in a small envelope (proposer id and a
 * sequence number) so that a follower can recognise its own forwarded proposals when
 * they are applied; the StateMachine sees only the original command bytes.
 */
export class RaftNode<Result = unknown> {
  readonly id: NodeId;
  private readonly raw: RawNode;
  private readonly options: RaftNodeOptions<Result>;
  private readonly logger: Logger;
  private readonly timeoutTicks: number;
  private ticks = 0;
  private sequence = 0;
  private readonly pending = new Map<number, PendingProposal>();
  /** Sequence numbers of our own proposals by the log index they were appended at (as leader). */
  private readonly pendingByIndex = new Map<number, number>();
  private queuedProposals: { sequence: number; envelope: Uint8Array }[] = [];
  private queuedConfChanges: { sequence: number; cc: ConfChange }[] = [];
  private queuedReads: PendingRead[] = [];
  private readonly readBatches = new Map<string, ReadBatch>();
  private readCounter = 0;
  private running = false;
  private scheduled = false;
  private stopped = false;
  private started = false;
  private fatalError: unknown;
  private loopDone: Promise<void> = Promise.resolve();
  private softState: SoftState;
  private appliedIndex: number;
  private pendingRestore: Snapshot | undefined;
  private snapshotIndex: number;
  private snapshotting: Promise<void> | undefined;

  constructor(options: RaftNodeOptions<Result>) {
    this.options = options;
    this.logger = options.logger ?? options.config.logger ?? SILENT_LOGGER;
    // A stored snapshot is restored into the state machine before anything after it is
    // applied; raft must then start applying right after it.
    const stored = options.store.snapshot();
    const durableApplied = options.config.applied ?? 0;
    this.pendingRestore = stored.metadata.index > durableApplied ? stored : undefined;
    const applied = Math.max(durableApplied, this.pendingRestore?.metadata.index ?? 0);
    this.raw = new RawNode({ ...options.config, applied, logger: this.logger }, options.store);
    this.id = this.raw.raft.id;
    this.timeoutTicks = options.requestTimeoutTicks ?? 5 * this.raw.raft.config.electionTicks;
    this.softState = this.raw.raft.softState();
    this.appliedIndex = this.raw.raft.raftLog.applied;
    this.snapshotIndex = this.raw.raft.raftLog.firstIndex() - 1;
    this.replayConfChanges(stored.metadata.index, applied);
    if (
      options.snapshot !== undefined &&
      options.stateMachine.snapshot === undefined &&
      options.stateMachine.captureSnapshot === undefined
    ) {
      throw new RaftError(
        'NO_SNAPSHOT',
        'a snapshot policy needs a state machine with snapshot() or captureSnapshot()',
      );
    }
  }

  /**
   * replayConfChanges re-applies the configuration changes between the stored snapshot
   * and an `applied` index the state machine already holds (a durable state machine):
   * the store only knows the snapshot's membership, and those entries will not be
   * applied again.
   */
  private replayConfChanges(snapshotIndex: number, applied: number): void {
    const store = this.options.store;
    const lo = Math.max(snapshotIndex + 1, store.firstIndex());
    const hi = Math.min(applied, store.lastIndex()) + 1;
    for (let index = lo; index < hi; ) {
      const entries = store.entries(index, hi);
      for (const entry of entries) {
        if (entry.type === 'confChange') this.applyToRaft(entry, decodeConfChange(entry.data));
      }
      index += entries.length;
    }
  }

  /** start begins ticking. Messages may be stepped before it; they are processed at once. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.options.ticker.start(() => this.tick());
    this.schedule();
  }

  /** stop stops ticking, waits for the current write, and fails every pending request. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.options.ticker.stop();
    await this.loopDone;
    await this.snapshotting?.catch(() => undefined);
    this.failAll(new NodeStoppedError());
  }

  /** tick advances the logical clock (the Ticker calls it). */
  tick(): void {
    if (this.stopped) return;
    this.ticks++;
    this.raw.tick();
    this.expireRequests();
    this.retryReads();
    this.schedule();
  }

  /**
   * retryReads asks again for read points not answered within an election timeout: a
   * MsgReadIndex (or its answer) lost on the way, or sent to a leader that has since
   * been replaced, would otherwise hold the read until its deadline. The leader ignores
   * a context it already has pending, so asking twice is harmless.
   */
  private retryReads(): void {
    const interval = this.raw.raft.config.electionTicks;
    for (const batch of this.readBatches.values()) {
      if (batch.index !== undefined || this.ticks - batch.askedAt < interval) continue;
      batch.askedAt = this.ticks;
      try {
        this.raw.readIndex(batch.context);
      } catch (error) {
        this.logger.debug('read index retry failed', { error: String(error) });
      }
    }
  }

  /**
   * step hands the node a message from a peer. Invalid messages are logged and dropped;
   * this never throws.
   */
  step(message: Message): void {
    if (this.stopped) return;
    try {
      this.raw.step(message);
    } catch (error) {
      if (error instanceof RaftError) {
        this.logger.debug('dropped message', {
          type: message.type,
          from: message.from,
          reason: error.message,
        });
      } else {
        this.fail(error);
        return;
      }
    }
    this.schedule();
  }

  /**
   * propose replicates `command` and resolves with the state machine's result once it
   * is applied on this node. Rejects with ProposalDroppedError (never applied; safe to
   * retry), ProposalLostError (overwritten; safe to retry), ProposalTimeoutError (outcome
   * unknown) or NodeStoppedError.
   */
  propose(command: Uint8Array): Promise<Result> {
    if (this.stopped) return Promise.reject(new NodeStoppedError());
    if (this.raw.raft.leader === NONE && this.raw.raft.role !== 'leader') {
      return Promise.reject(new ProposalDroppedError('noLeader'));
    }
    return new Promise<Result>((resolve, reject) => {
      const sequence = ++this.sequence;
      this.pending.set(sequence, {
        resolve: (result) => resolve(result as Result),
        reject,
        deadline: this.ticks + this.timeoutTicks,
        index: 0,
        term: 0,
      });
      this.queuedProposals.push({ sequence, envelope: encodeProposal(this.id, sequence, command) });
      this.schedule();
    });
  }

  /**
   * proposeConfChange proposes a membership change (Raft paper §6) and resolves with the
   * new membership once the change is applied on this node (after `onConfChange`). It
   * rejects like `propose`, and with ProposalDroppedError 'confChangePending' while
   * another change is in progress or ConfChangeError when the change is invalid for the
   * current configuration (when proposed on the leader; a forwarded invalid change
   * times out).
   */
  proposeConfChange(cc: ConfChange): Promise<ConfState> {
    if (this.stopped) return Promise.reject(new NodeStoppedError());
    if (this.raw.raft.leader === NONE && this.raw.raft.role !== 'leader') {
      return Promise.reject(new ProposalDroppedError('noLeader'));
    }
    return new Promise<ConfState>((resolve, reject) => {
      const sequence = ++this.sequence;
      this.pending.set(sequence, {
        resolve: (result) => resolve(result as ConfState),
        reject,
        deadline: this.ticks + this.timeoutTicks,
        index: 0,
        term: 0,
      });
      // The proposer's envelope rides in the context, so that this node recognises its
      // change when applying it even if it was forwarded; the context is unwrapped again
      // before the application sees it.
      const wrapped: ConfChange = {
        transition: cc.transition,
        changes: cc.changes,
        context: encodeProposal(this.id, sequence, cc.context),
      };
      this.queuedConfChanges.push({ sequence, cc: wrapped });
      this.schedule();
    });
  }

  /**
   * read waits for a linearizable read point (ReadIndex, thesis §6.4) and resolves with
   * it once this node has applied at least that far: reading the state machine then
   * observes every write acknowledged before `read` was called. Reads arriving together
   * share one ReadIndex round.
   */
  read(): Promise<number> {
    if (this.stopped) return Promise.reject(new NodeStoppedError());
    if (this.raw.raft.leader === NONE && this.raw.raft.role !== 'leader') {
      return Promise.reject(new ReadIndexError('no leader is known'));
    }
    return new Promise<number>((resolve, reject) => {
      this.queuedReads.push({ resolve, reject, deadline: this.ticks + this.timeoutTicks });
      this.schedule();
    });
  }

  /** campaign makes this node start an election now. */
  campaign(): void {
    this.raw.campaign();
    this.schedule();
  }

  /** transferLeader asks the leader to hand leadership to `transferee`. */
  transferLeader(transferee: NodeId): void {
    this.raw.transferLeader(transferee);
    this.schedule();
  }

  /** reportUnreachable tells the node a peer could not be reached (the transport calls it). */
  reportUnreachable(id: NodeId): void {
    this.raw.reportUnreachable(id);
    this.schedule();
  }

  /** reportSnapshot tells the node how a snapshot transfer ended. */
  reportSnapshot(id: NodeId, status: SnapshotStatus): void {
    this.raw.reportSnapshot(id, status);
    this.schedule();
  }

  /** status reports the node's state. */
  status(): Status {
    return this.raw.status();
  }

  /** isLeader reports whether this node is the leader. */
  isLeader(): boolean {
    return this.raw.raft.role === 'leader';
  }

  /** term returns the current term (cheap; `status()` builds a full report). */
  term(): number {
    return this.raw.raft.term;
  }

  /** commitIndex returns the highest index known committed. */
  commitIndex(): number {
    return this.raw.raft.raftLog.committed;
  }

  /** leader returns the known leader, or NONE. */
  leader(): NodeId {
    return this.raw.raft.leader;
  }

  /** applied is the index of the last entry applied to the state machine. */
  applied(): number {
    return this.appliedIndex;
  }

  // --- the loop --------------------------------------------------------------------------

  private schedule(): void {
    if (this.scheduled || this.running || this.stopped) return;
    this.scheduled = true;
    // Run after the current turn's synchronous work, so what arrives together is batched.
    this.loopDone = Promise.resolve().then(() => this.runLoop());
  }

  private async runLoop(): Promise<void> {
    this.scheduled = false;
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      if (this.pendingRestore !== undefined) await this.restoreAtStart(this.pendingRestore);
      for (;;) {
        this.flushProposals();
        this.flushReads();
        if (!this.raw.hasReady()) break;
        await this.handleReady(this.raw.ready());
        if (this.stopped) break;
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.running = false;
    }
  }

  /**
   * restoreAtStart loads the stored snapshot into the state machine before any entry
   * after it is applied (unless the state machine is durable and already past it).
   */
  private async restoreAtStart(snapshot: Snapshot): Promise<void> {
    this.pendingRestore = undefined;
    const index = snapshot.metadata.index;
    if (this.options.stateMachine.restore === undefined) {
      throw new RaftError(
        'NO_RESTORE',
        'the store holds a snapshot but the state machine cannot restore one',
      );
    }
    await this.options.stateMachine.restore(snapshot);
    this.appliedIndex = index;
    this.logger.info('state machine restored from the stored snapshot', {
      index,
      term: snapshot.metadata.term,
    });
  }

  /**
   * maybeSnapshot takes the state machine's image of the applied index — with
   * `captureSnapshot`, only a cheap capture now and the image while later entries are
   * applied (the node keeps voting, replicating and applying meanwhile); else the whole
   * image now, with the loop paused — then writes it and compacts the log in the
   * background; the store orders those writes after earlier saves.
   */
  private async maybeSnapshot(): Promise<void> {
    const policy = this.options.snapshot;
    const stateMachine = this.options.stateMachine;
    if (policy === undefined || this.snapshotting !== undefined) return;
    if (stateMachine.captureSnapshot === undefined && stateMachine.snapshot === undefined) return;
    if (!snapshotDue(policy, this.snapshotIndex, this.appliedIndex)) return;
    const index = this.appliedIndex;
    const confState = this.raw.status().confState;
    const produce =
      stateMachine.captureSnapshot !== undefined ? stateMachine.captureSnapshot() : undefined;
    const ready = produce === undefined ? await stateMachine.snapshot!() : undefined;
    const store = this.options.store;
    const started = this.ticks;
    this.snapshotting = (async () => {
      const data = ready ?? (await produce!());
      // A snapshot received from the leader meanwhile is newer: this one is moot.
      if (index <= this.snapshotIndex || this.stopped) return;
      try {
        await store.createSnapshot(index, confState, data);
      } catch (error) {
        if (error instanceof SnapshotOutOfDateError) return;
        throw error;
      }
      this.snapshotIndex = Math.max(this.snapshotIndex, index);
      const compactTo = index - policy.keepEntries;
      if (compactTo > store.firstIndex() - 1) await store.compact(compactTo);
      this.logger.info('snapshot taken', {
        index,
        bytes: data.length,
        compactedTo: Math.max(0, compactTo),
        ticks: this.ticks - started,
      });
    })().then(
      () => {
        this.snapshotting = undefined;
      },
      (error: unknown) => {
        this.snapshotting = undefined;
        this.fail(error);
      },
    );
  }

  private flushConfChanges(): void {
    if (this.queuedConfChanges.length === 0) return;
    const queued = this.queuedConfChanges;
    this.queuedConfChanges = [];
    const raft = this.raw.raft;
    for (const { sequence, cc } of queued) {
      try {
        this.raw.proposeConfChange(cc);
      } catch (error) {
        this.rejectProposal(sequence, error);
        continue;
      }
      const proposal = this.pending.get(sequence);
      if (raft.role === 'leader' && proposal !== undefined) {
        proposal.index = raft.raftLog.lastIndex();
        proposal.term = raft.term;
        this.pendingByIndex.set(proposal.index, sequence);
      }
    }
  }

  private flushProposals(): void {
    this.flushConfChanges();
    if (this.queuedProposals.length === 0) return;
    const batch = this.queuedProposals;
    this.queuedProposals = [];
    const raft = this.raw.raft;
    try {
      this.raw.proposeBatch(batch.map((item) => item.envelope));
    } catch (error) {
      for (const { sequence } of batch) this.rejectProposal(sequence, error);
      return;
    }
    if (raft.role === 'leader') {
      // The batch was appended at the end of our log: remember where, to detect loss.
      let index = raft.raftLog.lastIndex() - batch.length;
      for (const { sequence } of batch) {
        const proposal = this.pending.get(sequence);
        index++;
        if (proposal !== undefined) {
          proposal.index = index;
          this.pendingByIndex.set(index, sequence);
          proposal.term = raft.term;
        }
      }
    }
  }

  private flushReads(): void {
    if (this.queuedReads.length === 0) return;
    const reads = this.queuedReads;
    this.queuedReads = [];
    const context = new Uint8Array(12);
    let counter = ++this.readCounter;
    context[0] = 0x52; // 'R'
    for (let i = 1; i < 12; i++) {
      context[i] = counter & 0xff;
      counter = Math.floor(counter / 256);
    }
    const key = contextKey(context);
    this.readBatches.set(key, { reads, index: undefined, context, askedAt: this.ticks });
    try {
      this.raw.readIndex(context);
    } catch (error) {
      this.readBatches.delete(key);
      for (const read of reads) read.reject(error);
    }
  }

  private async handleReady(ready: Ready): Promise<void> {
    const transport = this.options.transport;
    if (ready.messages.length > 0) transport.send(ready.messages);
    let saving: Promise<void> | undefined;
    if (ready.hardState !== undefined || ready.entries.length > 0 || ready.snapshot !== undefined) {
      saving = this.options.store.save({
        hardState: ready.hardState,
        entries: ready.entries,
        snapshot: ready.snapshot,
        // Only a commit index moved: nothing here must survive a crash (it is
        // recomputed), so the store may skip the fsync (etcd's MustSync).
        sync: ready.mustSync,
      });
      // A rejection is handled where it is awaited; don't let it go unobserved meanwhile.
      saving.catch(() => undefined);
    }
    if (ready.snapshot !== undefined) {
      // The snapshot replaces the state: it must be on disk before the state machine
      // takes it, and nothing else in this Ready is applied before it.
      await saving;
      saving = undefined;
      if (this.stopped) return;
      if (this.options.stateMachine.restore === undefined) {
        throw new RaftError(
          'NO_RESTORE',
          'received a snapshot but the state machine cannot restore one',
        );
      }
      await this.options.stateMachine.restore(ready.snapshot);
      this.appliedIndex = ready.snapshot.metadata.index;
      this.snapshotIndex = Math.max(this.snapshotIndex, ready.snapshot.metadata.index);
      this.logger.info('state machine restored from a received snapshot', {
        index: ready.snapshot.metadata.index,
        term: ready.snapshot.metadata.term,
        bytes: ready.snapshot.data.length,
      });
    }
    // Committed entries are always durable already (the core hands out only stable
    // ones), so they are applied while this Ready's write is in flight: applying one
    // batch overlaps persisting the next, as etcd does.
    if (ready.committedEntries.length > 0) await this.apply(ready.committedEntries);
    await saving;
    if (this.stopped) return;
    if (ready.persistedMessages.length > 0) transport.send(ready.persistedMessages);
    if (ready.committedEntries.length > 0) await this.maybeSnapshot();
    for (const readState of ready.readStates) {
      const batch = this.readBatches.get(contextKey(readState.context));
      if (batch !== undefined) batch.index = readState.index;
    }
    this.raw.advance(ready);
    this.resolveReads();
    if (ready.softState !== undefined) this.onSoftState(ready.softState);
  }

  /**
   * apply applies committed entries in log order: runs of commands go to the state
   * machine in one call; each configuration change between them is applied to the raft
   * membership by itself (its position in the log is where it takes effect).
   */
  private async apply(entries: readonly Entry[]): Promise<void> {
    // Proposals of ours that an overwritten entry stood for are lost.
    for (const entry of entries) this.detectLostProposal(entry);
    let start = 0;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      if (entry.type !== 'confChange') continue;
      if (i > start) await this.applyCommands(entries.slice(start, i));
      start = i + 1;
      this.applyConfChangeEntry(entry);
    }
    if (start < entries.length) {
      await this.applyCommands(start === 0 ? entries : entries.slice(start));
    }
    this.appliedIndex = entries[entries.length - 1]!.index;
  }

  /**
   * applyConfChangeEntry applies one committed configuration change. A change that
   * cannot be decoded or applied means this node's membership no longer follows the
   * group's (the leader validates every change before appending it): that is fatal.
   */
  private applyConfChangeEntry(entry: Entry): void {
    const cc = decodeConfChange(entry.data);
    const envelope = decodeProposal(cc.context);
    const owner =
      envelope !== undefined && envelope.proposer === this.id ? envelope.sequence : undefined;
    const context = envelope === undefined ? cc.context : envelope.command;
    const { changes, confState } = this.applyToRaft(entry, cc, context);
    const visible: ConfChange = { transition: cc.transition, changes, context };
    this.logger.info('configuration change applied', {
      id: this.id,
      index: entry.index,
      voters: confState.voters,
      outgoing: confState.votersOutgoing,
      learners: confState.learners,
    });
    if (changes.length > 0 || cc.changes.length === 0)
      this.options.onConfChange?.(visible, confState);
    if (owner === undefined) return;
    const proposal = this.pending.get(owner);
    if (proposal === undefined) return;
    this.pending.delete(owner);
    proposal.resolve(confState);
  }

  /**
   * applyToRaft applies a committed change to the raft membership, less the single
   * changes the application skips (`skipConfChange`); it returns those it applied.
   */
  private applyToRaft(
    entry: Entry,
    cc: ConfChange,
    context: Uint8Array = decodeProposal(cc.context)?.command ?? cc.context,
  ): { changes: readonly ConfChangeSingle[]; confState: ConfState } {
    const skip = this.options.skipConfChange;
    const changes =
      skip === undefined ? cc.changes : cc.changes.filter((change) => !skip(change, context));
    if (changes.length === cc.changes.length) {
      return { changes, confState: this.raw.applyConfChange(cc) };
    }
    this.logger.warn('configuration change skipped by the application', {
      id: this.id,
      index: entry.index,
      skipped: cc.changes.filter((change) => !changes.includes(change)),
    });
    // All skipped: nothing to apply (an empty change would mean "leave the joint
    // configuration").
    const confState =
      changes.length === 0
        ? this.raw.confState()
        : this.raw.applyConfChange({ transition: cc.transition, changes, context: cc.context });
    return { changes, confState };
  }

  private async applyCommands(entries: readonly Entry[]): Promise<void> {
    const commands: Entry[] = [];
    const owners: (number | undefined)[] = [];
    for (const entry of entries) {
      if (entry.type !== 'normal' || entry.data.length === 0) continue;
      const decoded = decodeProposal(entry.data);
      if (decoded === undefined) {
        commands.push(entry);
        owners.push(undefined);
        continue;
      }
      commands.push({
        term: entry.term,
        index: entry.index,
        type: entry.type,
        data: decoded.command,
      });
      owners.push(decoded.proposer === this.id ? decoded.sequence : undefined);
    }
    if (commands.length === 0) return;
    const results = await this.options.stateMachine.apply(commands);
    for (let i = 0; i < commands.length; i++) {
      const sequence = owners[i];
      if (sequence === undefined) continue;
      const proposal = this.pending.get(sequence);
      if (proposal === undefined) continue;
      this.pending.delete(sequence);
      proposal.resolve(results[i] as Result);
    }
  }

  private detectLostProposal(entry: Entry): void {
    const sequence = this.pendingByIndex.get(entry.index);
    if (sequence === undefined) return;
    this.pendingByIndex.delete(entry.index);
    const proposal = this.pending.get(sequence);
    if (proposal !== undefined && proposal.index === entry.index && proposal.term !== entry.term) {
      this.pending.delete(sequence);
      proposal.reject(new ProposalLostError(proposal.index, proposal.term));
    }
  }

  private resolveReads(): void {
    for (const [key, batch] of this.readBatches) {
      if (batch.index === undefined || this.appliedIndex < batch.index) continue;
      this.readBatches.delete(key);
      for (const read of batch.reads) read.resolve(batch.index);
    }
  }

  private onSoftState(softState: SoftState): void {
    const previous = this.softState;
    this.softState = softState;
    if (previous.role === 'leader' && softState.role !== 'leader') {
      // Reads waiting for our own ReadIndex confirmation can no longer be answered.
      for (const [key, batch] of this.readBatches) {
        if (batch.index !== undefined) continue;
        this.readBatches.delete(key);
        for (const read of batch.reads) read.reject(new ReadIndexError('leadership was lost'));
      }
    }
    this.logger.info('soft state changed', {
      id: this.id,
      leader: softState.leader,
      role: softState.role,
    });
    this.options.onSoftState?.(softState);
  }

  private expireRequests(): void {
    for (const [sequence, proposal] of this.pending) {
      if (proposal.deadline <= this.ticks) {
        this.pending.delete(sequence);
        if (proposal.index > 0) this.pendingByIndex.delete(proposal.index);
        proposal.reject(new ProposalTimeoutError(this.timeoutTicks));
      }
    }
    for (const [key, batch] of this.readBatches) {
      const expired = batch.reads.filter((read) => read.deadline <= this.ticks);
      if (expired.length === 0) continue;
      for (const read of expired)
        read.reject(new ReadIndexError(`no read point within ${this.timeoutTicks} ticks`));
      const remaining = batch.reads.filter((read) => read.deadline > this.ticks);
      if (remaining.length === 0) this.readBatches.delete(key);
      else this.readBatches.set(key, { ...batch, reads: remaining });
    }
  }

  private rejectProposal(sequence: number, error: unknown): void {
    const proposal = this.pending.get(sequence);
    if (proposal === undefined) return;
    this.pending.delete(sequence);
    proposal.reject(error);
  }

  private fail(error: unknown): void {
    if (this.stopped) return;
    this.fatalError = error;
    this.stopped = true;
    this.options.ticker.stop();
    this.logger.error('raft node stopped on a fatal error', { id: this.id, error: String(error) });
    this.failAll(new NodeStoppedError(`the raft node stopped: ${String(error)}`));
    this.options.onFatal?.(error);
  }

  /** error returns the fatal error that stopped the node, if any. */
  error(): unknown {
    return this.fatalError;
  }

  private failAll(error: RaftError): void {
    for (const proposal of this.pending.values()) proposal.reject(error);
    this.pending.clear();
    this.pendingByIndex.clear();
    for (const batch of this.readBatches.values())
      for (const read of batch.reads) read.reject(error);
    this.readBatches.clear();
    for (const read of this.queuedReads) read.reject(error);
    this.queuedReads = [];
    this.queuedProposals = [];
    for (const { sequence } of this.queuedConfChanges) this.rejectProposal(sequence, error);
    this.queuedConfChanges = [];
  }
}
