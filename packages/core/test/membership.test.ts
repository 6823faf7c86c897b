// Membership changes end to end in the core: joint consensus (Raft paper §6), simple
// one-server changes (thesis §4.1), learners, the removed leader stepping down (thesis
// §4.2.2), one change at a time, through RawNode (SimCluster) and RaftNode.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type {
  ConfChange,
  ConfChangeSingle,
  ConfState,
  Entry,
  Message,
  NodeId,
  StateMachine,
  Ticker,
  TrackerConfig,
} from '../src/index.js';
import {
  ConfChangeError,
  configFromConfState,
  encodeConfChange,
  LEAVE_JOINT,
  MemoryLogStore,
  nextConfig,
  ProposalDroppedError,
  RaftNode,
  seededRandom,
} from '../src/index.js';
import { disjointQuorums, encodeCommand, SimCluster } from '../src/testing/index.js';

const NO_CONTEXT = new Uint8Array();
const add = (nodeId: NodeId): ConfChangeSingle => ({ type: 'addNode', nodeId });
const remove = (nodeId: NodeId): ConfChangeSingle => ({ type: 'removeNode', nodeId });
const learner = (nodeId: NodeId): ConfChangeSingle => ({ type: 'addLearnerNode', nodeId });
const cc = (transition: ConfChange['transition'], ...changes: ConfChangeSingle[]): ConfChange => ({
  transition,
  changes,
  context: NO_CONTEXT,
});

async function cluster(
  nodes: number,
  spare: number,
  snapshot?: { everyEntries: number; keepEntries: number },
): Promise<SimCluster> {
  const sim = await SimCluster.create({
    nodes,
    spare,
    seed: 7,
    raft: { electionTicks: 10, heartbeatTicks: 1 },
    ...(snapshot !== undefined ? { snapshot } : {}),
  });
  await settleLeader(sim);
  return sim;
}

async function settleLeader(sim: SimCluster): Promise<NodeId> {
  for (let round = 0; round < 200; round++) {
    await sim.round();
    const leader = sim.leader();
    if (
      leader !== undefined &&
      sim.raft(leader)!.raftLog.applied >= sim.raft(leader)!.raftLog.lastIndex()
    )
      return leader;
  }
  throw new Error('no leader');
}

let counter = 0;
async function write(sim: SimCluster, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    expect(await sim.propose(sim.leader()!, encodeCommand(`w${++counter}`))).toBe(true);
    await sim.round();
  }
}

function voters(sim: SimCluster, id: NodeId): NodeId[] {
  return [...sim.raft(id)!.tracker.config.voters.incoming].sort((a, b) => a - b);
}

function expectClean(sim: SimCluster): void {
  expect(sim.violations()).toEqual([]);
}

