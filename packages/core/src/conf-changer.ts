import type { ConfChange, ConfChangeSingle } from './conf-change.js';
import { enterJointOf, isLeaveJoint } from './conf-change.js';
import { ConfChangeError } from './errors.js';
import type { TrackerConfig } from './tracker.js';
import type { NodeId } from './types.js';

// Pure functions computing the next membership from the current one, after the rules of
// etcd-io/raft's confchange package (confchange/confchange.go). They never mutate their
// input and throw ConfChangeError when a change is not allowed.

/** A TrackerConfig under construction. */
interface MutableConfig {
  incoming: Set<NodeId>;
  outgoing: Set<NodeId>;
  learners: Set<NodeId>;
  learnersNext: Set<NodeId>;
  autoLeave: boolean;
}

function copy(config: TrackerConfig): MutableConfig {
  return {
    incoming: new Set(config.voters.incoming),
    outgoing: new Set(config.voters.outgoing),
    learners: new Set(config.learners),
    learnersNext: new Set(config.learnersNext),
    autoLeave: config.autoLeave,
  };
}

function freeze(config: MutableConfig): TrackerConfig {
  return {
    voters: { incoming: config.incoming, outgoing: config.outgoing },
    learners: config.learners,
    learnersNext: config.learnersNext,
    autoLeave: config.autoLeave,
  };
}

/** isMember: the node has a Progress (a voter of either half, a learner or a learner-to-be). */
function isMember(config: MutableConfig, id: NodeId): boolean {
  return (
    config.incoming.has(id) ||
    config.outgoing.has(id) ||
    config.learners.has(id) ||
    config.learnersNext.has(id)
  );
}

/**
 * isLearnerNow: the node is tracked as a learner (in `learners`). A node in
 * `learnersNext` still votes in the outgoing half, so it is not one yet.
 */
function isLearnerNow(config: MutableConfig, id: NodeId): boolean {
  return config.learners.has(id);
}

function makeVoter(config: MutableConfig, id: NodeId): void {
  config.learners.delete(id);
  config.learnersNext.delete(id);
  config.incoming.add(id);
}

function makeLearner(config: MutableConfig, id: NodeId): void {
  if (isLearnerNow(config, id)) return;
  remove(config, id);
  // A voter of the outgoing half keeps voting there until the joint configuration is
  // left (Raft paper §6: C_old still decides during the transition); it becomes a
  // learner then. Otherwise it is a learner at once.
  if (config.outgoing.has(id)) config.learnersNext.add(id);
  else config.learners.add(id);
}

function remove(config: MutableConfig, id: NodeId): void {
  if (!isMember(config, id)) return;
  config.incoming.delete(id);
  config.learners.delete(id);
  config.learnersNext.delete(id);
  // A voter of the outgoing half stays there (and keeps its Progress) until the joint
  // configuration is left.
}

function applyChanges(config: MutableConfig, changes: readonly ConfChangeSingle[]): void {
  for (const change of changes) {
    if (!Number.isSafeInteger(change.nodeId) || change.nodeId <= 0) {
      throw new ConfChangeError(
        'invalidNodeId',
        `node id ${change.nodeId} is not a positive safe integer`,
      );
    }
    switch (change.type) {
      case 'addNode':
        makeVoter(config, change.nodeId);
        break;
      case 'addLearnerNode':
        makeLearner(config, change.nodeId);
        break;
      case 'removeNode':
        remove(config, change.nodeId);
        break;
      default:
        throw new ConfChangeError('malformed', `unknown change type '${String(change.type)}'`);
    }
  }
  if (config.incoming.size === 0) {
    throw new ConfChangeError('removedAllVoters', 'the change removes every voter');
  }
}

/**
 * checkInvariants enforces the shape of a valid configuration (etcd-io/raft's
 * checkInvariants): learners are never voters; a learner-to-be is a voter of the
 * outgoing half only; outside a joint configuration there are no learners-to-be and no
 * auto-leave.
 */
