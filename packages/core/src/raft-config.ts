import { ConfigError } from './errors.js';
import type { Logger, RandomSource } from './ports.js';
import { SILENT_LOGGER } from './ports.js';
import { seededRandom } from './random.js';
import type { ReadOnlyOption } from './read-only.js';
import type { NodeId } from './types.js';

/** RaftConfig configures one Raft node. Only `id` is required. */
export interface RaftConfig {
  /** This node's id (a positive safe integer). */
  readonly id: NodeId;
  /**
   * Voters of a brand-new group. Used only when the LogStore holds no membership yet
   * (first start); afterwards the membership comes from storage.
   */
  readonly peers?: readonly NodeId[];
  /** Learners of a brand-new group (see `peers`). */
  readonly learners?: readonly NodeId[];
  /**
   * Ticks without hearing from a leader before a follower campaigns. The actual timeout
   * is drawn uniformly from [electionTicks, 2·electionTicks) (§5.2). Default 10.
   */
  readonly electionTicks?: number;
  /** Ticks between leader heartbeats; must be < electionTicks. Default 1. */
  readonly heartbeatTicks?: number;
  /** The last index already applied to the state machine (restart with a durable state machine). Default 0. */
  readonly applied?: number;
  /** Largest entries payload in one MsgApp, in bytes (at least one entry is always sent). Default 1 MiB. */
  readonly maxSizePerMsg?: number;
  /** Largest total of committed entries in one Ready, in bytes. Default 8 MiB. */
  readonly maxCommittedSizePerReady?: number;
  /** Most MsgApp in flight to one peer while replicating (pipelining window). Default 256. */
  readonly maxInflightMsgs?: number;
  /** Most entry bytes in flight to one peer; 0 for no limit. Default 16 MiB. */
  readonly maxInflightBytes?: number;
  /**
   * Most bytes of uncommitted entry payload a leader accepts before dropping proposals;
   * 0 for no limit. Default 64 MiB.
   */
  readonly maxUncommittedEntriesSize?: number;
  /** Pre-vote (thesis §9.6): a partitioned node cannot disrupt the group on rejoining. Default true. */
  readonly preVote?: boolean;
  /**
   * Check-quorum (thesis §6.2): a leader that has not heard from a quorum for an election
   * timeout steps down, and followers that heard from a leader recently ignore votes.
   * Default true.
   */
  readonly checkQuorum?: boolean;
  /** How linearizable reads are confirmed. Default 'safe'. */
  readonly readOnlyOption?: ReadOnlyOption;
  /** When true, followers drop proposals instead of forwarding them to the leader. Default false. */
  readonly disableProposalForwarding?: boolean;
  /** Source of randomness for election timeouts. Default: seeded from the node id. */
  readonly random?: RandomSource;
  /** Structured logger. Default: silent. */
  readonly logger?: Logger;
}

/** ResolvedRaftConfig is a RaftConfig with every default filled in and validated. */
export type ResolvedRaftConfig = Required<Omit<RaftConfig, 'peers' | 'learners'>> &
  Pick<RaftConfig, 'peers' | 'learners'>;

function positiveInteger(name: string, value: number, allowZero = false): number {
  if (!Number.isSafeInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new ConfigError(
      `${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${value}`,
    );
  }
  return value;
}

/** resolveRaftConfig fills defaults and validates, throwing ConfigError naming the bad field. */
export function resolveRaftConfig(config: RaftConfig): ResolvedRaftConfig {
  positiveInteger('id', config.id);
  const electionTicks = positiveInteger('electionTicks', config.electionTicks ?? 10);
  const heartbeatTicks = positiveInteger('heartbeatTicks', config.heartbeatTicks ?? 1);
  if (electionTicks <= heartbeatTicks) {
    throw new ConfigError(
      `electionTicks (${electionTicks}) must be greater than heartbeatTicks (${heartbeatTicks}), or followers time out between heartbeats`,
    );
  }
  const maxInflightMsgs = positiveInteger('maxInflightMsgs', config.maxInflightMsgs ?? 256);
  const readOnlyOption = config.readOnlyOption ?? 'safe';
  const checkQuorum = config.checkQuorum ?? true;
  if (readOnlyOption === 'leaseBased' && !checkQuorum) {
    throw new ConfigError(
      "readOnlyOption 'leaseBased' requires checkQuorum, which bounds the lease",
    );
  }
  for (const id of [...(config.peers ?? []), ...(config.learners ?? [])])
    positiveInteger('peers[]', id);
  const resolved: ResolvedRaftConfig = {
    id: config.id,
    electionTicks,
    heartbeatTicks,
    applied: positiveInteger('applied', config.applied ?? 0, true),
    maxSizePerMsg: positiveInteger('maxSizePerMsg', config.maxSizePerMsg ?? 1024 * 1024, true),
    maxCommittedSizePerReady: positiveInteger(
      'maxCommittedSizePerReady',
      config.maxCommittedSizePerReady ?? 8 * 1024 * 1024,
    ),
    maxInflightMsgs,
    maxInflightBytes: positiveInteger(
      'maxInflightBytes',
      config.maxInflightBytes ?? 16 * 1024 * 1024,
      true,
    ),
    maxUncommittedEntriesSize: positiveInteger(
      'maxUncommittedEntriesSize',
      config.maxUncommittedEntriesSize ?? 64 * 1024 * 1024,
      true,
    ),
    preVote: config.preVote ?? true,
    checkQuorum,
    readOnlyOption,
    disableProposalForwarding: config.disableProposalForwarding ?? false,
    random: config.random ?? seededRandom(config.id * 2654435761),
    logger: config.logger ?? SILENT_LOGGER,
  };
  if (config.peers !== undefined) (resolved as { peers?: readonly NodeId[] }).peers = config.peers;
  if (config.learners !== undefined)
    (resolved as { learners?: readonly NodeId[] }).learners = config.learners;
  return resolved;
}
