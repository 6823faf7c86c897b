/**
 * RaftError is the base of every error raftkit's core throws or rejects with. `code` is a
 * stable machine-readable name; the message says what happened and what to do.
 */
export class RaftError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** ProposalDroppedReason says why a proposal was not appended anywhere. */
export type ProposalDroppedReason =
  | 'noLeader'
  | 'forwardingDisabled'
  | 'leadershipTransfer'
  | 'uncommittedSizeExceeded'
  | 'notMember'
  | 'confChangePending';

/**
 * ProposalDroppedError: the proposal was refused before it reached any log; it will
 * never be applied, so retrying is safe.
 */
export class ProposalDroppedError extends RaftError {
  readonly reason: ProposalDroppedReason;
  constructor(reason: ProposalDroppedReason, detail = '') {
    const why: Record<ProposalDroppedReason, string> = {
      noLeader: 'no leader is known; retry after an election settles',
      forwardingDisabled:
        'this node is not the leader and proposal forwarding is disabled; send it to the leader',
      leadershipTransfer: 'leadership is being transferred; retry shortly',
      uncommittedSizeExceeded:
        'the leader has too many uncommitted bytes; retry after it catches up',
      notMember: 'this node is not a voting member of the group',
      confChangePending: 'another configuration change is still pending',
    };
    super('PROPOSAL_DROPPED', `proposal dropped: ${why[reason]}${detail ? ` (${detail})` : ''}`);
    this.reason = reason;
  }
}

/**
 * ProposalLostError: the proposal was appended but a new leader overwrote it (§5.3); it
 * will never be applied, so retrying is safe.
 */
export class ProposalLostError extends RaftError {
  constructor(index: number, term: number) {
    super(
      'PROPOSAL_LOST',
      `proposal at index ${index} term ${term} was overwritten by a newer leader; it was not applied, retry it`,
    );
  }
}

/**
 * ProposalTimeoutError: no outcome was seen in time. The proposal may still be applied
 * later; a retry must be idempotent.
 */
export class ProposalTimeoutError extends RaftError {
  constructor(ticks: number) {
    super(
      'PROPOSAL_TIMEOUT',
      `no outcome for the proposal after ${ticks} ticks; it may or may not be applied — retry only with an idempotency key`,
    );
  }
}

/** NodeStoppedError: the node was stopped (or failed) before the request completed. */
export class NodeStoppedError extends RaftError {
  constructor(detail = 'the raft node is stopped') {
    super('NODE_STOPPED', detail);
  }
}

/** ReadIndexError: a linearizable read could not be served (no leader, lost leadership). */
export class ReadIndexError extends RaftError {
  constructor(detail: string) {
    super('READ_INDEX_FAILED', `linearizable read failed: ${detail}; retry`);
  }
}

/** CompactedError: the requested index is before the first index still in the log. */
export class CompactedError extends RaftError {
  constructor(index: number, firstIndex: number) {
    super('LOG_COMPACTED', `index ${index} is compacted (first available index is ${firstIndex})`);
  }
}

/** UnavailableError: the requested index is after the last index in the log. */
export class UnavailableError extends RaftError {
  constructor(index: number, lastIndex: number) {
    super('LOG_UNAVAILABLE', `index ${index} is unavailable (last index is ${lastIndex})`);
  }
}

/** SnapshotTemporarilyUnavailableError: the store is preparing a snapshot; ask again later. */
export class SnapshotTemporarilyUnavailableError extends RaftError {
  constructor() {
    super(
      'SNAPSHOT_TEMPORARILY_UNAVAILABLE',
      'snapshot is temporarily unavailable; try again later',
    );
  }
}

/** SnapshotOutOfDateError: the snapshot is older than what the store already has. */
export class SnapshotOutOfDateError extends RaftError {
  constructor(index: number, current: number) {
    super(
      'SNAPSHOT_OUT_OF_DATE',
      `snapshot at index ${index} is older than the stored one at ${current}`,
    );
  }
}

/** InvalidMessageError: a message that cannot be stepped (local kind from the network, unknown peer, …). */
export class InvalidMessageError extends RaftError {
  constructor(detail: string) {
    super('INVALID_MESSAGE', `invalid message: ${detail}`);
  }
}

/** ConfigError: a RaftConfig value is out of range; the message names the field. */
export class ConfigError extends RaftError {
  constructor(detail: string) {
    super('INVALID_CONFIG', `invalid raft config: ${detail}`);
  }
}

/** ConfChangeErrorReason says why a configuration change is invalid or cannot be decoded. */
export type ConfChangeErrorReason =
  | 'malformed'
  | 'invalidNodeId'
  | 'alreadyJoint'
  | 'notJoint'
  | 'zeroVoterJoint'
  | 'removedAllVoters'
  | 'tooManyVoterChanges'
  | 'invariant';

/**
 * ConfChangeError: a configuration change is invalid for the current configuration (the
 * rules of etcd-io/raft's confchange package) or its bytes are malformed. `reason` is
 * machine-readable.
 */
export class ConfChangeError extends RaftError {
  readonly reason: ConfChangeErrorReason;
  constructor(reason: ConfChangeErrorReason, detail: string) {
    super('CONF_CHANGE_INVALID', `invalid configuration change: ${detail}`);
    this.reason = reason;
  }
}