function checkInvariants(config: MutableConfig): TrackerConfig {
  for (const id of config.learnersNext) {
    if (!config.outgoing.has(id)) {
      throw new ConfChangeError('invariant', `${id} is in learnersNext but not an outgoing voter`);
    }
    if (config.learners.has(id)) {
      throw new ConfChangeError('invariant', `${id} is in learnersNext and already a learner`);
    }
  }
  for (const id of config.learners) {
    if (config.incoming.has(id) || config.outgoing.has(id)) {
      throw new ConfChangeError('invariant', `${id} is both a learner and a voter`);
    }
  }
  if (config.outgoing.size === 0) {
    if (config.learnersNext.size > 0) {
      throw new ConfChangeError('invariant', 'learnersNext must be empty when not joint');
    }
    if (config.autoLeave) {
      throw new ConfChangeError('invariant', 'autoLeave must be false when not joint');
    }
  }
  return freeze(config);
}

function symmetricDifference(a: ReadonlySet<NodeId>, b: ReadonlySet<NodeId>): number {
  let n = 0;
  for (const id of a) if (!b.has(id)) n++;
  for (const id of b) if (!a.has(id)) n++;
  return n;
}

/**
 * simple applies `changes` directly, without joint consensus. It is allowed only outside
 * a joint configuration and when at most one voter is added or removed (thesis §4.1:
 * with single-server changes, every majority of the old configuration overlaps every
 * majority of the new one, so no two disjoint majorities can decide at once). Adding
 * and removing learners is unrestricted, as they count in no quorum.
 */
export function simple(config: TrackerConfig, changes: readonly ConfChangeSingle[]): TrackerConfig {
  if (config.voters.outgoing.size > 0) {
    throw new ConfChangeError(
      'alreadyJoint',
      'cannot apply a simple configuration change in a joint configuration; leave it first',
    );
  }
  const next = copy(config);
  applyChanges(next, changes);
  if (symmetricDifference(config.voters.incoming, next.incoming) > 1) {
    throw new ConfChangeError(
      'tooManyVoterChanges',
      'more than one voter changed without entering a joint configuration',
    );
  }
  return checkInvariants(next);
}

/**
 * enterJoint starts joint consensus (Raft paper §6): the current voters become the
 * outgoing half, `changes` are applied to the incoming half, and every decision now needs
 * a majority of both. Voters demoted to learners stay outgoing voters until the joint
 * configuration is left (`learnersNext`). With `autoLeave`, the leader leaves the joint
 * configuration by itself once it is applied.
 */
export function enterJoint(
  config: TrackerConfig,
  autoLeave: boolean,
  changes: readonly ConfChangeSingle[],
): TrackerConfig {
  if (config.voters.outgoing.size > 0) {
    throw new ConfChangeError('alreadyJoint', 'the configuration is already joint');
  }
  if (config.voters.incoming.size === 0) {
    // An empty configuration may be filled by simple changes (bootstrap), never made joint.
    throw new ConfChangeError('zeroVoterJoint', 'cannot make a zero-voter configuration joint');
  }
  const next = copy(config);
  next.outgoing = new Set(config.voters.incoming);
  applyChanges(next, changes);
  next.autoLeave = autoLeave;
  return checkInvariants(next);
}

/**
 * leaveJoint ends joint consensus (Raft paper §6: C_new alone decides once C_old,new is
 * committed): the outgoing half is dropped, learners-to-be become learners, and outgoing
 * voters that are in neither the incoming half nor the learners leave the group.
 */
export function leaveJoint(config: TrackerConfig): TrackerConfig {
  if (config.voters.outgoing.size === 0) {
    throw new ConfChangeError('notJoint', 'cannot leave a configuration that is not joint');
  }
  const next = copy(config);
  for (const id of next.learnersNext) next.learners.add(id);
  next.learnersNext = new Set();
  next.outgoing = new Set();
  next.autoLeave = false;
  return checkInvariants(next);
}

/**
 * nextConfig computes the configuration after `cc` (etcd-io/raft's raft.applyConfChange):
 * an empty change leaves the joint configuration; otherwise `enterJointOf` decides between
 * joint consensus and a simple change. Throws ConfChangeError when not allowed.
 */
export function nextConfig(config: TrackerConfig, cc: ConfChange): TrackerConfig {
  if (isLeaveJoint(cc)) return leaveJoint(config);
  const { joint, autoLeave } = enterJointOf(cc);
  return joint ? enterJoint(config, autoLeave, cc.changes) : simple(config, cc.changes);
}