describe('membership changes through RawNode', () => {
  it('adds a node, which catches up from the log and then counts in the quorum', async () => {
    const sim = await cluster(3, 1);
    await write(sim, 5);
    const leader = sim.leader()!;
    expect(await sim.proposeConfChange(leader, cc('auto', add(4)))).toBe(true);
    await sim.runRounds(10);
    for (const id of [1, 2, 3, 4]) expect(voters(sim, id)).toEqual([1, 2, 3, 4]);
    expect(sim.appliedIndex(4)).toBe(sim.appliedIndex(leader));
    expect(sim.raft(leader)!.tracker.progress.get(4)!.match).toBe(
      sim.raft(leader)!.raftLog.lastIndex(),
    );
    // With 4 voters a quorum is 3: two nodes down stop commitment.
    const others = [1, 2, 3, 4].filter((id) => id !== leader);
    sim.crash(others[0]!);
    sim.crash(others[1]!);
    const before = sim.raft(leader)!.raftLog.committed;
    await sim.propose(leader, encodeCommand('needs three'));
    await sim.runRounds(5);
    expect(sim.raft(leader)!.raftLog.committed).toBe(before);
    await sim.restart(others[0]!);
    await sim.runRounds(10);
    expect(sim.raft(sim.leader()!)!.raftLog.committed).toBeGreaterThan(before);
    expectClean(sim);
  });

  it('adds a node by snapshot when the log it needs is compacted (snapshot older than its joining)', async () => {
    const sim = await cluster(3, 1, { everyEntries: 5, keepEntries: 0 });
    await write(sim, 20);
    const leader = sim.leader()!;
    expect(sim.node(leader).store.firstIndex()).toBeGreaterThan(10);
    expect(await sim.proposeConfChange(leader, cc('auto', add(4)))).toBe(true);
    await sim.runRounds(20);
    expect(voters(sim, 4)).toEqual([1, 2, 3, 4]);
    expect(sim.appliedIndex(4)).toBe(sim.appliedIndex(sim.leader()!));
    expect(sim.node(4).snapshotIndex).toBeGreaterThan(0);
    expectClean(sim);
  });

  it('removes a follower, which stops; the rest keep committing', async () => {
    const sim = await cluster(5, 0);
    const leader = sim.leader()!;
    const victim = [1, 2, 3, 4, 5].find((id) => id !== leader)!;
    expect(await sim.proposeConfChange(leader, cc('auto', remove(victim)))).toBe(true);
    await sim.runRounds(5);
    const remaining = [1, 2, 3, 4, 5].filter((id) => id !== victim);
    for (const id of remaining) expect(voters(sim, id)).toEqual(remaining);
    expect(sim.stopped.has(victim)).toBe(true);
    expect(sim.raft(leader)!.tracker.progress.has(victim)).toBe(false);
    await write(sim, 3);
    for (const id of remaining) expect(sim.appliedIndex(id)).toBe(sim.appliedIndex(leader));
    expectClean(sim);
  });

  it('removes the leader: it leads until the change commits, then steps down and another is elected', async () => {
    const sim = await cluster(3, 0);
    const leader = sim.leader()!;
    const raft = sim.raft(leader)!;
    const seen: { roleBefore: string; roleAfter: string; committed: number; applied: number }[] =
      [];
    const apply = raft.applyConfChange.bind(raft);
    raft.applyConfChange = (change: ConfChange) => {
      const roleBefore = raft.role;
      const result = apply(change);
      seen.push({
        roleBefore,
        roleAfter: raft.role,
        committed: raft.raftLog.committed,
        applied: raft.raftLog.applied,
      });
      return result;
    };
    expect(await sim.proposeConfChange(leader, cc('auto', remove(leader)))).toBe(true);
    const index = raft.raftLog.lastIndex();
    // Not committed yet: still the leader, still accepting writes.
    expect(raft.role).toBe('leader');
    expect(await sim.propose(leader, encodeCommand('before the change commits'))).toBe(true);
    await sim.runRounds(3);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.roleBefore).toBe('leader');
    expect(seen[0]!.roleAfter).toBe('follower');
    expect(seen[0]!.committed).toBeGreaterThanOrEqual(index);
    // The simulated removed node stops; the other two elect a leader among themselves.
    expect(sim.stopped.has(leader)).toBe(true);
    const next = await settleLeader(sim);
    expect(next).not.toBe(leader);
    expect(voters(sim, next)).toEqual([1, 2, 3].filter((id) => id !== leader));
    await write(sim, 2);
    expectClean(sim);
  });

  it('joint consensus: enters C_old,new and leaves it automatically (auto transition)', async () => {
    const sim = await cluster(3, 2);
    const leader = sim.leader()!;
    const removed = [1, 2, 3].find((id) => id !== leader)!;
    expect(await sim.proposeConfChange(leader, cc('auto', add(4), add(5), remove(removed)))).toBe(
      true,
    );
    await sim.runRounds(10);
    const keys = sim.configHistory.map((epoch) => epoch.key);
    const incoming = [1, 2, 3, 4, 5].filter((id) => id !== removed).join(',');
    expect(keys).toEqual(['1,2,3||||0', `${incoming}|1,2,3|||1`, `${incoming}||||0`]);
    for (const id of sim.members()) expect(sim.raft(id)!.tracker.isJoint()).toBe(false);
    expect(sim.stopped.has(removed)).toBe(true);
    expectClean(sim);
  });

  it('joint consensus with an explicit transition stays joint until asked to leave', async () => {
    const sim = await cluster(3, 1);
    const leader = sim.leader()!;
    expect(await sim.proposeConfChange(leader, cc('explicit', add(4)))).toBe(true);
    await sim.runRounds(10);
    expect(sim.raft(leader)!.tracker.isJoint()).toBe(true);
    expect(sim.latestConfState().autoLeave).toBe(false);
    // Any change but leaving is refused while joint.
    expect(() => sim.node(leader).raw!.proposeConfChange(cc('auto', add(4)))).toThrow(
      ConfChangeError,
    );
    expect(await sim.proposeConfChange(leader, LEAVE_JOINT)).toBe(true);
    await sim.runRounds(5);
    for (const id of [1, 2, 3, 4]) {
      expect(sim.raft(id)!.tracker.isJoint()).toBe(false);
      expect(voters(sim, id)).toEqual([1, 2, 3, 4]);
    }
    expectClean(sim);
  });

  it('a learner receives the log but counts in no quorum and never campaigns; then it is promoted', async () => {
    const sim = await cluster(3, 1);
    const leader = sim.leader()!;
    expect(await sim.proposeConfChange(leader, cc('auto', learner(4)))).toBe(true);
    await sim.runRounds(5);
    await write(sim, 3);
    expect(sim.raft(4)!.tracker.config.learners.has(4)).toBe(true);
    expect(sim.appliedIndex(4)).toBe(sim.appliedIndex(leader));
    expect(sim.raft(leader)!.tracker.progress.get(4)!.isLearner).toBe(true);
    // Not counted: with both other voters down, leader + learner commit nothing.
    const followers = [1, 2, 3].filter((id) => id !== leader);
    for (const id of followers) sim.crash(id);
    const before = sim.raft(leader)!.raftLog.committed;
    await sim.propose(leader, encodeCommand('unreachable quorum'));
    await sim.runRounds(5);
    expect(sim.raft(leader)!.raftLog.lastIndex()).toBeGreaterThan(before);
    expect(sim.node(4).raw!.raft.raftLog.lastIndex()).toBe(sim.raft(leader)!.raftLog.lastIndex());
    expect(sim.raft(leader)!.raftLog.committed).toBe(before);
    // Never campaigns: cut off from everyone for many election timeouts.
    sim.isolate(4);
    const term = sim.raft(4)!.term;
    for (let i = 0; i < 100; i++) await sim.tick(4);
    expect(sim.raft(4)!.role).toBe('follower');
    expect(sim.raft(4)!.term).toBe(term);
    sim.heal();
    for (const id of followers) await sim.restart(id);
    const current = await settleLeader(sim);
    // Promotion: the learner becomes a voter.
    expect(await sim.proposeConfChange(current, cc('auto', add(4)))).toBe(true);
    await sim.runRounds(5);
    for (const id of [1, 2, 3, 4]) expect(voters(sim, id)).toEqual([1, 2, 3, 4]);
    expect(sim.raft(sim.leader()!)!.tracker.progress.get(4)!.isLearner).toBe(false);
    expectClean(sim);
  });

  it('refuses a second change while one is pending, and accepts it once the first is applied', async () => {
    const sim = await cluster(3, 2);
    const leader = sim.leader()!;
    const raw = sim.node(leader).raw!;
    raw.proposeConfChange(cc('auto', add(4)));
    let refusal: unknown;
    try {
      raw.proposeConfChange(cc('auto', add(5)));
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(ProposalDroppedError);
    expect((refusal as ProposalDroppedError).reason).toBe('confChangePending');
    // In a batch with other entries, a refused change becomes a no-op (etcd-io/raft).
    const lastBefore = raw.raft.raftLog.lastIndex();
    raw.raft.step({
      type: 'MsgProp',
      from: leader,
      to: 0,
      term: 0,
      entries: [
        { term: 0, index: 0, type: 'normal', data: encodeCommand('x') },
        { term: 0, index: 0, type: 'confChange', data: encodeConfChange(cc('auto', add(5))) },
      ],
    });
    const appended = raw.raft.raftLog.slice(lastBefore + 1, raw.raft.raftLog.lastIndex() + 1);
    expect(appended.map((entry: Entry) => entry.type)).toEqual(['normal', 'normal']);
    await sim.processReady(leader);
    await sim.runRounds(5);
    expect(voters(sim, leader)).toEqual([1, 2, 3, 4]);
    expect(await sim.proposeConfChange(leader, cc('auto', add(5)))).toBe(true);
    await sim.runRounds(5);
    expect(voters(sim, leader)).toEqual([1, 2, 3, 4, 5]);
    expectClean(sim);
  });

  it('refuses invalid changes at the leader with ConfChangeError', async () => {
    const sim = await cluster(3, 0);
    const raw = sim.node(sim.leader()!).raw!;
    const attempts: ConfChange[] = [
      LEAVE_JOINT,
      cc('implicit', remove(1), remove(2), remove(3)),
      { transition: 'auto', changes: [], context: NO_CONTEXT },
    ];
    for (const attempt of attempts) {
      expect(() => raw.proposeConfChange(attempt)).toThrow(ConfChangeError);
    }
    expectClean(sim);
  });

  it('a restarted node re-derives its membership from the log after its snapshot', async () => {
    const sim = await cluster(3, 1);
    const leader = sim.leader()!;
    expect(await sim.proposeConfChange(leader, cc('auto', add(4)))).toBe(true);
    await sim.runRounds(5);
    const follower = [1, 2, 3].find((id) => id !== leader)!;
    sim.crash(follower);
    await sim.restart(follower);
    await sim.runRounds(3);
    expect(voters(sim, follower)).toEqual([1, 2, 3, 4]);
    expectClean(sim);
  });
});

