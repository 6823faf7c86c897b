import { Inflights } from './inflights.js';

/**
 * ProgressState is how a leader replicates to one follower: `probe` sends one MsgApp at
 * a time until it finds where the logs match; `replicate` streams (pipelines) entries
 * within the inflight window; `snapshot` waits for a snapshot transfer to finish.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/**
 * Progress is the leader's view of one peer (§5.3 nextIndex/matchIndex, plus flow control
 * in the manner of etcd-io/raft's tracker).
 */
export class Progress {
  /** Highest index known to be replicated on the peer. Invariant: match < next. */
  match: number;
  /** Index of the next entry to send. */
  next: number;
  state: ProgressState = 'probe';
  /** In snapshot state, the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Whether the peer was heard from since the last check-quorum round (thesis §6.2). */
  recentActive = false;
  /** In probe state, whether a probe is outstanding (wait for its answer or a heartbeat). */
  probeSent = false;
  readonly inflights: Inflights;
  isLearner: boolean;

  constructor(
    match: number,
    next: number,
    maxInflight: number,
    maxInflightBytes: number,
    isLearner: boolean,
  ) {
    this.match = match;
    this.next = next;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
    this.isLearner = isLearner;
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  /** becomeProbe goes back to one-at-a-time probing (after a rejection or an unreachable peer). */
  becomeProbe(): void {
    if (this.state === 'snapshot') {
      // The snapshot may have been applied; resume right after it.
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  /** becomeReplicate switches to pipelined streaming once the logs match. */
  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  /** becomeSnapshot waits for the snapshot at `snapshotIndex` to reach the peer. */
  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /**
   * sentEntries records a MsgApp whose last entry is `lastIndex` carrying `bytes`: in
   * replicate state it advances `next` optimistically (pipelining); in probe state it
   * pauses until the probe is answered.
   */
  sentEntries(lastIndex: number, entryCount: number, bytes: number): void {
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  /**
   * maybeUpdate records a successful append up to `index`; returns false if the answer
   * is stale (the peer already matched further).
   */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * maybeDecrTo handles a rejected MsgApp at `rejected` with the peer's hint `matchHint`;
   * returns false if the rejection is stale (answers a message we no longer care about).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      // Pipelined messages may be rejected late; only one for an index past match matters.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // In probe state only the answer to the outstanding probe (at next-1) counts.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** isPaused reports whether the leader must not send more entries now. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}
