import type { ConfChange } from './conf-change.js';
import {
  decodeConfChange,
  describeConfChange,
  encodeConfChange,
  LEAVE_JOINT,
} from './conf-change.js';
import { nextConfig } from './conf-changer.js';
import { ConfChangeError, InvalidMessageError, ProposalDroppedError, RaftError } from './errors.js';
import type { LogStore } from './log-store.js';
import type {
  Message,
  MsgApp,
  MsgAppResp,
  MsgHeartbeat,
  MsgHeartbeatResp,
  MsgHup,
  MsgPreVote,
  MsgProp,
  MsgReadIndex,
  MsgSnap,
  MsgSnapStatus,
  MsgTransferLeader,
  MsgVote,
} from './message.js';
import { voteResponseType } from './message.js';
import type { Logger, RandomSource } from './ports.js';
import type { Progress } from './progress.js';
import { jointVoteResult, majorityVoteResult } from './quorum.js';
import type { RaftConfig, ResolvedRaftConfig } from './raft-config.js';
import { resolveRaftConfig } from './raft-config.js';
import { RaftLog } from './raft-log.js';
import type { ReadState } from './read-only.js';
import { ReadOnly } from './read-only.js';
import type { TrackerConfig } from './tracker.js';
import { configFromConfState, confStateFromConfig, ProgressTracker } from './tracker.js';
import type {
  ConfState,
  Entry,
  HardState,
  NodeId,
  Snapshot,
  SoftState,
  StateRole,
} from './types.js';
import { EMPTY_DATA, entrySize, NONE, payloadSize } from './types.js';

function confStateIncludes(confState: ConfState, id: NodeId): boolean {
  return (
    confState.voters.includes(id) ||
    confState.learners.includes(id) ||
    confState.votersOutgoing.includes(id) ||
    confState.learnersNext.includes(id)
  );
}

/** CampaignKind says why an election starts: a normal (pre-)election, or a leadership transfer. */
type CampaignKind = 'preElection' | 'election' | 'transfer';

type StepFunction = (message: Message) => void;

/**
 * Raft is the protocol state machine of one node: roles, elections, replication,
 * commitment, ReadIndex and leadership transfer (Raft paper §5, Ongaro's thesis). It does
 * no I/O: it is driven by `tick` and `step` and leaves its output in `messages`,
 * `persistedMessages`, `readStates` and the log. Use it through `RawNode`.
 */
export class Raft {
  readonly id: NodeId;
  /** Current term (§5.1). Persisted. */
  term = 0;
  /** Candidate voted for in `term`, or NONE. Persisted. */
  vote: NodeId = NONE;
  readonly raftLog: RaftLog;
  readonly tracker: ProgressTracker;
  role: StateRole = 'follower';
  /** Known leader of `term`, or NONE. */
  leader: NodeId = NONE;
  /** Target of an in-progress leadership transfer, or NONE. */
  leadTransferee: NodeId = NONE;
  /**
   * Messages that may leave before this step's state is persisted: only a leader's
   * replication traffic (MsgApp, MsgHeartbeat, MsgSnap, MsgTimeoutNow), whose safety
   * does not depend on the leader's own durability (thesis §10.2.1).
   */
  messages: Message[] = [];
  /** Messages that must wait until the state they vouch for (votes, acks) is durable. */
  persistedMessages: Message[] = [];
  readStates: ReadState[] = [];
  /** Index of the last configuration-change entry a leader appended; guards one change at a time. */
  pendingConfIndex = 0;
  /**
   * A configuration change this leader appended that leaves it out of the voters, with
   * the voters after it: once it commits, leadership is handed to one of them.
   * Invariant: undefined unless this node leads and appended such an entry in this term.
   */
  private selfRemoval: { readonly index: number; readonly voters: readonly NodeId[] } | undefined;
  /** The memberships of snapshots being installed, each effective once it is applied. */
  private pendingSnapshotConfs: { index: number; confState: ConfState }[] = [];
  /** Payload bytes of uncommitted entries in a leader's log (the uncommitted-size cap). */
  uncommittedSize = 0;
  readonly config: ResolvedRaftConfig;

  private readonly readOnly: ReadOnly;
  private readonly logger: Logger;
  private readonly random: RandomSource;
  /** ReadIndex requests received before this leader committed an entry of its term. */
  private pendingReadIndexMessages: MsgReadIndex[] = [];
  electionElapsed = 0;
  private heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  private stepRole: StepFunction;
  private tickRole: () => void;