describe("the simulator's membership invariants catch what they exist to catch", () => {
  it('a node whose membership differs from the committed one at its applied index → ConfigSafety', async () => {
    const sim = await cluster(3, 1);
    sim.raft(2)!.applyConfState({
      voters: [2, 3],
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    });
    await sim.round();
    expect(sim.violations().map((v) => v.property)).toContain('ConfigSafety');
  });

  it('a changer that swaps two voters at once, without joint consensus → DisjointQuorums', async () => {
    const sim = await cluster(3, 2);
    // Every node applies "add 4" as if it were "replace 2 and 3 by 4 and 5".
    for (const id of sim.ids) {
      const raw = sim.node(id).raw!;
      raw.applyConfChange = () => {
        const confState: ConfState = {
          voters: [1, 4, 5],
          learners: [],
          votersOutgoing: [],
          learnersNext: [],
          autoLeave: false,
        };
        raw.raft.applyConfState(confState);
        return confState;
      };
    }
    expect(await sim.proposeConfChange(sim.leader()!, cc('auto', add(4)))).toBe(true);
    await sim.runRounds(3);
    expect(sim.violations().map((v) => v.property)).toContain('DisjointQuorums');
  });
});

// --- property: consecutive configurations always share a quorum -------------------------

const singleArb: fc.Arbitrary<ConfChangeSingle> = fc.record({
  type: fc.constantFrom('addNode' as const, 'removeNode' as const, 'addLearnerNode' as const),
  nodeId: fc.integer({ min: 1, max: 9 }),
});
const changeArb: fc.Arbitrary<ConfChange> = fc.oneof(
  fc.record({
    transition: fc.constantFrom('auto' as const, 'implicit' as const, 'explicit' as const),
    changes: fc.array(singleArb, { minLength: 1, maxLength: 4 }),
    context: fc.constant(NO_CONTEXT),
  }),
  fc.constant(LEAVE_JOINT),
);

