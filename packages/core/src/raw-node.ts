import type { ConfChange } from './conf-change.js';
import { encodeConfChange } from './conf-change.js';
import { InvalidMessageError, RaftError } from './errors.js';
import type { LogStore } from './log-store.js';
import type { Message } from './message.js';
import { isLocalMessage, isResponseMessage } from './message.js';
import type { ProgressState } from './progress.js';
import { Raft } from './raft.js';
import type { RaftConfig } from './raft-config.js';
import type { Ready } from './ready.js';
import { confStateFromConfig } from './tracker.js';
import type { ConfState, Entry, HardState, NodeId, SoftState } from './types.js';
import { EMPTY_DATA, hardStateEqual, NONE } from './types.js';

/** ProgressStatus is a leader's view of one peer, as reported by `status()`. */
export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly recentActive: boolean;
  readonly isLearner: boolean;
  readonly inflight: number;
}

/** Status is a snapshot of a node's state for monitoring and tests. */
export interface Status {
  readonly id: NodeId;
  readonly hardState: HardState;
  readonly softState: SoftState;
  readonly applied: number;
  readonly lastIndex: number;
  readonly leadTransferee: NodeId;
  readonly confState: ConfState;
  /** Per-peer progress; only on a leader. */
  readonly progress?: ReadonlyMap<NodeId, ProgressStatus>;
}

/** SnapshotStatus is the outcome of sending a snapshot, reported by the transport. */
export type SnapshotStatus = 'finish' | 'failure';

/**
 * RawNode is the thread-safe-by-construction (single-threaded) API around the Raft state
 * machine: feed it ticks, messages and proposals; take `ready()`, do what it says, then
 * `advance(ready)`. It does no I/O. `RaftNode` drives it for you over the ports.
 */
export class RawNode {
  readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  private readyNumber = 0;
  private outstanding: Ready | undefined;

  /** Create a node over `store`, recovering its hard state and log. */
  constructor(config: RaftConfig, store: LogStore) {
    this.raft = new Raft(config, store);
    this.prevSoftState = this.raft.softState();
    this.prevHardState = this.raft.hardState();
  }

  /** tick advances the node's logical clock by one tick. */
  tick(): void {
    this.raft.tick();
  }

  /** campaign makes this node start an election now (pre-vote first, when enabled). */
  campaign(): void {
    this.raft.step({
      type: 'MsgHup',
      from: this.raft.id,
      to: this.raft.id,
      term: 0,
      transfer: false,
    });
  }

  /**
   * propose submits one command. On the leader it is appended at once; on a follower it
   * is forwarded to the leader. Throws ProposalDroppedError when it cannot be taken.
   */
  propose(data: Uint8Array): void {
    this.proposeBatch([data]);
  }

  /**
   * proposeBatch submits many commands as one MsgProp: one append, and one MsgApp per
   * peer. Throws ProposalDroppedError when the batch cannot be taken (none of it is).
   */
  proposeBatch(commands: readonly Uint8Array[]): void {
    const entries = new Array<Entry>(commands.length);
    for (let i = 0; i < commands.length; i++) {
      entries[i] = { term: 0, index: 0, type: 'normal', data: commands[i]! };
    }
    this.raft.step({ type: 'MsgProp', from: this.raft.id, to: NONE, term: 0, entries });
  }

  /**
   * proposeConfChange submits a membership change (Raft paper §6) as a 'confChange'
   * entry. The leader refuses it while an earlier change is not yet applied
   * (ProposalDroppedError 'confChangePending') and when it is invalid for the current
   * configuration (ConfChangeError); a follower forwards it. Once committed, the
   * application applies it with `applyConfChange`.
   */
  proposeConfChange(cc: ConfChange): void {
    this.raft.step({
      type: 'MsgProp',
      from: this.raft.id,
      to: NONE,
      term: 0,
      entries: [{ term: 0, index: 0, type: 'confChange', data: encodeConfChange(cc) }],
    });
  }

  /**
   * applyConfChange applies a committed configuration change; call it when applying its
   * entry, in log order, before `advance`. Returns the new membership (to record in
   * snapshots and to update the transport with). Throws ConfChangeError if the change
   * is invalid for the current configuration (never for changes the leader accepted).
   */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /** confState is the membership this node uses now (as of the changes it applied). */
  confState(): ConfState {
    return confStateFromConfig(this.raft.tracker.config);
  }

  /**
   * step feeds a message from a peer. Local-only kinds are refused with
   * InvalidMessageError, as are responses from nodes that are not members.
   */
  step(message: Message): void {
    if (isLocalMessage(message.type)) {
      throw new InvalidMessageError(`${message.type} is local and cannot come from the network`);
    }
    if (
      isResponseMessage(message.type) &&
      this.raft.role === 'leader' &&
      !this.raft.tracker.progress.has(message.from)
    ) {
      throw new InvalidMessageError(`${message.type} from ${message.from}, which is not a member`);
    }
    this.raft.step(message);
  }

  /**
   * readIndex requests a linearizable read point for `context` (thesis §6.4). The answer
   * arrives as a ReadState in a later Ready; `context` must be unique among pending reads.
   */
  readIndex(context: Uint8Array): void {
    this.raft.step({ type: 'MsgReadIndex', from: this.raft.id, to: NONE, term: 0, context });
  }

