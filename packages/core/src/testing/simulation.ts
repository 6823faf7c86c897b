import type { ConfChange, ConfChangeSingle, ConfChangeTransition } from '../conf-change.js';
import { LEAVE_JOINT } from '../conf-change.js';
import type { LogStore } from '../log-store.js';
import type { Logger, RandomSource } from '../ports.js';
import type { NodeId } from '../types.js';
import { EMPTY_DATA } from '../types.js';
import type { SafetyViolation } from './safety-checker.js';
import { encodeCommand, SimCluster } from './sim-cluster.js';
import { RELIABLE_NETWORK, UNRELIABLE_NETWORK } from './simulated-network.js';

/** SimulationOptions configures one seeded random run. */
export interface SimulationOptions {
  readonly seed: number;
  /** Number of nodes. Default 3, 5 or 7 chosen from the seed. */
  readonly nodes?: number;
  /**
   * Number of random actions before the final recovery phase (a delivery, a round of
   * ticks, a proposal, a fault…). Default 2000. Safety is checked after every step each
   * action causes.
   */
  readonly steps?: number;
  /**
   * membership turns on random membership changes (Raft paper §6): add and remove voters and learners,
   * promote learners, replace a member (add it as a learner, promote it, remove the old
   * one), joint changes of several members with automatic or explicit leave, and the
   * occasional invalid change (which must be refused). Spare nodes (4 more than the
   * initial members) run from the start and join when added; removed nodes stop for
   * good. Default: on for even seeds.
   */
  readonly membership?: boolean;
  /** Store factory (e.g. a durable store); default in-memory. */
  readonly createStore?: (id: NodeId, peers: readonly NodeId[]) => LogStore | Promise<LogStore>;
  readonly reopenStore?: (id: NodeId, store: LogStore) => LogStore | Promise<LogStore>;
  /** logger receives every node's log lines (default silent), to follow one seed. */
  readonly logger?: Logger;
}

/** SimulationResult reports a run: steps taken, work done, and any violation. */
export interface SimulationResult {
  readonly seed: number;
  readonly nodes: number;
  readonly steps: number;
  readonly committed: number;
  readonly acknowledged: number;
  readonly readsServed: number;
  /** confChanges counts the configuration changes committed (0 without membership changes). */
  readonly confChanges: number;
  readonly violations: readonly SafetyViolation[];
}

/**
 * runSimulation runs one seeded random scenario: a network that drops, duplicates,
 * delays and reorders; partitions, isolations and heals; crashes (also in the middle of
 * handling a Ready) and restarts; random proposals, ReadIndex reads, leadership
 * transfers and (with `membership`) membership changes. The safety checker runs after
 * every step. At the end the network is healed,
 * every node restarted (but removed ones), and the cluster must elect a leader, commit a
 * final write on every member and still hold every acknowledged write ("Liveness" / "DurableAck").
 */