describe('property: no two disjoint quorums across consecutive configurations', () => {
  it('holds along random sequences of valid changes (invalid ones are refused)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 5 }),
        fc.array(changeArb, { minLength: 1, maxLength: 30 }),
        (initial, changes) => {
          let config: TrackerConfig = configFromConfState({
            voters: initial,
            learners: [],
            votersOutgoing: [],
            learnersNext: [],
            autoLeave: false,
          });
          let applied = 0;
          for (const change of changes) {
            let next: TrackerConfig;
            try {
              next = nextConfig(config, change);
            } catch (error) {
              expect(error).toBeInstanceOf(ConfChangeError);
              continue;
            }
            applied++;
            // Two consecutive configurations can both be in force (some nodes applied
            // the change, others not yet): every quorum of one meets every quorum of the
            // other (Raft paper §6, thesis §4.1).
            expect(disjointQuorums(config.voters, next.voters)).toBeUndefined();
            expect(next.voters.incoming.size).toBeGreaterThan(0);
            config = next;
          }
          return applied >= 0;
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('the oracle finds disjoint quorums when two voters change at once without joint consensus', () => {
    const a = configFromConfState({
      voters: [1, 2, 3],
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    });
    const b = configFromConfState({
      voters: [1, 4, 5],
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    });
    const [left, right] = disjointQuorums(a.voters, b.voters)!;
    expect(left.filter((id) => right.includes(id))).toEqual([]);
    // Going through joint consensus, each step overlaps.
    const joint = nextConfig(a, cc('implicit', remove(2), remove(3), add(4), add(5)));
    expect(disjointQuorums(a.voters, joint.voters)).toBeUndefined();
    expect(disjointQuorums(joint.voters, b.voters)).toBeUndefined();
  });
});

// --- RaftNode ---------------------------------------------------------------------------

class HandTicker implements Ticker {
  private onTick: (() => void) | undefined;
  start(onTick: () => void): void {
    this.onTick = onTick;
  }
  stop(): void {
    this.onTick = undefined;
  }
  tick(): void {
    this.onTick?.();
  }
}

/** Records the order of everything applied: commands and membership changes. */
class Journal implements StateMachine<string> {
  readonly events: string[];
  constructor(events: string[]) {
    this.events = events;
  }
  apply(entries: readonly Entry[]): string[] {
    return entries.map((entry) => {
      const command = new TextDecoder().decode(entry.data);
      this.events.push(`cmd ${command}`);
      return command;
    });
  }
}

interface NodeHarness {
  node: RaftNode<string>;
  ticker: HandTicker;
  events: string[];
  confChanges: { cc: ConfChange; confState: ConfState }[];
}

const running: RaftNode<string>[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((node) => node.stop()));
});