  /** transferLeader asks the leader to hand leadership to `transferee` (thesis §3.10). */
  transferLeader(transferee: NodeId): void {
    this.raft.step({ type: 'MsgTransferLeader', from: transferee, to: this.raft.id, term: 0 });
  }

  /** reportUnreachable tells the leader that `id` could not be reached. */
  reportUnreachable(id: NodeId): void {
    this.raft.step({ type: 'MsgUnreachable', from: id, to: this.raft.id, term: 0 });
  }

  /** reportSnapshot tells the leader how sending a snapshot to `id` ended. */
  reportSnapshot(id: NodeId, status: SnapshotStatus): void {
    this.raft.step({
      type: 'MsgSnapStatus',
      from: id,
      to: this.raft.id,
      term: 0,
      reject: status === 'failure',
    });
  }

  /** hasReady reports whether `ready()` has work (always false while a Ready is outstanding). */
  hasReady(): boolean {
    if (this.outstanding !== undefined) return false;
    const raft = this.raft;
    if (raft.messages.length > 0 || raft.persistedMessages.length > 0) return true;
    if (raft.raftLog.unstable.entries.length > 0 || raft.raftLog.unstable.snapshot !== undefined)
      return true;
    if (raft.readStates.length > 0) return true;
    if (raft.raftLog.hasNextCommittedEntries()) return true;
    const soft = this.prevSoftState;
    if (soft.leader !== raft.leader || soft.role !== raft.role) return true;
    const hard = this.prevHardState;
    return (
      hard.term !== raft.term || hard.vote !== raft.vote || hard.commit !== raft.raftLog.committed
    );
  }

  /**
   * ready returns the next batch of work (see `Ready` for the ordering contract). Call
   * `advance(ready)` before asking for the next one.
   */
  ready(): Ready {
    if (this.outstanding !== undefined) {
      throw new RaftError(
        'READY_OUTSTANDING',
        'ready() called again before advance() of the previous Ready',
      );
    }
    const raft = this.raft;
    const softState = raft.softState();
    const hardState = raft.hardState();
    const entries = raft.raftLog.unstable.entries.slice();
    const snapshot = raft.raftLog.unstable.snapshot;
    const hardChanged = !hardStateEqual(hardState, this.prevHardState);
    const ready: {
      -readonly [K in keyof Ready]: Ready[K];
    } = {
      number: ++this.readyNumber,
      readStates: raft.readStates,
      entries,
      committedEntries: raft.raftLog.nextCommittedEntries(raft.config.maxCommittedSizePerReady),
      messages: raft.messages,
      persistedMessages: raft.persistedMessages,
      mustSync:
        entries.length > 0 ||
        snapshot !== undefined ||
        hardState.term !== this.prevHardState.term ||
        hardState.vote !== this.prevHardState.vote,
    };
    if (
      softState.leader !== this.prevSoftState.leader ||
      softState.role !== this.prevSoftState.role
    ) {
      ready.softState = softState;
      this.prevSoftState = softState;
    }
    if (hardChanged) {
      ready.hardState = hardState;
      this.prevHardState = hardState;
    }
    if (snapshot !== undefined) ready.snapshot = snapshot;
    raft.readStates = [];
    raft.messages = [];
    raft.persistedMessages = [];
    this.outstanding = ready;
    return ready;
  }

  /**
   * advance acknowledges that `ready` was handled: persisted, sent and applied. The
   * leader now counts its own durable entries toward commitment.
   */
  advance(ready: Ready): void {
    if (this.outstanding !== ready) {
      throw new RaftError(
        'READY_MISMATCH',
        'advance() must be given the Ready returned by the last ready()',
      );
    }
    this.outstanding = undefined;
    const raftLog = this.raft.raftLog;
    if (ready.snapshot !== undefined) {
      raftLog.stableSnapshotTo(ready.snapshot.metadata.index);
      raftLog.applied = Math.max(raftLog.applied, ready.snapshot.metadata.index);
      this.raft.snapshotApplied(ready.snapshot.metadata.index);
    }
    const lastEntry = ready.entries[ready.entries.length - 1];
    if (lastEntry !== undefined) this.raft.onPersisted(lastEntry.index, lastEntry.term);
    const lastCommitted = ready.committedEntries[ready.committedEntries.length - 1];
    if (lastCommitted !== undefined) {
      this.raft.reduceUncommittedSize(ready.committedEntries);
      this.raft.appliedTo(lastCommitted.index);
    }
  }

  /** status reports the node's state (with per-peer progress on a leader). */
  status(): Status {
    const raft = this.raft;
    const base = {
      id: raft.id,
      hardState: raft.hardState(),
      softState: raft.softState(),
      applied: raft.raftLog.applied,
      lastIndex: raft.raftLog.lastIndex(),
      leadTransferee: raft.leadTransferee,
      confState: confStateFromConfig(raft.tracker.config),
    };
    if (raft.role !== 'leader') return base;
    const progress = new Map<NodeId, ProgressStatus>();
    for (const [id, p] of raft.tracker.progress) {
      progress.set(id, {
        match: p.match,
        next: p.next,
        state: p.state,
        recentActive: p.recentActive,
        isLearner: p.isLearner,
        inflight: p.inflights.count(),
      });
    }
    return { ...base, progress };
  }
}

/** emptyContext is a zero-length read context. */
export const EMPTY_CONTEXT = EMPTY_DATA;