  constructor(raftConfig: RaftConfig, store: LogStore) {
    this.config = resolveRaftConfig(raftConfig);
    this.id = this.config.id;
    this.logger = this.config.logger;
    this.random = this.config.random;
    this.raftLog = new RaftLog(store, this.logger);
    this.readOnly = new ReadOnly(this.config.readOnlyOption);
    const { hardState, confState } = store.initialState();
    let membership: ConfState = confState;
    if (membership.voters.length === 0 && membership.learners.length === 0) {
      membership = {
        voters: [...(this.config.peers ?? [])],
        learners: [...(this.config.learners ?? [])],
        votersOutgoing: [],
        learnersNext: [],
        autoLeave: false,
      };
    }
    this.tracker = new ProgressTracker(
      configFromConfState(membership),
      this.config.maxInflightMsgs,
      this.config.maxInflightBytes,
    );
    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0) {
      this.loadHardState(hardState);
    }
    if (this.config.applied > 0) this.raftLog.appliedTo(this.config.applied);
    this.stepRole = this.stepFollower;
    this.tickRole = this.tickElection;
    this.becomeFollower(this.term, NONE);
    this.logger.info('raft node started', {
      id: this.id,
      term: this.term,
      commit: this.raftLog.committed,
      applied: this.raftLog.applied,
      lastIndex: this.raftLog.lastIndex(),
      lastTerm: this.raftLog.lastTerm(),
      voters: [...this.tracker.config.voters.incoming],
    });
  }

  private loadHardState(hardState: HardState): void {
    if (hardState.commit < this.raftLog.committed || hardState.commit > this.raftLog.lastIndex()) {
      throw new Error(
        `raft: stored commit ${hardState.commit} is outside [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]; the data is corrupt`,
      );
    }
    this.raftLog.committed = hardState.commit;
    this.term = hardState.term;
    this.vote = hardState.vote;
  }

  /** hardState is the state that must be persisted. */
  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  /** softState is the volatile state worth reporting. */
  softState(): SoftState {
    return { leader: this.leader, role: this.role };
  }

  // --- sending -------------------------------------------------------------------------

  private send(message: Message): void {
    switch (message.type) {
      case 'MsgApp':
      case 'MsgHeartbeat':
      case 'MsgSnap':
      case 'MsgTimeoutNow':
        this.messages.push(message);
        return;
      default:
        this.persistedMessages.push(message);
    }
  }

  /**
   * maybeSendAppend sends entries from `next` to a peer (or a snapshot when they are
   * compacted). With `sendIfEmpty` false, it sends nothing when there are no entries.
   * Returns whether a message was sent.
   */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const progress = this.tracker.progress.get(to);
    if (progress === undefined || progress.isPaused()) return false;
    const prevIndex = progress.next - 1;
    const firstIndex = this.raftLog.firstIndex();
    if (prevIndex < firstIndex - 1) return this.maybeSendSnapshot(to, progress);
    const prevTerm = this.raftLog.term(prevIndex);
    const entries = this.raftLog.entriesFrom(progress.next, this.config.maxSizePerMsg);
    if (entries.length === 0 && !sendIfEmpty) return false;
    const message: MsgApp = {
      type: 'MsgApp',
      from: this.id,
      to,
      term: this.term,
      logTerm: prevTerm,
      index: prevIndex,
      entries,
      commit: this.raftLog.committed,
    };
    this.send(message);
    let bytes = 0;
    for (const entry of entries) bytes += entrySize(entry);
    progress.sentEntries(prevIndex + entries.length, entries.length, bytes);
    return true;
  }

  private maybeSendSnapshot(to: NodeId, progress: Progress): boolean {
    // A peer we have not heard from lately may be down; don't ship a snapshot into the void.
    if (!progress.recentActive) return false;
    let snapshot: Snapshot;
    try {
      snapshot = this.raftLog.snapshot();
    } catch (error) {
      this.logger.debug('snapshot temporarily unavailable', { to, error: String(error) });
      return false;
    }
    if (snapshot.metadata.index === 0) {
      throw new Error('raft: a compacted log must have a snapshot to send');
    }
    this.logger.info('sending snapshot', {
      to,
      index: snapshot.metadata.index,
      term: snapshot.metadata.term,
    });
    progress.becomeSnapshot(snapshot.metadata.index);
    this.send({ type: 'MsgSnap', from: this.id, to, term: this.term, snapshot });
    return true;
  }

  private sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /** bcastAppend sends MsgApp (possibly empty, to carry commit) to every peer. */
  private bcastAppend(): void {
    for (const id of this.tracker.progress.keys()) {
      if (id !== this.id) this.sendAppend(id);
    }
  }

  /** bcastHeartbeat sends a heartbeat to every peer, with a ReadIndex context if one is pending. */
  private bcastHeartbeat(): void {
    const context = this.readOnly.lastPendingContext();
    this.bcastHeartbeatWithContext(context ?? EMPTY_DATA);
  }

  private bcastHeartbeatWithContext(context: Uint8Array): void {
    for (const [id, progress] of this.tracker.progress) {
      if (id === this.id) continue;
      // §5.3: never tell a follower an index is committed beyond what it is known to
      // have, or it could commit an entry it does not hold.
      const commit = Math.min(progress.match, this.raftLog.committed);
      this.send({ type: 'MsgHeartbeat', from: this.id, to: id, term: this.term, commit, context });
    }
  }

  // --- role transitions ----------------------------------------------------------------

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.leader = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.tracker.resetVotes();
    this.tracker.resetProgress(this.id, this.raftLog.lastIndex());
    const self = this.tracker.progress.get(this.id);
    // Our own match is what is durable here: a leader counts itself toward a quorum
    // only for entries it has persisted.
    if (self !== undefined) self.match = this.raftLog.stableIndex();
    this.pendingConfIndex = 0;
    this.selfRemoval = undefined;
    this.uncommittedSize = 0;
    this.readOnly.reset();
    this.pendingReadIndexMessages = [];
  }

  private resetRandomizedElectionTimeout(): void {
    // §5.2: randomized in [electionTicks, 2·electionTicks) so that split votes are rare.
    this.randomizedElectionTimeout =
      this.config.electionTicks + this.random(this.config.electionTicks);
  }

  /** becomeFollower moves to `term` as a follower of `leader` (NONE if unknown). */
  becomeFollower(term: number, leader: NodeId): void {
    this.stepRole = this.stepFollower;
    this.reset(term);
    this.tickRole = this.tickElection;
    this.leader = leader;
    this.role = 'follower';
    this.logger.info('became follower', { id: this.id, term, leader });
  }

  /** becomeCandidate starts an election in a new term, voting for itself (§5.2). */
  becomeCandidate(): void {
    if (this.role === 'leader') throw new Error('raft: invalid transition leader -> candidate');
    this.stepRole = this.stepCandidate;
    this.reset(this.term + 1);
    this.tickRole = this.tickElection;
    this.vote = this.id;
    this.role = 'candidate';
    this.logger.info('became candidate', { id: this.id, term: this.term });
  }

  /**
   * becomePreCandidate asks whether an election could be won, without changing term or
   * vote (thesis §9.6), so a node rejoining after a partition cannot disrupt a leader.
   */
  becomePreCandidate(): void {
    if (this.role === 'leader') throw new Error('raft: invalid transition leader -> pre-candidate');
    this.stepRole = this.stepCandidate;
    this.tracker.resetVotes();
    this.tickRole = this.tickElection;
    this.leader = NONE;
    this.role = 'preCandidate';
    this.logger.info('became pre-candidate', { id: this.id, term: this.term });
  }

  /** becomeLeader takes over the term and appends a no-op entry (§8: commit an entry of the new term). */
  becomeLeader(): void {
    if (this.role === 'follower') throw new Error('raft: invalid transition follower -> leader');
    this.stepRole = this.stepLeader;
    this.reset(this.term);
    this.tickRole = this.tickHeartbeat;
    this.leader = this.id;
    this.role = 'leader';
    const self = this.tracker.progress.get(this.id);
    if (self !== undefined) self.becomeReplicate();
    // Conservatively assume the unapplied tail may hold a configuration change.
    this.pendingConfIndex = this.raftLog.lastIndex();
    if (!this.appendEntries([{ term: 0, index: 0, type: 'normal', data: EMPTY_DATA }])) {
      throw new Error('raft: could not append the leader no-op entry');
    }
    this.logger.info('became leader', {
      id: this.id,
      term: this.term,
      lastIndex: this.raftLog.lastIndex(),
    });
  }

  // --- ticking -------------------------------------------------------------------------

  /** tick advances the logical clock by one tick. */
  tick(): void {
    this.tickRole();
  }

  private promotable(): boolean {
    return this.tracker.isVoter(this.id) && this.raftLog.unstable.snapshot === undefined;
  }

  private pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  private tickElection = (): void => {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.step({ type: 'MsgHup', from: this.id, to: this.id, term: 0, transfer: false });
    }
  };

  private tickHeartbeat = (): void => {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.config.electionTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum) {
        this.step({ type: 'MsgCheckQuorum', from: this.id, to: this.id, term: 0 });
      }
      // A transfer that did not finish within an election timeout is abandoned (thesis §3.10).
      if (this.role === 'leader' && this.leadTransferee !== NONE) this.abortLeaderTransfer();
    }
    if (this.role !== 'leader') return;
    // Retry leaving a joint configuration if an earlier attempt could not be appended.
    this.maybeAutoLeave();
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.step({ type: 'MsgBeat', from: this.id, to: this.id, term: 0 });
    }
  };

  // --- elections -----------------------------------------------------------------------

  private hup(kind: CampaignKind): void {
    if (this.role === 'leader') return;
    if (!this.promotable()) {
      this.logger.warn('cannot campaign: not a voter or a snapshot is pending', { id: this.id });
      return;
    }
    if (this.hasUnappliedConfChanges()) {
      this.logger.warn('cannot campaign: configuration changes are committed but not applied', {
        id: this.id,
      });
      return;
    }
    this.campaign(kind);
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.raftLog.applied >= this.raftLog.committed) return false;
    const lo = Math.max(this.raftLog.applied + 1, this.raftLog.firstIndex());
    const hi = this.raftLog.committed + 1;
    if (lo >= hi) return false;
    return this.raftLog.slice(lo, hi).some((entry) => entry.type === 'confChange');
  }

  private campaign(kind: CampaignKind): void {
    let term: number;
    let voteType: 'MsgVote' | 'MsgPreVote';
    if (kind === 'preElection') {
      this.becomePreCandidate();
      voteType = 'MsgPreVote';
      // Pre-vote asks on behalf of the term we would move to, without moving.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteType = 'MsgVote';
      term = this.term;
    }
    const voters = [...this.tracker.config.voters.incoming, ...this.tracker.config.voters.outgoing];
    const asked = new Set<NodeId>();
    const lastIndex = this.raftLog.lastIndex();
    const lastTerm = this.raftLog.lastTerm();
    for (const id of voters) {
      if (asked.has(id)) continue;
      asked.add(id);
      if (id === this.id) {
        if (this.poll(this.id, true) === 'won') {
          // A single-voter group wins at once.
          if (kind === 'preElection') this.campaign('election');
          else this.becomeLeader();
          return;
        }
        continue;
      }
      const message: MsgVote | MsgPreVote = {
        type: voteType,
        from: this.id,
        to: id,
        term,
        logTerm: lastTerm,
        index: lastIndex,
        transfer: kind === 'transfer',
      };
      this.send(message);
    }
  }

  private poll(id: NodeId, granted: boolean): 'won' | 'lost' | 'pending' {
    this.tracker.recordVote(id, granted);
    return this.tracker.tallyVotes().result;
  }

  // --- stepping ------------------------------------------------------------------------

  /**
   * step processes one message. Term handling common to all roles happens here (§5.1:
   * a higher term makes us a follower; a lower one is stale), then the role's step
   * function runs. Throws ProposalDroppedError for a local proposal that cannot be taken.
   */
  step(message: Message): void {
    if (message.term === 0) {
      // Local message or proposal: no term handling.
    } else if (message.term > this.term) {
      if (message.type === 'MsgVote' || message.type === 'MsgPreVote') {
        const inLease =
          this.config.checkQuorum &&
          this.leader !== NONE &&
          this.electionElapsed < this.config.electionTicks;
        if (!message.transfer && inLease) {
          // thesis §4.2.3: a node that heard from a leader within the minimum election
          // timeout ignores votes, so a removed or partitioned node cannot disrupt it.
          this.logger.debug('ignored vote request within leader lease', {
            id: this.id,
            from: message.from,
            term: message.term,
          });
          return;
        }
      }
      if (message.type === 'MsgPreVote') {
        // Never change term on a pre-vote request.
      } else if (message.type === 'MsgPreVoteResp' && !message.reject) {
        // A granted pre-vote carries the future term; we move to it when we win.
      } else if (
        message.type === 'MsgApp' ||
        message.type === 'MsgHeartbeat' ||
        message.type === 'MsgSnap'
      ) {
        this.becomeFollower(message.term, message.from);
      } else {
        this.becomeFollower(message.term, NONE);
      }
    } else if (message.term < this.term) {
      if (
        (this.config.checkQuorum || this.config.preVote) &&
        (message.type === 'MsgHeartbeat' || message.type === 'MsgApp')
      ) {
        // A leader cut off by a partition would otherwise never learn of the newer term:
        // with check-quorum or pre-vote, nobody else will raise it. Tell it.
        this.send({
          type: 'MsgAppResp',
          from: this.id,
          to: message.from,
          term: this.term,
          index: 0,
          reject: false,
          rejectHint: 0,
          logTerm: 0,
        });
      } else if (message.type === 'MsgPreVote') {
        this.send({
          type: 'MsgPreVoteResp',
          from: this.id,
          to: message.from,
          term: this.term,
          reject: true,
        });
      }
      return;
    }

    switch (message.type) {
      case 'MsgHup':
        this.handleHup(message);
        return;
      case 'MsgVote':
      case 'MsgPreVote':
        this.handleVoteRequest(message);
        return;
      default:
        this.stepRole(message);
    }
  }

  private handleHup(message: MsgHup): void {
    if (message.transfer) this.hup('transfer');
    else this.hup(this.config.preVote ? 'preElection' : 'election');
  }

  private handleVoteRequest(message: MsgVote | MsgPreVote): void {
    // We can vote for the node we already voted for (a retransmission), or anyone if we
    // have not voted and know no leader in this term, or in a pre-vote for a later term.
    const canVote =
      this.vote === message.from ||
      (this.vote === NONE && this.leader === NONE) ||
      (message.type === 'MsgPreVote' && message.term > this.term);
    const responseType = voteResponseType(message.type);
    // §5.4.1: grant only to a candidate whose log is at least as up-to-date as ours.
    if (canVote && this.raftLog.isUpToDate(message.index, message.logTerm)) {
      // A pre-vote answer carries the future term so the pre-candidate counts it.
      this.send({
        type: responseType,
        from: this.id,
        to: message.from,
        term: message.term,
        reject: false,
      });
      if (message.type === 'MsgVote') {
        this.electionElapsed = 0;
        this.vote = message.from;
      }
    } else {
      this.send({
        type: responseType,
        from: this.id,
        to: message.from,
        term: this.term,
        reject: true,
      });
    }
  }

  private stepLeader = (message: Message): void => {
    switch (message.type) {
      case 'MsgBeat':
        this.bcastHeartbeat();
        return;
      case 'MsgCheckQuorum':
        if (!this.tracker.quorumActive(this.id)) {
          this.logger.warn('stepped down: no quorum heard from within an election timeout', {
            id: this.id,
            term: this.term,
          });
          this.becomeFollower(this.term, NONE);
        }
        for (const [id, progress] of this.tracker.progress) {
          if (id !== this.id) progress.recentActive = false;
        }
        return;
      case 'MsgProp':
        this.leaderPropose(message);
        return;
      case 'MsgReadIndex':
        this.leaderReadIndex(message);
        return;
      default:
        break;
    }

    const progress = this.tracker.progress.get(message.from);
    if (progress === undefined) {
      this.logger.debug('no progress for sender', {
        id: this.id,
        from: message.from,
        type: message.type,
      });
      return;
    }
    switch (message.type) {
      case 'MsgAppResp':
        this.handleAppendResponse(message, progress);
        return;
      case 'MsgHeartbeatResp':
        this.handleHeartbeatResponse(message, progress);
        return;
      case 'MsgSnapStatus':
        this.handleSnapshotStatus(message, progress);
        return;
      case 'MsgUnreachable':
        // The peer may have dropped what we pipelined: resend from match after a probe.
        if (progress.state === 'replicate') progress.becomeProbe();
        return;
      case 'MsgTransferLeader':
        this.handleTransferLeader(message, progress);
        return;
      default:
        return;
    }
  };

  private leaderPropose(message: MsgProp): void {
    if (message.entries.length === 0) throw new InvalidMessageError('MsgProp without entries');
    if (!this.tracker.progress.has(this.id)) {
      throw new ProposalDroppedError('notMember', 'this leader was removed from the configuration');
    }
    if (this.leadTransferee !== NONE) {
      throw new ProposalDroppedError(
        'leadershipTransfer',
        `transferring to ${this.leadTransferee}`,
      );
    }
    // Restored if the batch is not appended after all, so that neither guards an index
    // a later, ordinary entry will take.
    const { pendingConfIndex, selfRemoval } = this;
    let entries = message.entries;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      if (entry.type !== 'confChange') continue;
      const outcome = this.confChangeOutcome(entry.data);
      if (!(outcome instanceof RaftError)) {
        this.pendingConfIndex = this.raftLog.lastIndex() + i + 1;
        const voters = [...outcome.voters.incoming, ...outcome.voters.outgoing];
        if (!voters.includes(this.id)) {
          this.selfRemoval = {
            index: this.pendingConfIndex,
            voters: [...new Set(voters)],
          };
        }
        continue;
      }
      const refusal = outcome;
      this.logger.warn('configuration change refused', {
        reason: refusal.message,
        pendingConfIndex: this.pendingConfIndex,
        applied: this.raftLog.applied,
      });
      // A lone change is refused to its proposer; in a batch it becomes a no-op so the
      // rest of the batch still goes in (etcd-io/raft does the latter for both).
      if (entries.length === 1) throw refusal;
      if (entries === message.entries) entries = entries.slice();
      (entries as Entry[])[i] = { term: 0, index: 0, type: 'normal', data: EMPTY_DATA };
    }
    if (!this.appendEntries(entries)) {
      this.pendingConfIndex = pendingConfIndex;
      this.selfRemoval = selfRemoval;
      throw new ProposalDroppedError(
        'uncommittedSizeExceeded',
        `${this.uncommittedSize} uncommitted bytes, limit ${this.config.maxUncommittedEntriesSize}`,
      );
    }
    this.bcastAppend();
  }

  /**
   * confChangeOutcome is the configuration a proposed change leads to, or why it must not
   * be appended. One change at a time (thesis §4.1, §4.3): while an earlier change is not
   * applied, the configuration a new one would apply to is unknown, and two changes in
   * flight could produce two disjoint majorities (Raft paper §6). With none pending, the
   * leader's configuration is exactly the one the change will be applied to, so
   * validating it here is exact and every node applies it without error.
   */
  private confChangeOutcome(data: Uint8Array): TrackerConfig | RaftError {
    if (this.pendingConfIndex > this.raftLog.applied) {
      return new ProposalDroppedError(
        'confChangePending',
        `pending at index ${this.pendingConfIndex}, applied ${this.raftLog.applied}`,
      );
    }
    try {
      return nextConfig(this.tracker.config, decodeConfChange(data));
    } catch (error) {
      if (error instanceof ConfChangeError) return error;
      throw error;
    }
  }

  /**
   * appendEntries assigns term and index to proposed entries and appends them; returns
   * false (appending nothing) when the uncommitted-size cap would be exceeded.
   */
  private appendEntries(proposed: readonly Entry[]): boolean {
    const size = payloadSize(proposed);
    const limit = this.config.maxUncommittedEntriesSize;
    // Always admit a batch when nothing is uncommitted, so a large entry is not stuck forever.
    if (limit > 0 && this.uncommittedSize > 0 && size > 0 && this.uncommittedSize + size > limit) {
      return false;
    }
    this.uncommittedSize += size;
    let index = this.raftLog.lastIndex();
    const entries = new Array<Entry>(proposed.length);
    for (let i = 0; i < proposed.length; i++) {
      const entry = proposed[i]!;
      entries[i] = { term: this.term, index: ++index, type: entry.type, data: entry.data };
    }
    this.raftLog.append(entries);
    return true;
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.raftLog.term(this.raftLog.committed) === this.term;
  }

  private leaderReadIndex(message: MsgReadIndex): void {
    if (this.tracker.isSingleton()) {
      this.respondToReadIndex(message, this.raftLog.committed);
      return;
    }
    // thesis §6.4: the leader must first commit an entry of its term, or its commit index
    // may be behind what earlier leaders committed.
    if (!this.committedEntryInCurrentTerm()) {
      this.pendingReadIndexMessages.push(message);
      return;
    }
    this.sendReadIndexResponse(message);
  }

  private sendReadIndexResponse(message: MsgReadIndex): void {
    if (this.readOnly.option === 'safe') {
      this.readOnly.addRequest(this.raftLog.committed, message);
      this.readOnly.recvAck(this.id, message.context);
      this.bcastHeartbeatWithContext(message.context);
    } else {
      this.respondToReadIndex(message, this.raftLog.committed);
    }
  }

  private respondToReadIndex(request: MsgReadIndex, index: number): void {
    if (request.from === NONE || request.from === this.id) {
      this.readStates.push({ index, context: request.context });
    } else {
      this.send({
        type: 'MsgReadIndexResp',
        from: this.id,
        to: request.from,
        term: this.term,
        index,
        context: request.context,
      });
    }
  }

  private releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const pending = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const message of pending) this.sendReadIndexResponse(message);
  }

  private handleAppendResponse(message: MsgAppResp, progress: Progress): void {
    progress.recentActive = true;
    if (message.reject) {
      let nextProbeIndex = message.rejectHint;
      if (message.logTerm > 0) {
        // Skip every entry of ours whose term exceeds the follower's term at the hint:
        // they cannot match (§5.3 optimization; etcd-io/raft's findConflictByTerm).
        nextProbeIndex = this.raftLog.findConflictByTerm(message.rejectHint, message.logTerm).index;
      }
      if (progress.maybeDecrTo(message.index, nextProbeIndex)) {
        if (progress.state === 'replicate') progress.becomeProbe();
        this.sendAppend(message.from);
      }
      return;
    }
    const wasPaused = progress.isPaused();
    if (!progress.maybeUpdate(message.index)) return;
    switch (progress.state) {
      case 'probe':
        progress.becomeReplicate();
        break;
      case 'snapshot':
        // The follower caught up past the snapshot (or from our log): resume replicating.
        if (progress.match + 1 >= this.raftLog.firstIndex()) {
          progress.becomeProbe();
          progress.becomeReplicate();
        }
        break;
      case 'replicate':
        progress.inflights.freeLE(message.index);
        break;
    }
    if (this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      this.maybeHandOffBeforeRemoval();
      this.bcastAppend();
    } else if (wasPaused) {
      this.sendAppend(message.from);
    }
    // Keep the pipeline full while the window allows.
    while (this.maybeSendAppend(message.from, false)) {
      // keep sending
    }
    if (message.from === this.leadTransferee && progress.match === this.raftLog.lastIndex()) {
      this.logger.info('transfer target caught up; sending MsgTimeoutNow', { to: message.from });
      this.sendTimeoutNow(message.from);
    }
  }

  private handleHeartbeatResponse(message: MsgHeartbeatResp, progress: Progress): void {
    progress.recentActive = true;
    progress.probeSent = false;
    if (progress.state === 'replicate' && progress.inflights.full())
      progress.inflights.freeFirstOne();
    if (progress.match < this.raftLog.lastIndex() || progress.state === 'probe') {
      this.sendAppend(message.from);
    }
    if (this.readOnly.option !== 'safe' || message.context.length === 0) return;
    const acks = this.readOnly.recvAck(message.from, message.context);
    if (acks === undefined) return;
    const voters = this.tracker.config.voters;
    const won =
      majorityVoteResult(voters.incoming, acks) === 'won' &&
      majorityVoteResult(voters.outgoing, acks) === 'won';
    if (!won) return;
    for (const { request, index } of this.readOnly.advance(message.context)) {
      this.respondToReadIndex(request, index);
    }
  }

  private handleSnapshotStatus(message: MsgSnapStatus, progress: Progress): void {
    if (progress.state !== 'snapshot') return;
    if (message.reject) {
      progress.pendingSnapshot = 0;
      this.logger.warn('snapshot send failed; will probe', { to: message.from });
    }
    progress.becomeProbe();
    // Wait for the follower's MsgAppResp or a heartbeat answer before probing.
    progress.probeSent = true;
  }

  private handleTransferLeader(message: MsgTransferLeader, progress: Progress): void {
    if (progress.isLearner) {
      this.logger.info('ignored transfer to a learner', { to: message.from });
      return;
    }
    const transferee = message.from;
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === transferee) return;
      this.abortLeaderTransfer();
    }
    if (transferee === this.id) return;
    // The transfer must finish within one election timeout (thesis §3.10).
    this.electionElapsed = 0;
    this.leadTransferee = transferee;
    this.logger.info('transferring leadership', { from: this.id, to: transferee });
    if (progress.match === this.raftLog.lastIndex()) this.sendTimeoutNow(transferee);
    else this.sendAppend(transferee);
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: 'MsgTimeoutNow', from: this.id, to, term: this.term });
  }

  private abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  /** maybeCommit advances commit to what a quorum has stored, if it is from our term (§5.4.2). */
  private maybeCommit(): boolean {
    return this.raftLog.maybeCommit(this.tracker.committed(), this.term);
  }

  private stepCandidate = (message: Message): void => {
    const myResponseType = this.role === 'preCandidate' ? 'MsgPreVoteResp' : 'MsgVoteResp';
    switch (message.type) {
      case 'MsgProp':
        throw new ProposalDroppedError('noLeader', 'an election is in progress');
      case 'MsgApp':
        this.becomeFollower(message.term, message.from);
        this.handleAppendEntries(message);
        return;
      case 'MsgHeartbeat':
        this.becomeFollower(message.term, message.from);
        this.handleHeartbeat(message);
        return;
      case 'MsgSnap':
        this.becomeFollower(message.term, message.from);
        this.handleSnapshot(message);
        return;
      case 'MsgVoteResp':
      case 'MsgPreVoteResp': {
        if (message.type !== myResponseType) return;
        const result = this.poll(message.from, !message.reject);
        if (result === 'won') {
          if (this.role === 'preCandidate') this.campaign('election');
          else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (result === 'lost') {
          // A pre-vote or vote lost to a quorum: wait as a follower for the next timeout.
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
      case 'MsgTimeoutNow':
        return;
      default:
        return;
    }
  };

  private stepFollower = (message: Message): void => {
    switch (message.type) {
      case 'MsgProp':
        if (this.leader === NONE) throw new ProposalDroppedError('noLeader');
        if (this.config.disableProposalForwarding) {
          throw new ProposalDroppedError('forwardingDisabled', `leader is ${this.leader}`);
        }
        this.send({ ...message, to: this.leader });
        return;
      case 'MsgApp':
        this.electionElapsed = 0;
        this.leader = message.from;
        this.handleAppendEntries(message);
        return;
      case 'MsgHeartbeat':
        this.electionElapsed = 0;
        this.leader = message.from;
        this.handleHeartbeat(message);
        return;
      case 'MsgSnap':
        this.electionElapsed = 0;
        this.leader = message.from;
        this.handleSnapshot(message);
        return;
      case 'MsgTransferLeader':
        if (this.leader === NONE) {
          this.logger.info('no leader to forward a transfer request to', { id: this.id });
          return;
        }
        this.send({ ...message, to: this.leader });
        return;
      case 'MsgTimeoutNow':
        // thesis §3.10: campaign at once, skipping pre-vote, and tell voters to ignore
        // their lease (the transfer flag) since the leader asked for it.
        this.logger.info('campaigning on MsgTimeoutNow', { id: this.id, term: this.term });
        this.hup('transfer');
        return;
      case 'MsgReadIndex':
        if (this.leader === NONE) {
          this.logger.info('no leader to forward a read index request to', { id: this.id });
          return;
        }
        this.send({ ...message, to: this.leader });
        return;
      case 'MsgReadIndexResp':
        this.readStates.push({ index: message.index, context: message.context });
        return;
      default:
        return;
    }
  };

  private handleAppendEntries(message: MsgApp): void {
    if (message.index < this.raftLog.committed) {
      // Everything up to commit already matches; tell the leader where we are.
      this.sendAppendResponse(message.from, this.raftLog.committed, false, 0, 0);
      return;
    }
    const lastNewIndex = this.raftLog.maybeAppend(
      message.index,
      message.logTerm,
      message.commit,
      message.entries,
    );
    if (lastNewIndex !== undefined) {
      this.sendAppendResponse(message.from, lastNewIndex, false, 0, 0);
      return;
    }
    // §5.3 consistency check failed: reject with a hint that lets the leader skip the
    // whole conflicting term instead of backing up one entry per round trip.
    const hint = this.raftLog.findConflictByTerm(
      Math.min(message.index, this.raftLog.lastIndex()),
      message.logTerm,
    );
    this.sendAppendResponse(message.from, message.index, true, hint.index, hint.term);
  }

  private sendAppendResponse(
    to: NodeId,
    index: number,
    reject: boolean,
    rejectHint: number,
    logTerm: number,
  ): void {
    this.send({
      type: 'MsgAppResp',
      from: this.id,
      to,
      term: this.term,
      index,
      reject,
      rejectHint,
      logTerm,
    });
  }

  private handleHeartbeat(message: MsgHeartbeat): void {
    this.raftLog.commitTo(Math.min(message.commit, this.raftLog.lastIndex()));
    this.send({
      type: 'MsgHeartbeatResp',
      from: this.id,
      to: message.from,
      term: this.term,
      context: message.context,
    });
  }

  private handleSnapshot(message: MsgSnap): void {
    const { index, term } = message.snapshot.metadata;
    if (this.restore(message.snapshot)) {
      this.logger.info('restored snapshot', { id: this.id, index, term });
      this.sendAppendResponse(message.from, this.raftLog.lastIndex(), false, 0, 0);
    } else {
      this.sendAppendResponse(message.from, this.raftLog.committed, false, 0, 0);
    }
  }

  /** restore installs a snapshot (§7) unless it is stale or we already have its entries. */
  private restore(snapshot: Snapshot): boolean {
    const { index, term, confState } = snapshot.metadata;
    if (index <= this.raftLog.committed) return false;
    if (this.role !== 'follower') {
      // Defensive: only a follower installs a snapshot.
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }
    // A snapshot taken before this node was added does not list it: install it anyway.
    // The entries after it add this node (applying them is how it learns it is a
    // member), and a non-member neither campaigns nor counts in any quorum, so this is
    // safe. (etcd-io/raft refuses such snapshots and relies on the application to send a
    // fresh one; a pure core cannot make one.)
    if (!confStateIncludes(confState, this.id)) {
      this.logger.info('installing a snapshot that predates this node joining', {
        id: this.id,
        index,
      });
    }
    if (this.raftLog.matchTerm(index, term)) {
      // We already hold the snapshot's last entry: just fast-forward commit (§7: "If
      // existing log entry has same index and term as snapshot's last included entry,
      // retain log entries following it").
      this.raftLog.commitTo(index);
      return false;
    }
    this.raftLog.restore(snapshot);
    // The snapshot's membership takes effect when the application has applied the
    // snapshot (`snapshotApplied`), not now: committed entries handed out earlier may
    // still be being applied, and a configuration change among them must apply to the
    // membership before the snapshot, not to the snapshot's. Until then this node holds
    // an unstable snapshot, so it cannot campaign (promotable).
    this.pendingSnapshotConfs = this.pendingSnapshotConfs.filter((p) => p.index < index);
    this.pendingSnapshotConfs.push({ index, confState });
    return true;
  }

  /**
   * snapshotApplied is called once the application has applied the snapshot at `index`
   * (RawNode.advance): the snapshot's membership now takes effect.
   */
  snapshotApplied(index: number): void {
    const pending = this.pendingSnapshotConfs.find((p) => p.index === index);
    // A later snapshot may already be on its way (restored before this one was applied).
    this.pendingSnapshotConfs = this.pendingSnapshotConfs.filter((p) => p.index > index);
    if (pending === undefined) return;
    this.tracker.config = configFromConfState(pending.confState);
    this.tracker.resetProgress(this.id, this.raftLog.lastIndex());
  }

  /**
   * applyConfChange applies a committed configuration change (the application calls it
   * when it applies the 'confChange' entry, in log order) and returns the new membership.
   * Membership takes effect when the entry is applied, as in etcd-io/raft, not when it is
   * appended as in thesis §4.1: the leader refuses a new change until the previous one is
   * applied, which keeps every two consecutive configurations overlapping. Throws
   * ConfChangeError when the change is not valid for the current configuration.
   */
  applyConfChange(cc: ConfChange): ConfState {
    const next = nextConfig(this.tracker.config, cc);
    this.logger.info('applying configuration change', {
      id: this.id,
      change: describeConfChange(cc),
      voters: [...next.voters.incoming],
      outgoing: [...next.voters.outgoing],
      learners: [...next.learners],
    });
    return this.switchToConfig(next);
  }

  /** applyConfState replaces the membership by `confState` (for tests and tools). */
  applyConfState(confState: ConfState): void {
    this.switchToConfig(configFromConfState(confState));
  }

  /**
   * switchToConfig installs a new membership (etcd-io/raft's switchToConfig): new members
   * get a fresh Progress, removed ones lose theirs, learner flags follow the
   * configuration. A leader that is no longer a voter steps down — the change is
   * committed since it is being applied (thesis §4.2.2: "the leader steps down once C_new
   * is committed"); otherwise a leader commits what the new quorum allows and probes the
   * new members at once.
   */
  private switchToConfig(config: TrackerConfig): ConfState {
    const tracker = this.tracker;
    const before = new Set(tracker.progress.keys());
    tracker.config = config;
    const members = tracker.memberIds();
    const lastIndex = this.raftLog.lastIndex();
    for (const id of members) {
      const progress = tracker.progress.get(id);
      if (progress === undefined) {
        tracker.resetProgressFor(id, lastIndex);
        // Like etcd-io/raft: a new member counts as active so that check-quorum does
        // not count it against the leader and it may be sent a snapshot at once.
        tracker.progress.get(id)!.recentActive = true;
      } else {
        progress.isLearner = !tracker.isVoter(id);
      }
    }
    const memberSet = new Set(members);
    for (const id of before) if (!memberSet.has(id)) tracker.progress.delete(id);
    // Votes of non-members no longer count.
    for (const id of [...tracker.votes.keys()]) if (!tracker.isVoter(id)) tracker.votes.delete(id);
    const confState = confStateFromConfig(config);
    if (this.role !== 'leader') return confState;
    if (this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      // The new quorum may commit this leader's own removal (leaving a joint config).
      this.maybeHandOffBeforeRemoval();
    }
    if (!tracker.isVoter(this.id)) {
      // Tell the remaining members what is committed (the change itself included), then
      // step down (thesis §4.2.2); one of them was told to campaign when the change
      // committed (maybeHandOffBeforeRemoval). Not being a voter, this node will not.
      this.bcastAppend();
      this.logger.info('stepping down: removed from the configuration', {
        id: this.id,
        term: this.term,
      });
      this.becomeFollower(this.term, NONE);
      return confState;
    }
    this.bcastAppend();
    if (this.leadTransferee !== NONE && !tracker.isVoter(this.leadTransferee)) {
      this.abortLeaderTransfer();
    }
    return confState;
  }

  /**
   * maybeHandOffBeforeRemoval: once the change that removes this leader has committed,
   * the voter of the next configuration with the longest acknowledged log is told to
   * campaign at once (MsgTimeoutNow, thesis §3.10; the hand-off etcd-io/raft leaves as a
   * TODO). It goes out just before the MsgApp that tells the successor the new commit
   * index: a node does not campaign while a committed configuration change is not yet
   * applied, and once applied a member may refuse the removed one's messages. The
   * successor campaigns in the configuration that still counts this leader, whose vote
   * it gets. The others then need not wait out an election timeout after this leader
   * steps down; if the message comes too late nothing is lost but that time.
   * Safety does not depend on it: the successor still needs the votes of a quorum whose
   * logs it does not trail (§5.4.1), and entries it lacks were not committed.
   */
  private maybeHandOffBeforeRemoval(): void {
    const removal = this.selfRemoval;
    if (removal === undefined || this.raftLog.committed < removal.index) return;
    this.selfRemoval = undefined;
    // A transfer already under way names the successor if its target stays and has the
    // change; otherwise it is abandoned (two candidates told to campaign in one term
    // could split the vote).
    const transferee = this.leadTransferee;
    const transfereeReady =
      removal.voters.includes(transferee) &&
      (this.tracker.progress.get(transferee)?.match ?? -1) >= removal.index;
    if (transferee !== NONE && !transfereeReady) this.abortLeaderTransfer();
    const candidates = transfereeReady ? [transferee] : removal.voters;
    let successor: NodeId = NONE;
    let bestMatch = -1;
    for (const id of candidates) {
      const match = this.tracker.progress.get(id)?.match ?? -1;
      if (match > bestMatch || (match === bestMatch && id < successor)) {
        successor = id;
        bestMatch = match;
      }
    }
    // A quorum of the next configuration acknowledged the change, so the best has it.
    if (successor === NONE || bestMatch < removal.index) return;
    // The successor campaigns before it learns the change committed (its term then
    // outdates this leader's MsgApp that says so), so in the configuration in force now:
    // only if the voters that stay can elect it there by themselves. Otherwise — leaving
    // a joint configuration whose outgoing voters go — it could wait forever for votes
    // of members that have left (seed 92592).
    const stayers = new Map(removal.voters.map((id) => [id, true] as const));
    if (jointVoteResult(this.tracker.config.voters, stayers) !== 'won') return;
    this.logger.info('handing leadership off before stepping down', {
      id: this.id,
      to: successor,
      match: bestMatch,
      lastIndex: this.raftLog.lastIndex(),
    });
    this.sendTimeoutNow(successor);
  }

  /**
   * appliedTo records that the application applied entries through `index`. A leader in
   * a joint configuration with auto-leave then proposes leaving it once the entry that
   * entered it is applied (etcd-io/raft's appliedTo; Raft paper §6: C_new is proposed
   * once C_old,new is committed).
   */
  appliedTo(index: number): void {
    this.raftLog.appliedTo(index);
    this.maybeAutoLeave();
  }

  private maybeAutoLeave(): void {
    if (this.role !== 'leader' || !this.tracker.config.autoLeave) return;
    if (!this.tracker.isJoint() || this.pendingConfIndex > this.raftLog.applied) return;
    try {
      this.step({
        type: 'MsgProp',
        from: this.id,
        to: NONE,
        term: 0,
        entries: [{ term: 0, index: 0, type: 'confChange', data: encodeConfChange(LEAVE_JOINT) }],
      });
      this.logger.info('leaving the joint configuration automatically', {
        id: this.id,
        index: this.pendingConfIndex,
      });
    } catch (error) {
      if (!(error instanceof RaftError)) throw error;
      // Tried again on the next tick or application.
      this.logger.debug('could not propose leaving the joint configuration yet', {
        reason: error.message,
      });
    }
  }

  /**
   * advanceStable is called when entries through `index` (with `term`) became durable;
   * a leader now counts itself for them.
   */
  onPersisted(index: number, term: number): void {
    this.raftLog.stableTo(index, term);
    if (this.role !== 'leader') return;
    const self = this.tracker.progress.get(this.id);
    if (self === undefined) return;
    if (self.maybeUpdate(this.raftLog.stableIndex()) && this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      this.maybeHandOffBeforeRemoval();
      this.bcastAppend();
    }
  }

  /** reduceUncommittedSize releases the uncommitted-size budget of entries now committed. */
  reduceUncommittedSize(entries: readonly Entry[]): void {
    if (this.role !== 'leader') return;
    this.uncommittedSize = Math.max(0, this.uncommittedSize - payloadSize(entries));
  }

  /** pendingReadCount is the number of ReadIndex requests not yet answered (leader). */
  pendingReadCount(): number {
    return this.readOnly.pendingCount() + this.pendingReadIndexMessages.length;
  }
}