export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  const seed = options.seed;
  const nodeCount = options.nodes ?? [3, 5, 7][seed % 3]!;
  const membership = options.membership ?? seed % 2 === 0;
  const cluster = await SimCluster.create({
    nodes: nodeCount,
    spare: membership ? 4 : 0,
    seed,
    faults: { ...UNRELIABLE_NETWORK },
    raft: { electionTicks: 10, heartbeatTicks: 2, maxSizePerMsg: 512, maxInflightMsgs: 16 },
    asyncPersist: true,
    // Two seeds in three snapshot and compact often, so lagging and restarted nodes are
    // caught up by InstallSnapshot; the third keeps its whole log.
    ...(seed % 3 !== 2
      ? { snapshot: { everyEntries: 10 + (seed % 20), keepEntries: seed % 4 } }
      : {}),
    ...(options.createStore ? { createStore: options.createStore } : {}),
    ...(options.reopenStore ? { reopenStore: options.reopenStore } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const random = cluster.random;
  const ids = cluster.ids;
  const pick = () => ids[random(ids.length)]!;
  const plan: ConfChangeSingle[] = [];
  const totalSteps = options.steps ?? 2000;
  let proposalCounter = 0;
  const command = () => encodeCommand(`s${seed}-p${++proposalCounter}`);

  for (let turn = 0; turn < totalSteps; turn++) {
    // Storms of faults alternate with calm stretches (a quarter of the run, in phases of
    // 250 actions), so that leaders are elected and commit between storms and every
    // storm has committed state to endanger.
    const calm = Math.floor(turn / 250) % 4 === 3;
    const storm = calm ? 0 : 1;
    if (calm && turn % 250 === 0) {
      cluster.heal();
      cluster.network.faults = { ...RELIABLE_NETWORK, reorder: true };
    }
    const pending = cluster.network.pending();
    // Weights per step. Faults are rare enough that leaders get elected and commit
    // between them, frequent enough that every run sees several of each kind.
    const weights: [string, number][] = [
      ['deliver', pending > 0 ? Math.min(4000, 200 + pending * 40) : 0],
      ['persist', 160],
      ['round', 120],
      ['propose', 120],
      ['read', 32],
      ['crash', 2 * storm],
      ['crashMidReady', 1 * storm],
      ['crashWriting', 2 * storm],
      ['restart', 10],
      ['partition', 2 * storm],
      ['isolate', 2 * storm],
      ['heal', 5],
      ['transfer', 2 * storm],
      ['faults', 2 * storm],
      // Zero weight without membership changes, so those seeds run as they always did.
      ['member', membership ? 48 : 0],
    ];
    let total = 0;
    for (const [, weight] of weights) total += weight;
    let roll = random(total);
    let action = 'round';
    for (const [name, weight] of weights) {
      if (roll < weight) {
        action = name;
        break;
      }
      roll -= weight;
    }
    switch (action) {
      case 'deliver':
        await cluster.deliverOne();
        break;
      case 'persist': {
        const writing = ids.filter((id) => cluster.hasOutstanding(id));
        if (writing.length > 0) await cluster.persist(writing[random(writing.length)]!);
        break;
      }
      case 'round':
        for (const id of ids) await cluster.tick(id);
        cluster.network.advanceRound();
        break;
      case 'propose': {
        const size = 1 + random(3);
        await cluster.propose(pick(), Array.from({ length: size }, command));
        break;
      }
      case 'read':
        await cluster.readIndex(pick());
        break;
      case 'crash': {
        const live = cluster.liveIds();
        if (live.length > 0) cluster.crash(live[random(live.length)]!);
        break;
      }
      case 'crashMidReady': {
        const live = cluster.liveIds();
        if (live.length > 0) cluster.crashDuringNextReady(live[random(live.length)]!);
        break;
      }
      case 'crashWriting': {
        // Kill a node whose write is in flight: what it sent before persisting must not
        // have promised anything its disk does not hold.
        const writing = ids.filter((id) => cluster.hasOutstanding(id));
        if (writing.length > 0) cluster.crash(writing[random(writing.length)]!);
        break;
      }
      case 'restart': {
        const down = ids.filter((id) => cluster.raft(id) === undefined);
        if (down.length > 0) await cluster.restart(down[random(down.length)]!);
        break;
      }
      case 'partition': {
        const shuffled = [...ids].sort(() => random(2) - 0.5);
        const cut = 1 + random(ids.length - 1);
        cluster.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
        break;
      }
      case 'isolate':
        cluster.isolate(pick());
        break;
      case 'heal':
        cluster.heal();
        break;
      case 'transfer':
        await cluster.transferLeader(pick());
        break;
      case 'faults':
        cluster.network.faults =
          random(2) === 0 ? { ...UNRELIABLE_NETWORK } : { ...RELIABLE_NETWORK, reorder: true };
        break;
      case 'member':
        await changeMembership(cluster, random, plan);
        break;
    }
    if (cluster.violations().length > 0) break;
  }

  if (cluster.violations().length === 0) await recover(cluster, seed);

  return {
    seed,
    nodes: nodeCount,
    steps: cluster.steps,
    committed: cluster.checker.committedLength(),
    acknowledged: cluster.acknowledged.length,
    readsServed: cluster.readsServed,
    confChanges: cluster.configHistory.length - 1,
    violations: cluster.violations(),
  };
}

const change = (type: ConfChangeSingle['type'], nodeId: NodeId): ConfChangeSingle => ({
  type,
  nodeId,
});

/** reflected reports whether a planned change is already part of the membership. */
function reflected(cluster: SimCluster, step: ConfChangeSingle): boolean {
  const conf = cluster.latestConfState();
  switch (step.type) {
    case 'addNode':
      return conf.voters.includes(step.nodeId);
    case 'addLearnerNode':
      return conf.learners.includes(step.nodeId) || conf.learnersNext.includes(step.nodeId);
    case 'removeNode':
      return !cluster.members().includes(step.nodeId);
  }
}

/**
 * changeMembership proposes one random membership change at a random node (forwarded
 * to the leader when it is not one), based on the latest committed membership. Most are
 * valid; the leader refuses those that are not, and those made while another is pending.
 */
async function changeMembership(
  cluster: SimCluster,
  random: RandomSource,
  plan: ConfChangeSingle[],
): Promise<void> {
  const conf = cluster.latestConfState();
  const live = cluster.liveIds();
  const leaderId = cluster.leader();
  if (live.length === 0) return;
  // Don't waste the action while a leader would refuse any change (one at a time); a
  // refused proposal is still tried now and then.
  const leader = leaderId === undefined ? undefined : cluster.raft(leaderId);
  const busy = leader === undefined || leader.pendingConfIndex > leader.raftLog.applied;
  if (busy && random(8) !== 0) return;
  // Mostly at the leader; sometimes at another node, which forwards it.
  const at = leaderId === undefined || random(4) === 0 ? live[random(live.length)]! : leaderId;
  const propose = (cc: ConfChange) => cluster.proposeConfChange(at, cc);
  const single = (step: ConfChangeSingle) =>
    propose({ transition: 'auto', changes: [step], context: EMPTY_DATA });
  if (conf.votersOutgoing.length > 0) {
    // An explicit joint configuration is left only when asked (auto-leave needs nothing).
    if (!conf.autoLeave) await propose(LEAVE_JOINT);
    return;
  }
  // A replacement in progress: take its next step — unless a node it names was removed
  // meanwhile (a removed node is stopped for good): then it is abandoned.
  if (plan.some((step) => step.type !== 'removeNode' && cluster.stopped.has(step.nodeId))) {
    plan.length = 0;
  }
  while (plan.length > 0 && reflected(cluster, plan[0]!)) plan.shift();
  if (plan.length > 0) {
    await single(plan[0]!);
    return;
  }
  const members = new Set(cluster.members());
  const fresh = cluster.ids.filter((id) => !members.has(id) && !cluster.stopped.has(id));
  const voters = conf.voters;
  const learners = conf.learners;
  const any = <T>(list: readonly T[]): T => list[random(list.length)]!;
  const ops: [number, () => Promise<unknown>][] = [];
  if (fresh.length > 0 && voters.length < 7) {
    ops.push([12, () => single(change('addNode', any(fresh)))]);
  }
  if (fresh.length > 0) ops.push([10, () => single(change('addLearnerNode', any(fresh)))]);
  if (learners.length > 0) {
    ops.push([12, () => single(change('addNode', any(learners)))]); // promotion
    ops.push([5, () => single(change('removeNode', any(learners)))]);
  }
  if (voters.length > 3) ops.push([10, () => single(change('removeNode', any(voters)))]);
  if (fresh.length > 0) {
    // Replace a voter: add a learner, promote it, then remove the old voter.
    ops.push([
      8,
      () => {
        const incoming = any(fresh);
        plan.push(
          change('addLearnerNode', incoming),
          change('addNode', incoming),
          change('removeNode', any(voters)),
        );
        return single(plan[0]!);
      },
    ]);
  }
  const joining = [...fresh, ...learners];
  if (joining.length > 0) {
    // Joint consensus (Raft paper §6): one joins as a voter while another leaves or is
    // demoted to a learner (staying an outgoing voter until the joint config is left).
    ops.push([
      20,
      () => {
        const transition: ConfChangeTransition = any(['auto', 'implicit', 'explicit'] as const);
        const incoming = any(joining);
        const changes = [
          change('addNode', incoming),
          change(random(3) === 0 ? 'addLearnerNode' : 'removeNode', any(voters)),
        ];
        const other = fresh.find((id) => id !== incoming);
        if (other !== undefined && random(2) === 0) changes.push(change('addLearnerNode', other));
        return propose({ transition, changes, context: EMPTY_DATA });
      },
    ]);
  }
  // Invalid on purpose: removing every voter, and leaving a configuration that is not
  // joint, must both be refused by the leader.
  ops.push([
    3,
    () =>
      propose({
        transition: 'implicit',
        changes: voters.map((id) => change('removeNode', id)),
        context: EMPTY_DATA,
      }),
  ]);
  ops.push([2, () => propose(LEAVE_JOINT)]);
  let total = 0;
  for (const [weight] of ops) total += weight;
  let roll = random(total);
  for (const [weight, op] of ops) {
    if (roll < weight) {
      await op();
      return;
    }
    roll -= weight;
  }
}

/** recover heals everything and demands progress and durability of acknowledged writes. */
async function recover(cluster: SimCluster, seed: number): Promise<void> {
  cluster.heal();
  cluster.network.faults = { ...RELIABLE_NETWORK };
  for (const id of cluster.ids) {
    cluster.node(id).crashDuringNextReady = false;
    if (cluster.raft(id) === undefined && !cluster.stopped.has(id)) await cluster.restart(id);
  }
  const finalCommand = encodeCommand(`s${seed}-final`);
  let proposedAt: number | undefined;
  let proposedIndexGuess = 0;
  const stepBudget = cluster.steps + 200_000;
  for (let round = 0; round < 400; round++) {
    await cluster.round();
    if (cluster.steps > stepBudget) {
      cluster.checker.violations.push({
        property: 'Liveness',
        detail: 'message storm: over 200,000 steps in recovery',
      });
      return;
    }
    const leader = cluster.leader();
    const latest = cluster.latestConfState();
    if (leader !== undefined && latest.votersOutgoing.length > 0 && !latest.autoLeave) {
      // An explicit joint configuration left behind by the run: leave it.
      await cluster.proposeConfChange(leader, LEAVE_JOINT);
    }
    if (proposedAt === undefined && leader !== undefined) {
      if (await cluster.propose(leader, finalCommand)) {
        proposedAt = leader;
        proposedIndexGuess = cluster.raft(leader)!.raftLog.lastIndex();
      }
    }
    if (proposedAt !== undefined) {
      const done = running(cluster).every((id) => cluster.appliedIndex(id) >= proposedIndexGuess);
      if (done) break;
    }
  }
  const violations = cluster.checker.violations;
  if (proposedAt === undefined) {
    violations.push({
      property: 'Liveness',
      detail: 'no leader elected within 400 rounds of a healed network',
    });
    return;
  }
  // Every member of the final membership must have it; spare nodes never added, and
  // removed ones, need not.
  const lagging = running(cluster).filter((id) => cluster.appliedIndex(id) < proposedIndexGuess);
  if (lagging.length > 0) {
    violations.push({
      property: 'Liveness',
      detail: `nodes ${lagging.join(',')} did not apply index ${proposedIndexGuess} within 400 rounds of a healed network`,
    });
    return;
  }
  cluster.checkAcknowledged();
}

/**
 * running lists the members of the latest membership that still run. A removed node
 * stops for good (as a removed kv-server member exits); the core may still add its id
 * back — a proposal made while it was a learner, delayed in the network, is valid again
 * once it is out (seed 61632) — and then the membership lists a node that will never
 * run. The others must still commit without it, which the final write checks. The core
 * does not know removed ids; an application refuses such a re-add with RaftNode's
 * `skipConfChange`, as etcd's server does and kv-server does.
 */
function running(cluster: SimCluster): NodeId[] {
  return cluster.members().filter((id) => !cluster.stopped.has(id));
}