function startNodes(ids: readonly NodeId[], initial: readonly NodeId[]): Map<NodeId, NodeHarness> {
  const harnesses = new Map<NodeId, NodeHarness>();
  for (const id of ids) {
    const events: string[] = [];
    const confChanges: { cc: ConfChange; confState: ConfState }[] = [];
    const ticker = new HandTicker();
    const node = new RaftNode<string>({
      config: {
        id,
        peers: initial,
        electionTicks: 10,
        heartbeatTicks: 1,
        random: seededRandom(id),
      },
      store: new MemoryLogStore({
        voters: initial,
        learners: [],
        votersOutgoing: [],
        learnersNext: [],
        autoLeave: false,
      }),
      stateMachine: new Journal(events),
      transport: {
        send: (messages: readonly Message[]) => {
          for (const message of messages) {
            setImmediate(() => harnesses.get(message.to)?.node.step(message));
          }
        },
      },
      ticker,
      onConfChange: (change, confState) => {
        confChanges.push({ cc: change, confState });
        events.push(`conf ${confState.voters.join(',')}`);
      },
    });
    harnesses.set(id, { node, ticker, events, confChanges });
    running.push(node);
    node.start();
  }
  return harnesses;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 2));

async function waitFor(
  harnesses: Map<NodeId, NodeHarness>,
  done: () => boolean,
  rounds = 200,
): Promise<void> {
  for (let i = 0; i < rounds && !done(); i++) {
    for (const harness of harnesses.values()) harness.ticker.tick();
    await settle();
  }
  expect(done()).toBe(true);
}

