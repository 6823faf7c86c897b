export type {
  ConfChange,
  ConfChangeSingle,
  ConfChangeTransition,
  ConfChangeType,
} from './conf-change.js';
export {
  decodeConfChange,
  describeConfChange,
  encodeConfChange,
  enterJointOf,
  isLeaveJoint,
  LEAVE_JOINT,
} from './conf-change.js';
export { enterJoint, leaveJoint, nextConfig, simple } from './conf-changer.js';
export * from './describe.js';
export * from './errors.js';
export type { LogStore, LogUpdate, StoredState } from './log-store.js';
export * from './memory-log-store.js';
export * from './message.js';
export * from './ports.js';
export type { ProgressState } from './progress.js';
export type { DecodedProposal } from './proposal-envelope.js';
export { decodeProposal, encodeProposal } from './proposal-envelope.js';
export type { AckedIndex, JointConfig, VoteResult } from './quorum.js';
export {
  isJoint,
  jointCommittedIndex,
  jointVoteResult,
  majorityCommittedIndex,
  majorityVoteResult,
} from './quorum.js';
export type { RaftConfig, ResolvedRaftConfig } from './raft-config.js';
export { resolveRaftConfig } from './raft-config.js';
export type { RaftNodeOptions, SnapshotPolicy } from './raft-node.js';
export { RaftNode, snapshotDue } from './raft-node.js';
export * from './random.js';
export type { ProgressStatus, SnapshotStatus, Status } from './raw-node.js';
export { RawNode } from './raw-node.js';
export type { ReadOnlyOption, ReadState } from './read-only.js';
export type { Ready } from './ready.js';
export type { TrackerConfig } from './tracker.js';
export { configFromConfState, confStateFromConfig } from './tracker.js';
export * from './types.js';