describe('membership changes through RaftNode', () => {
  it('proposeConfChange resolves with the new membership; entries and changes apply in log order', async () => {
    const harnesses = startNodes([1, 2, 3, 4], [1, 2, 3]);
    const leaderOf = () => [...harnesses.values()].find((h) => h.node.isLeader());
    // Wait until every voter knows the leader (the follower below proposes through it).
    await waitFor(harnesses, () => {
      const current = leaderOf();
      // …and the leader has applied its whole log, so it takes a change (one at a time).
      return (
        current !== undefined &&
        current.node.status().applied >= current.node.status().lastIndex &&
        [1, 2, 3].every((id) => harnesses.get(id)!.node.leader() === current.node.id)
      );
    });
    const leader = leaderOf()!;
    const follower = [...harnesses.values()].find((h) => h !== leader && h.node.id !== 4)!;
    const text = (value: string) => new TextEncoder().encode(value);
    const first = leader.node.propose(text('a'));
    // Proposed on a follower: forwarded, and still resolved on the follower when applied.
    const change = follower.node.proposeConfChange({
      transition: 'auto',
      changes: [add(4)],
      context: text('ctx'),
    });
    const second = leader.node.propose(text('b'));
    const results = await Promise.all([first, change, second]);
    expect(results[0]).toBe('a');
    expect((results[1] as ConfState).voters).toEqual([1, 2, 3, 4]);
    expect(results[2]).toBe('b');
    // The application sees its own context, not the envelope.
    expect(new TextDecoder().decode(follower.confChanges[0]!.cc.context)).toBe('ctx');
    await waitFor(harnesses, () => harnesses.get(4)!.events.length === 3);
    // Every node, the new one included (it replays the log from the start), applied the
    // commands and the change in the same (log) order.
    const reference = leader.events;
    expect(reference).toHaveLength(3);
    expect(reference).toContain('conf 1,2,3,4');
    for (const harness of harnesses.values()) expect(harness.events).toEqual(reference);
    expect(harnesses.get(4)!.node.status().confState.voters).toEqual([1, 2, 3, 4]);
    // An invalid change is refused on the leader with a typed error.
    await expect(leader.node.proposeConfChange(LEAVE_JOINT)).rejects.toBeInstanceOf(
      ConfChangeError,
    );
  });

  it('skipConfChange: the application refuses to re-add a removed node, on apply and on replay', async () => {
    // A change to promote learner 2, delayed in the network, commits after 2 was removed
    // (index 4): etcd's server never lets a removed member back, and skips it on apply.
    const entries: Entry[] = [
      { term: 1, index: 1, type: 'normal', data: new Uint8Array() },
      { term: 1, index: 2, type: 'confChange', data: encodeConfChange(cc('auto', learner(2))) },
      { term: 1, index: 3, type: 'confChange', data: encodeConfChange(cc('auto', remove(2))) },
      { term: 1, index: 4, type: 'confChange', data: encodeConfChange(cc('auto', add(2))) },
      { term: 1, index: 5, type: 'confChange', data: encodeConfChange(cc('auto', learner(3))) },
    ];
    const storeWith = () => {
      const store = new MemoryLogStore({
        voters: [1],
        learners: [],
        votersOutgoing: [],
        learnersNext: [],
        autoLeave: false,
      });
      store.apply({ hardState: { term: 1, vote: 1, commit: 5 }, entries });
      return store;
    };
    // The application's replicated state: the ids it removed (they never return).
    const removed = new Set<NodeId>();
    const applied: string[] = [];
    const skipConfChange = (change: ConfChangeSingle) =>
      change.type !== 'removeNode' && removed.has(change.nodeId);
    const onConfChange = (change: ConfChange) => {
      for (const single of change.changes) {
        applied.push(`${single.type} ${single.nodeId}`);
        if (single.type === 'removeNode') removed.add(single.nodeId);
      }
    };
    const node = new RaftNode<string>({
      config: { id: 1, peers: [1] },
      store: storeWith(),
      stateMachine: new Journal([]),
      transport: { send() {} },
      ticker: new HandTicker(),
      skipConfChange,
      onConfChange,
    });
    node.start();
    for (let i = 0; i < 100 && node.applied() < 5; i++) await new Promise((r) => setTimeout(r, 1));
    expect(node.applied()).toBe(5);
    expect(applied).toEqual(['addLearnerNode 2', 'removeNode 2', 'addLearnerNode 3']);
    expect(node.status().confState.voters).toEqual([1]);
    expect(node.status().confState.learners).toEqual([3]);
    await node.stop();
    // Restarted over a durable state machine at index 5: the replay skips it too.
    const restarted = new RaftNode<string>({
      config: { id: 1, peers: [1], applied: 5 },
      store: storeWith(),
      stateMachine: new Journal([]),
      transport: { send() {} },
      ticker: new HandTicker(),
      skipConfChange,
    });
    expect(restarted.status().confState.voters).toEqual([1]);
    expect(restarted.status().confState.learners).toEqual([3]);
  });

  it('a restarted node with a durable state machine re-applies the changes after its snapshot', () => {
    const store = new MemoryLogStore({
      voters: [1],
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    });
    store.apply({
      hardState: { term: 1, vote: 1, commit: 3 },
      entries: [
        { term: 1, index: 1, type: 'normal', data: new Uint8Array() },
        { term: 1, index: 2, type: 'confChange', data: encodeConfChange(cc('auto', learner(2))) },
        { term: 1, index: 3, type: 'confChange', data: encodeConfChange(cc('auto', add(2))) },
      ],
    });
    const node = new RaftNode<string>({
      config: { id: 1, peers: [1], applied: 3 },
      store,
      stateMachine: new Journal([]),
      transport: { send() {} },
      ticker: new HandTicker(),
    });
    expect(node.status().confState.voters).toEqual([1, 2]);
    expect(node.status().confState.learners).toEqual([]);
  });
});
