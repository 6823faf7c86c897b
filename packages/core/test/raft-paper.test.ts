// Paper-cited unit tests, in the spirit of etcd-io/raft's raft_paper_test.go. Each test
// names the section of the Raft paper (extended version) or of Ongaro's thesis that it
// checks, and drives RawNode/Raft directly with hand-built messages over a MemoryLogStore.
import { describe, expect, it } from 'vitest';
import type { Entry, Message, StateRole } from '../src/index.js';
import { NONE, ProposalDroppedError, seededRandom } from '../src/index.js';
import {
  appResp,
  bytes,
  entry,
  heartbeat,
  heartbeatResp,
  logOfTerms,
  makeLeader,
  msgApp,
  ofType,
  stableLeader,
  TestNetwork,
  TestNode,
  vote,
  voteResp,
} from './helpers/raft-test-kit.js';

const ELECTION = 10;
const THREE = [1, 2, 3];
const FIVE = [1, 2, 3, 4, 5];

/** A node of a fresh three-node group, brought into `role` in term 1. */
function nodeIn(role: 'follower' | 'candidate' | 'leader'): TestNode {
  const node = new TestNode(1, THREE);
  if (role === 'follower') node.raft.becomeFollower(1, 2);
  if (role === 'candidate') node.raw.campaign();
  if (role === 'leader') makeLeader(node);
  node.handle();
  expect(node.raft.term).toBe(1);
  expect(node.raft.role).toBe(role);
  return node;
}

const sameLog = (a: readonly Entry[], b: readonly Entry[]) =>
  a.map((e) => `${e.index}/${e.term}/${e.data.join(',')}`).join(' ') ===
  b.map((e) => `${e.index}/${e.term}/${e.data.join(',')}`).join(' ');

describe('§5.1 terms', () => {
  it('§5.2 a node starts as a follower in term 0 with no leader and no vote', () => {
    const node = new TestNode(1, THREE);
    expect(node.raft.softState()).toEqual({ leader: NONE, role: 'follower' });
    expect(node.raft.hardState()).toEqual({ term: 0, vote: NONE, commit: 0 });
  });

  it.each(['follower', 'candidate', 'leader'] as const)(
    '§5.1 a %s with a smaller term steps down on a MsgApp with a higher term',
    (role) => {
      const node = nodeIn(role);
      node.step(msgApp(2, 1, 2, { index: 0, logTerm: 0 }));
      expect(node.raft.term).toBe(2);
      expect(node.raft.role).toBe('follower');
      expect(node.raft.leader).toBe(2);
    },
  );

  it.each(['follower', 'candidate', 'leader'] as const)(
    '§5.1 a %s with a smaller term steps down on a MsgVote with a higher term, leader unknown',
    (role) => {
      const node = nodeIn(role);
      node.step(vote(3, 1, 2, 0, 0));
      expect(node.raft.term).toBe(2);
      expect(node.raft.role).toBe('follower');
      expect(node.raft.leader).toBe(NONE);
    },
  );

  it('§5.1 a stale leader steps down when a response carries a higher term', () => {
    const node = nodeIn('leader');
    node.step(appResp(2, 1, 3, 0));
    expect(node.raft.role).toBe('follower');
    expect(node.raft.term).toBe(3);
  });

  it('§5.1 a request with a stale term is ignored (plain Raft: no reply, no change)', () => {
    const node = new TestNode(1, THREE, { hardState: { term: 2, vote: NONE, commit: 0 } });
    node.handle();
    node.step(msgApp(2, 1, 1, { index: 0, logTerm: 0, entries: [entry(1, 1)], commit: 1 }));
    expect(node.raft.term).toBe(2);
    expect(node.raft.raftLog.lastIndex()).toBe(0);
    expect(node.outbox()).toEqual([]);
  });
});

describe('§5.2 leader election', () => {
  it('§5.2 leader sends heartbeats every heartbeatTicks, before anything is persisted', () => {
    const leader = new TestNode(1, THREE, { heartbeatTicks: 2 });
    makeLeader(leader);
    leader.tick();
    expect(leader.outbox()).toEqual([]);
    leader.tick();
    const handled = leader.handle();
    expect(handled.messages.map((m) => `${m.type} ${m.from}->${m.to} t${m.term}`).sort()).toEqual([
      'MsgHeartbeat 1->2 t1',
      'MsgHeartbeat 1->3 t1',
    ]);
    expect(handled.persistedMessages).toEqual([]);
  });

  it("§5.2 a leader's heartbeat resets a follower's election timer", () => {
    const node = new TestNode(2, THREE);
    node.tick(ELECTION - 1);
    node.step(heartbeat(1, 2, 1));
    node.tick(ELECTION - 1);
    node.step(heartbeat(1, 2, 1));
    node.tick(ELECTION - 1);
    expect(node.raft.role).toBe('follower');
    expect(node.raft.leader).toBe(1);
  });

  it('§5.2 follower starts an election after the election timeout: new term, votes for itself, asks everyone', () => {
    const node = new TestNode(1, THREE);
    node.tick(2 * ELECTION);
    expect(node.raft.role).toBe('candidate');
    expect(node.raft.term).toBe(1);
    expect(node.raft.vote).toBe(1);
    const handled = node.handle();
    const votes = ofType(handled.persistedMessages, 'MsgVote');
    expect(votes.map((m) => [m.to, m.term, m.index, m.logTerm])).toEqual([
      [2, 1, 0, 0],
      [3, 1, 0, 0],
    ]);
    expect(handled.readies[0]!.hardState).toEqual({ term: 1, vote: 1, commit: 0 });
  });

  it('§5.2 candidate starts a new election, in a new term, when its election times out', () => {
    const node = new TestNode(1, THREE);
    node.raw.campaign();
    node.handle();
    node.tick(2 * ELECTION);
    expect(node.raft.role).toBe('candidate');
    expect(node.raft.term).toBe(2);
    expect(ofType(node.outbox(), 'MsgVote').map((m) => m.term)).toEqual([2, 2]);
  });

  it('§5.2 election timeout is randomized within [et, 2et)', () => {
    const seen = new Set<number>();
    for (let seed = 0; seed < 200; seed++) {
      const node = new TestNode(1, THREE, { random: seededRandom(seed) });
      let ticks = 0;
      while (node.raft.role === 'follower') {
        node.tick();
        ticks++;
        expect(ticks).toBeLessThan(2 * ELECTION);
      }
      expect(ticks).toBeGreaterThanOrEqual(ELECTION);
      seen.add(ticks);
    }
    // Uniform over ten values: 200 draws cover them all.
    expect([...seen].sort((a, b) => a - b)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  });

  it('§5.2 the timeout is drawn again on every term change', () => {
    const node = new TestNode(1, THREE, { random: seededRandom(42) });
    const drawn = new Set<number>();
    for (let term = 1; term <= 100; term++) {
      node.raft.becomeFollower(term, NONE);
      const timeout = node.raft.randomizedElectionTimeout;
      expect(timeout).toBeGreaterThanOrEqual(ELECTION);
      expect(timeout).toBeLessThan(2 * ELECTION);
      drawn.add(timeout);
    }
    expect(drawn.size).toBeGreaterThan(5);
  });

  it('§5.2 randomized timeouts rarely let two followers time out together', () => {
    let conflicts = 0;
    const trials = 1000;
    for (let trial = 0; trial < trials; trial++) {
      const timeouts = FIVE.map(
        (id) =>
          new TestNode(id, FIVE, { random: seededRandom(trial * 1009 + id * 7) }).raft
            .randomizedElectionTimeout,
      );
      const first = Math.min(...timeouts);
      if (timeouts.filter((t) => t === first).length > 1) conflicts++;
    }
    expect(conflicts / trials).toBeLessThan(0.3);
  });

  it.each<[number, Record<number, boolean>, StateRole]>([
    [1, {}, 'leader'],
    [3, { 2: true, 3: true }, 'leader'],
    [3, { 2: true }, 'leader'],
    [5, { 2: true, 3: true, 4: true, 5: true }, 'leader'],
    [5, { 2: true, 3: true, 4: true }, 'leader'],
    [5, { 2: true, 3: true }, 'leader'],
    [3, {}, 'candidate'],
    [5, { 2: true }, 'candidate'],
    [5, { 2: true, 3: false }, 'candidate'],
    [3, { 2: false, 3: false }, 'follower'],
    [5, { 2: false, 3: false, 4: false }, 'follower'],
    [5, { 2: true, 3: false, 4: false, 5: false }, 'follower'],
  ])(
    '§5.2 candidate of a %i-node group with votes %j ends as %s (wins with a majority, in one round)',
    (size, votes, role) => {
      const ids = Array.from({ length: size }, (_, i) => i + 1);
      const node = new TestNode(1, ids);
      node.raw.campaign();
      node.handle();
      for (const [from, granted] of Object.entries(votes)) {
        node.step(voteResp(Number(from), 1, 1, !granted));
      }
      expect(node.raft.role).toBe(role);
      expect(node.raft.term).toBe(1);
    },
  );

  it.each([
    ['MsgApp of the same term', msgApp(2, 1, 1, { index: 0, logTerm: 0 }), 1],
    ['MsgHeartbeat of the same term', heartbeat(2, 1, 1), 1],
    ['MsgApp of a higher term', msgApp(2, 1, 4, { index: 0, logTerm: 0 }), 4],
  ] as const)(
    '§5.2 candidate loses and becomes follower on a %s from a leader',
    (_, message, term) => {
      const node = nodeIn('candidate');
      node.step(message);
      expect(node.raft.role).toBe('follower');
      expect(node.raft.leader).toBe(2);
      expect(node.raft.term).toBe(term);
    },
  );

  it('§5.2 candidate stays candidate on a split vote and retries in a new term after the timeout', () => {
    const node = new TestNode(1, [1, 2, 3, 4]);
    node.raw.campaign();
    node.handle();
    node.step(voteResp(2, 1, 1, false));
    node.step(voteResp(3, 1, 1, true));
    expect(node.raft.role).toBe('candidate');
    node.tick(2 * ELECTION);
    expect(node.raft.role).toBe('candidate');
    expect(node.raft.term).toBe(2);
  });

  it('§5.2 a split vote elects nobody; randomized timeouts resolve it in a later term', () => {
    const network = new TestNetwork(THREE);
    for (const id of THREE) network.node(id).raw.campaign();
    network.stabilize();
    for (const id of THREE) {
      expect(network.node(id).raft.role).not.toBe('leader');
      expect(network.node(id).raft.term).toBe(1);
    }
    network.tickAll(2 * ELECTION);
    expect(network.leader()).not.toBe(NONE);
    expect(network.node(network.leader()).raft.term).toBeGreaterThan(1);
  });

  it.each<[number, number, boolean]>([
    [NONE, 2, true],
    [NONE, 3, true],
    [2, 2, true],
    [3, 3, true],
    [2, 3, false],
    [3, 2, false],
  ])(
    '§5.2 a node that voted for %i in this term answers a MsgVote from %i with grant=%s',
    (votedFor, from, granted) => {
      const node = new TestNode(1, THREE, { hardState: { term: 1, vote: votedFor, commit: 0 } });
      node.step(vote(from, 1, 1, 0, 0));
      const handled = node.handle();
      expect(handled.messages).toEqual([]);
      expect(handled.persistedMessages).toEqual([voteResp(1, from, 1, !granted)]);
      expect(node.raft.vote).toBe(granted ? from : votedFor);
    },
  );

  it('§5.2 a node votes at most once per term, and again in a later term', () => {
    const node = new TestNode(1, THREE);
    node.step(vote(2, 1, 1, 0, 0));
    node.step(vote(3, 1, 1, 0, 0));
    const answers = ofType(node.outbox(), 'MsgVoteResp');
    expect(answers.map((m) => [m.to, m.reject])).toEqual([
      [2, false],
      [3, true],
    ]);
    node.step(vote(3, 1, 2, 0, 0));
    expect(ofType(node.outbox(), 'MsgVoteResp').map((m) => [m.to, m.term, m.reject])).toEqual([
      [3, 2, false],
    ]);
    expect(node.raft.hardState()).toEqual({ term: 2, vote: 3, commit: 0 });
  });

  it('§5.2 granting a vote resets the election timer', () => {
    const node = new TestNode(1, THREE);
    node.tick(ELECTION - 1);
    node.step(vote(2, 1, 1, 0, 0));
    expect(node.raft.electionElapsed).toBe(0);
    node.tick(ELECTION - 1);
    expect(node.raft.role).toBe('follower');
  });
});

describe('§5.3 log replication', () => {
  it('§5.3 leader appends a proposal to its log and replicates it to every follower', () => {
    const leader = stableLeader(THREE);
    leader.raw.propose(bytes('x'));
    const handled = leader.handle();
    expect(handled.readies[0]!.entries).toEqual([entry(2, 1, bytes('x'))]);
    const apps = ofType(handled.messages, 'MsgApp');
    expect(apps.map((m) => [m.to, m.index, m.logTerm, m.commit, m.entries])).toEqual([
      [2, 1, 1, 1, [entry(2, 1, bytes('x'))]],
      [3, 1, 1, 1, [entry(2, 1, bytes('x'))]],
    ]);
  });

  it('§5.3 many proposals in one step become one append and one MsgApp per follower', () => {
    const leader = stableLeader(THREE);
    leader.raw.proposeBatch([bytes('a'), bytes('b'), bytes('c')]);
    const handled = leader.handle();
    expect(handled.readies[0]!.entries.map((e) => e.index)).toEqual([2, 3, 4]);
    expect(ofType(handled.messages, 'MsgApp').map((m) => [m.to, m.entries.length])).toEqual([
      [2, 3],
      [3, 3],
    ]);
  });

  it('§5.3 leader commits once a majority stored it and followers learn commit', () => {
    const leader = stableLeader(THREE);
    leader.raw.propose(bytes('x'));
    leader.handle();
    expect(leader.raft.raftLog.committed).toBe(1);
    leader.step(appResp(2, 1, 1, 2));
    expect(leader.raft.raftLog.committed).toBe(2);
    const handled = leader.handle();
    expect(handled.committedEntries).toEqual([entry(2, 1, bytes('x'))]);
    // The new commit index goes out at once.
    expect(ofType(handled.messages, 'MsgApp').map((m) => [m.to, m.commit])).toEqual([
      [2, 2],
      [3, 2],
    ]);

    const follower = new TestNode(2, THREE, {
      log: logOfTerms(1),
      hardState: { term: 1, vote: 1, commit: 1 },
      applied: 1,
    });
    follower.step(
      msgApp(1, 2, 1, { index: 1, logTerm: 1, entries: [entry(2, 1, bytes('x'))], commit: 2 }),
    );
    expect(follower.raft.raftLog.committed).toBe(2);
    expect(follower.handle().committedEntries).toEqual([entry(2, 1, bytes('x'))]);
  });

  it('§5.3 end to end: every node applies the proposal once it is committed', () => {
    const network = new TestNetwork(THREE);
    network.campaign(1);
    network.node(1).raw.propose(bytes('hello'));
    network.stabilize();
    for (const id of THREE) {
      expect(network.node(id).raft.raftLog.committed).toBe(2);
      expect(network.applied.get(id)!.map((e) => new TextDecoder().decode(e.data))).toEqual([
        '',
        'hello',
      ]);
    }
  });

  it('§5.3 a minority of replicas does not commit (5 nodes: leader + 1 is not enough, + 2 is)', () => {
    const leader = stableLeader(FIVE);
    leader.raw.propose(bytes('x'));
    leader.handle();
    leader.step(appResp(2, 1, 1, 2));
    expect(leader.raft.raftLog.committed).toBe(1);
    leader.step(appResp(2, 1, 1, 2)); // a duplicate ack counts once
    expect(leader.raft.raftLog.committed).toBe(1);
    leader.step(appResp(4, 1, 1, 2));
    expect(leader.raft.raftLog.committed).toBe(2);
  });

  it('§5.3 committing an entry commits every preceding entry, from earlier terms too', () => {
    const leader = new TestNode(1, THREE, {
      log: logOfTerms(1, 2),
      hardState: { term: 2, vote: NONE, commit: 0 },
    });
    makeLeader(leader);
    expect(leader.raft.term).toBe(3);
    leader.step(appResp(2, 1, 3, 3));
    const handled = leader.handle();
    expect(handled.committedEntries.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
  });

  it.each([
    [1, 1, 1],
    [2, 2, 2],
    [2, 1, 1],
    [2, 5, 2],
  ])(
    '§5.3 follower given %i entries and leader commit %i commits to %i (min of commit and last new entry)',
    (count, commit, expected) => {
      const follower = new TestNode(2, THREE);
      const entries = Array.from({ length: count }, (_, i) => entry(i + 1, 1, bytes(`e${i + 1}`)));
      follower.step(msgApp(1, 2, 1, { index: 0, logTerm: 0, entries, commit }));
      expect(follower.raft.raftLog.committed).toBe(expected);
      expect(follower.handle().committedEntries).toEqual(entries.slice(0, expected));
    },
  );

  it('§5.3 a follower commits only up to the last entry the MsgApp vouched for, not its stale tail', () => {
    // Entries 2-3 may conflict with the leader's log: an empty MsgApp at index 1 proves
    // nothing about them, whatever the leader's commit index says.
    const follower = new TestNode(2, THREE, {
      log: logOfTerms(1, 1, 1),
      hardState: { term: 1, vote: NONE, commit: 0 },
    });
    follower.step(msgApp(1, 2, 2, { index: 1, logTerm: 1, commit: 3 }));
    expect(follower.raft.raftLog.committed).toBe(1);
    expect(ofType(follower.outbox(), 'MsgAppResp')).toEqual([appResp(2, 1, 2, 1)]);
  });

  it.each([
    // [logTerm, index, reject, response index, rejectHint, hint logTerm]
    [0, 0, false, 1, 0, 0], // before commit: answered with the commit index
    [1, 1, false, 1, 0, 0],
    [2, 2, false, 2, 0, 0],
    [1, 2, true, 2, 1, 1], // term mismatch at index 2
    [3, 3, true, 3, 2, 2], // index past the end of the log
  ])(
    '§5.3 follower with log [1 2] checks MsgApp(logTerm %i, index %i): reject=%s',
    (logTerm, index, reject, respIndex, hint, hintTerm) => {
      const follower = new TestNode(2, THREE, {
        log: logOfTerms(1, 2),
        hardState: { term: 2, vote: NONE, commit: 1 },
      });
      follower.step(msgApp(1, 2, 2, { index, logTerm, commit: 1 }));
      const handled = follower.handle();
      expect(handled.messages).toEqual([]);
      expect(handled.persistedMessages).toEqual([
        appResp(2, 1, 2, respIndex, reject, { rejectHint: hint, logTerm: hintTerm }),
      ]);
      expect(follower.terms()).toEqual([1, 2]);
    },
  );

  it.each<[number, number, Entry[], number[]]>([
    [2, 2, [entry(3, 3)], [1, 2, 3]],
    [1, 1, [entry(2, 3), entry(3, 4)], [1, 3, 4]],
    [0, 0, [entry(1, 1)], [1, 2]],
    [0, 0, [entry(1, 3)], [3]],
  ])(
    '§5.3 follower with log [1 2] given MsgApp(index %i, logTerm %i) truncates conflicting entries and appends new ones',
    (index, logTerm, entries, terms) => {
      const follower = new TestNode(2, THREE, {
        log: logOfTerms(1, 2),
        hardState: { term: 2, vote: NONE, commit: 0 },
      });
      follower.step(msgApp(1, 2, 4, { index, logTerm, entries }));
      follower.handle();
      expect(follower.terms()).toEqual(terms);
      expect(follower.store.lastIndex()).toBe(terms.length);
      expect(follower.raft.raftLog.unstableEntries()).toEqual([]);
    },
  );

  it.each([
    ['(a) missing entries', [1, 1, 1, 4, 4, 5, 5, 6, 6]],
    ['(b) missing many entries', [1, 1, 1, 4]],
    ['(c) an extra uncommitted entry', [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6]],
    ['(d) extra entries of a later term', [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7]],
    ['(e) a divergent term-4 tail', [1, 1, 1, 4, 4, 4, 4]],
    ['(f) entries of terms 2 and 3 never committed', [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3]],
  ])(
    '§5.3 Figure 7 %s: the leader brings the follower log to match its own',
    (_, followerTerms) => {
      const leaderTerms = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
      const hardState = { term: 7, vote: NONE, commit: 0 };
      const network = new TestNetwork(THREE, (id) => ({
        log: logOfTerms(...(id === 1 ? leaderTerms : id === 2 ? followerTerms : [])),
        hardState,
      }));
      network.campaign(1);
      expect(network.leader()).toBe(1);
      expect(network.node(1).raft.term).toBe(8);
      expect(network.node(2).terms()).toEqual([...leaderTerms, 8]);
      expect(sameLog(network.node(2).entries(), network.node(1).entries())).toBe(true);
      expect(network.node(2).raft.raftLog.committed).toBe(11);
    },
  );

  it('§5.3 the conflict hint lets the leader skip a whole conflicting term in one round trip', () => {
    const hardState = { term: 3, vote: NONE, commit: 1 };
    const leaderLog = logOfTerms(1, ...Array<number>(50).fill(3));
    const followerLog = logOfTerms(1, ...Array<number>(50).fill(2));
    const network = new TestNetwork(THREE, (id) => ({
      log: id === 1 ? leaderLog : id === 2 ? followerLog : [entry(1, 1)],
      hardState,
    }));
    network.campaign(1);
    const rejections = network.log.filter(
      ({ message }) => message.type === 'MsgAppResp' && message.from === 2 && message.reject,
    );
    expect(rejections.length).toBe(1);
    expect(network.node(2).terms()).toEqual(network.node(1).terms());
  });

  it('§5.3 a heartbeat never carries a commit index beyond what the follower is known to hold', () => {
    const leader = stableLeader(THREE);
    leader.raw.propose(bytes('x'));
    leader.handle();
    leader.step(appResp(2, 1, 1, 2));
    leader.handle();
    expect(leader.raft.raftLog.committed).toBe(2);
    leader.tick();
    const beats = ofType(leader.handle().messages, 'MsgHeartbeat');
    expect(beats.map((m) => [m.to, m.commit])).toEqual([
      [2, 2],
      [3, 1],
    ]);
  });

  it('§5.3 a follower answers MsgApp for an index below its commit with its commit index', () => {
    const follower = new TestNode(2, THREE, {
      log: logOfTerms(1, 1, 1),
      hardState: { term: 1, vote: NONE, commit: 3 },
    });
    follower.step(msgApp(1, 2, 1, { index: 1, logTerm: 1, entries: [entry(2, 1)] }));
    expect(ofType(follower.outbox(), 'MsgAppResp')).toEqual([appResp(2, 1, 1, 3)]);
    expect(follower.terms()).toEqual([1, 1, 1]);
  });

  it('§5.3 a rejected probe moves the leader back to where the logs match', () => {
    const leader = new TestNode(1, THREE, {
      log: logOfTerms(1, 1, 2, 2),
      hardState: { term: 2, vote: NONE, commit: 0 },
    });
    makeLeader(leader); // term 3, no-op at 5; probes followers at index 4
    leader.step(appResp(2, 1, 3, 4, true, { rejectHint: 1, logTerm: 1 }));
    const apps = ofType(leader.handle().messages, 'MsgApp');
    expect(apps.map((m) => [m.to, m.index, m.logTerm, m.entries.length])).toEqual([[2, 1, 1, 4]]);
    expect(leader.raw.status().progress?.get(2)?.next).toBe(2);
  });
});

describe('§5.4 safety', () => {
  it.each<[number[], number, number, boolean]>([
    [[1], 1, 1, true],
    [[1], 1, 2, true],
    [[1, 1], 1, 1, false],
    [[1], 2, 1, true],
    [[1], 2, 2, true],
    [[1, 1], 2, 1, true],
    [[2], 1, 1, false],
    [[2], 1, 2, false],
    [[1, 2], 1, 3, false],
  ])(
    '§5.4.1 voter with log terms %j answers a candidate whose last entry is (term %i, index %i): grant=%s',
    (terms, lastTerm, lastIndex, granted) => {
      const node = new TestNode(1, THREE, {
        log: logOfTerms(...terms),
        hardState: { term: 2, vote: NONE, commit: 0 },
      });
      node.step(vote(2, 1, 3, lastIndex, lastTerm));
      expect(ofType(node.outbox(), 'MsgVoteResp').map((m) => m.reject)).toEqual([!granted]);
      expect(node.raft.vote).toBe(granted ? 2 : NONE);
      // The refused candidate's term is still adopted (§5.1).
      expect(node.raft.term).toBe(3);
    },
  );

  it.each([
    [[1], 2],
    [[1, 2], 3],
    [[1, 1, 3], 5],
  ])(
    '§5.4.1 a candidate with log terms %j asks for votes with its last log term and index',
    (terms, term) => {
      const node = new TestNode(1, THREE, {
        log: logOfTerms(...terms),
        hardState: { term: term - 1, vote: NONE, commit: 0 },
      });
      node.tick(2 * ELECTION);
      const votes = ofType(node.outbox(), 'MsgVote');
      expect(votes.map((m) => [m.to, m.term, m.index, m.logTerm])).toEqual([
        [2, term, terms.length, terms[terms.length - 1]],
        [3, term, terms.length, terms[terms.length - 1]],
      ]);
    },
  );

  it('§5.4.2 leader only commits entries of its current term by counting replicas (Figure 8)', () => {
    // Figure 8 (c): S1 leads term 4 with log [1 2]; its no-op sits at index 3.
    const leader = new TestNode(1, FIVE, {
      log: logOfTerms(1, 2),
      hardState: { term: 3, vote: NONE, commit: 1 },
      applied: 1,
    });
    makeLeader(leader);
    expect(leader.raft.term).toBe(4);
    // Index 2 (term 2) reaches S2 and S3: stored on a majority, yet not committed.
    leader.step(appResp(2, 1, 4, 2));
    leader.step(appResp(3, 1, 4, 2));
    expect(leader.raft.raftLog.committed).toBe(1);
    expect(leader.handle().committedEntries).toEqual([]);
    // Once an entry of term 4 is on a majority, it and everything before it commit.
    leader.step(appResp(2, 1, 4, 3));
    leader.step(appResp(3, 1, 4, 3));
    expect(leader.raft.raftLog.committed).toBe(3);
  });

  it('§5.4.2 …because an entry of an older term on a majority can still be overwritten (Figure 8 (d))', () => {
    // S2 holds [1 2] as in Figure 8 (c); S5 holds [1 3]. S5's log is more up-to-date, so S2
    // (and S3, S4) may elect it, and it would overwrite index 2.
    const s2 = new TestNode(2, FIVE, {
      log: logOfTerms(1, 2),
      hardState: { term: 4, vote: NONE, commit: 1 },
    });
    s2.step(vote(5, 2, 5, 2, 3));
    expect(ofType(s2.outbox(), 'MsgVoteResp')).toEqual([voteResp(2, 5, 5, false)]);
    s2.step(msgApp(5, 2, 5, { index: 1, logTerm: 1, entries: [entry(2, 3)], commit: 1 }));
    s2.handle();
    expect(s2.terms()).toEqual([1, 3]);
  });

  it('§5.3 Leader Append-Only (Figure 3): a leader never overwrites or deletes entries in its log', () => {
    const leader = stableLeader(THREE);
    leader.raw.propose(bytes('x'));
    leader.handle();
    // Nobody else can lead this term, so a conflicting MsgApp of the same term is ignored.
    leader.step(msgApp(2, 1, 1, { index: 1, logTerm: 1, entries: [entry(2, 1, bytes('y'))] }));
    leader.handle();
    expect(leader.raft.role).toBe('leader');
    expect(leader.entries()).toEqual([entry(1, 1), entry(2, 1, bytes('x'))]);
  });
});

describe('§8 client interaction', () => {
  it('§8 a new leader appends a no-op entry of its term and replicates it', () => {
    const node = new TestNode(1, THREE, {
      log: logOfTerms(1),
      hardState: { term: 1, vote: NONE, commit: 1 },
    });
    const handled = makeLeader(node);
    expect(node.raft.raftLog.lastIndex()).toBe(2);
    expect(node.raft.raftLog.entryAt(2)).toEqual(entry(2, 2));
    expect(
      ofType(handled.messages, 'MsgApp').map((m) => [m.to, m.index, m.logTerm, m.entries]),
    ).toEqual([
      [2, 1, 1, [entry(2, 2)]],
      [3, 1, 1, [entry(2, 2)]],
    ]);
  });

  it('§8 a follower forwards a proposal to the leader; with no leader it fails with a typed error', () => {
    const follower = new TestNode(2, THREE);
    let error: unknown;
    try {
      follower.raw.propose(bytes('x'));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ProposalDroppedError);
    expect((error as ProposalDroppedError).reason).toBe('noLeader');
    follower.step(heartbeat(1, 2, 1));
    follower.handle();
    follower.raw.propose(bytes('x'));
    const props = ofType(follower.outbox(), 'MsgProp');
    expect(props.map((m) => [m.to, m.entries.length])).toEqual([[1, 1]]);
  });
});

describe('thesis §9.6 pre-vote', () => {
  it('thesis §9.6 on timeout a node becomes pre-candidate without changing its term or vote', () => {
    const node = new TestNode(1, THREE, {
      preVote: true,
      hardState: { term: 2, vote: 3, commit: 0 },
    });
    node.tick(2 * ELECTION);
    expect(node.raft.role).toBe('preCandidate');
    expect(node.raft.hardState()).toEqual({ term: 2, vote: 3, commit: 0 });
    const handled = node.handle();
    expect(handled.readies.every((r) => r.hardState === undefined)).toBe(true);
    const preVotes = ofType([...handled.messages, ...handled.persistedMessages], 'MsgPreVote');
    expect(preVotes.map((m) => [m.to, m.term])).toEqual([
      [2, 3],
      [3, 3],
    ]);
  });

  it('thesis §9.6 a pre-candidate that wins the pre-vote becomes a candidate and only then bumps its term', () => {
    const node = new TestNode(1, THREE, { preVote: true });
    node.raw.campaign();
    node.handle();
    node.step({ type: 'MsgPreVoteResp', from: 2, to: 1, term: 1, reject: false });
    expect(node.raft.role).toBe('candidate');
    expect(node.raft.hardState()).toEqual({ term: 1, vote: 1, commit: 0 });
    expect(ofType(node.outbox(), 'MsgVote').map((m) => m.term)).toEqual([1, 1]);
  });

  it('thesis §9.6 a pre-candidate that loses the pre-vote returns to follower in the same term', () => {
    const node = new TestNode(1, THREE, { preVote: true });
    node.raw.campaign();
    node.handle();
    node.step({ type: 'MsgPreVoteResp', from: 2, to: 1, term: 0, reject: true });
    node.step({ type: 'MsgPreVoteResp', from: 3, to: 1, term: 0, reject: true });
    expect(node.raft.role).toBe('follower');
    expect(node.raft.term).toBe(0);
  });

  it('thesis §9.6 a voter grants a pre-vote without changing its term or its vote', () => {
    const node = new TestNode(2, THREE, {
      preVote: true,
      hardState: { term: 1, vote: 1, commit: 0 },
    });
    node.step({
      type: 'MsgPreVote',
      from: 3,
      to: 2,
      term: 2,
      index: 0,
      logTerm: 0,
      transfer: false,
    });
    const answers = node.outbox();
    expect(answers).toEqual([{ type: 'MsgPreVoteResp', from: 2, to: 3, term: 2, reject: false }]);
    expect(node.raft.hardState()).toEqual({ term: 1, vote: 1, commit: 0 });
  });

  it('thesis §9.6 a pre-vote is refused to a less up-to-date log (§5.4.1 applies to pre-votes too)', () => {
    const node = new TestNode(2, THREE, {
      preVote: true,
      log: logOfTerms(1, 2),
      hardState: { term: 2, vote: NONE, commit: 0 },
    });
    node.step({
      type: 'MsgPreVote',
      from: 3,
      to: 2,
      term: 3,
      index: 5,
      logTerm: 1,
      transfer: false,
    });
    expect(ofType(node.outbox(), 'MsgPreVoteResp').map((m) => [m.reject, m.term])).toEqual([
      [true, 2],
    ]);
    expect(node.raft.term).toBe(2);
  });

  it('thesis §9.6 a partitioned node rejoining does not disrupt the leader', () => {
    const network = new TestNetwork(THREE, { preVote: true });
    network.campaign(1);
    expect(network.leader()).toBe(1);
    network.isolate(3);
    for (let i = 0; i < 10 * ELECTION; i++) network.node(3).tick();
    network.stabilize();
    expect(network.node(3).raft.term).toBe(1);
    network.recover();
    network.tickAll(3 * ELECTION);
    expect(network.leader()).toBe(1);
    expect(THREE.map((id) => network.node(id).raft.term)).toEqual([1, 1, 1]);
  });

  it('thesis §9.6 …whereas without pre-vote the rejoining node forces a new election', () => {
    const network = new TestNetwork(THREE, { preVote: false });
    network.campaign(1);
    network.isolate(3);
    for (let i = 0; i < 10 * ELECTION; i++) network.node(3).tick();
    network.stabilize();
    expect(network.node(3).raft.term).toBeGreaterThan(1);
    network.recover();
    network.tickAll(3 * ELECTION);
    expect(network.node(network.leader()).raft.term).toBeGreaterThan(1);
  });
});

describe('thesis §6.2 check-quorum', () => {
  it('thesis §6.2 a leader that hears from no quorum for an election timeout steps down', () => {
    const leader = stableLeader(THREE, { checkQuorum: true });
    leader.tick(ELECTION);
    expect(leader.raft.role).toBe('leader'); // the acks of the no-op count for the first period
    leader.tick(ELECTION);
    expect(leader.raft.role).toBe('follower');
    expect(leader.raft.term).toBe(1);
  });

  it('thesis §6.2 a leader that hears from a quorum keeps leading', () => {
    const leader = stableLeader(THREE, { checkQuorum: true });
    for (let i = 0; i < 5 * ELECTION; i++) {
      leader.tick();
      leader.handle();
      leader.step(heartbeatResp(2, 1, 1));
    }
    expect(leader.raft.role).toBe('leader');
  });

  it('thesis §6.2 a follower that heard from its leader within the election timeout ignores a higher-term vote', () => {
    const node = new TestNode(2, THREE, { checkQuorum: true });
    node.step(heartbeat(1, 2, 1));
    node.handle();
    node.step(vote(3, 2, 2, 0, 0));
    expect(node.outbox()).toEqual([]);
    expect(node.raft.term).toBe(1);
    expect(node.raft.leader).toBe(1);
    // A leadership transfer's vote bypasses the lease.
    node.step(vote(3, 2, 2, 0, 0, true));
    expect(ofType(node.outbox(), 'MsgVoteResp')).toEqual([voteResp(2, 3, 2, false)]);
  });

  it('thesis §6.2 a node answers a stale leader with its higher term, and the stale leader steps down', () => {
    const follower = new TestNode(2, THREE, {
      checkQuorum: true,
      hardState: { term: 3, vote: NONE, commit: 0 },
    });
    follower.step(heartbeat(1, 2, 1));
    const answers = follower.outbox();
    expect(answers.map((m) => [m.type, m.to, m.term])).toEqual([['MsgAppResp', 1, 3]]);
    const leader = stableLeader(THREE, { checkQuorum: true });
    leader.step(answers[0]!);
    expect(leader.raft.role).toBe('follower');
    expect(leader.raft.term).toBe(3);
  });
});

describe('thesis §6.4 ReadIndex', () => {
  const ctx = bytes('read-1');

  it('thesis §6.4 leader answers a ReadIndex only after a heartbeat quorum confirms its leadership', () => {
    const leader = stableLeader(THREE);
    leader.raw.readIndex(ctx);
    const handled = leader.handle();
    expect(handled.readStates).toEqual([]);
    const beats = ofType(handled.messages, 'MsgHeartbeat');
    expect(beats.map((m) => [m.to, m.context])).toEqual([
      [2, ctx],
      [3, ctx],
    ]);
    leader.step(heartbeatResp(2, 1, 1, ctx));
    expect(leader.handle().readStates).toEqual([{ index: 1, context: ctx }]);
  });

  it('thesis §6.4 in a five-node group one follower ack is not a quorum; two are', () => {
    const leader = stableLeader(FIVE);
    leader.raw.readIndex(ctx);
    leader.handle();
    leader.step(heartbeatResp(2, 1, 1, ctx));
    leader.step(heartbeatResp(2, 1, 1, ctx)); // a duplicate counts once
    expect(leader.handle().readStates).toEqual([]);
    leader.step(heartbeatResp(5, 1, 1, ctx));
    expect(leader.handle().readStates).toEqual([{ index: 1, context: ctx }]);
  });

  it('thesis §6.4 a new leader defers ReadIndex until it has committed an entry of its term', () => {
    const leader = new TestNode(1, THREE, {
      log: logOfTerms(1, 1),
      hardState: { term: 1, vote: NONE, commit: 1 },
    });
    makeLeader(leader);
    leader.raw.readIndex(ctx);
    expect(ofType(leader.handle().messages, 'MsgHeartbeat')).toEqual([]);
    expect(leader.raft.pendingReadCount()).toBe(1);
    leader.step(appResp(2, 1, 2, 3)); // commits the no-op at 3
    const beats = ofType(leader.handle().messages, 'MsgHeartbeat');
    expect(beats.map((m) => m.context)).toEqual([ctx, ctx]);
    leader.step(heartbeatResp(3, 1, 2, ctx));
    expect(leader.handle().readStates).toEqual([{ index: 3, context: ctx }]);
  });

  it('thesis §6.4 a follower forwards ReadIndex to the leader and gets the read point back', () => {
    const network = new TestNetwork(THREE);
    network.campaign(1);
    network.node(1).raw.propose(bytes('x'));
    network.stabilize();
    network.node(3).raw.readIndex(ctx);
    network.stabilize();
    expect(network.readStates.get(3)).toEqual([{ index: 2, context: ctx }]);
  });

  it('thesis §6.4 a leader cut off from the quorum never confirms a read', () => {
    const network = new TestNetwork(THREE);
    network.campaign(1);
    network.isolate(1);
    network.node(1).raw.readIndex(ctx);
    for (let i = 0; i < 5; i++) {
      network.node(1).tick();
      network.stabilize();
    }
    expect(network.readStates.get(1)).toEqual([]);
  });

  it('thesis §6.4 a single-voter leader answers a ReadIndex at once', () => {
    const leader = new TestNode(1, [1]);
    leader.raw.campaign();
    leader.handle();
    expect(leader.raft.role).toBe('leader');
    leader.raw.readIndex(ctx);
    expect(leader.handle().readStates).toEqual([{ index: 1, context: ctx }]);
  });
});

describe('thesis §3.10 leadership transfer', () => {
  it('thesis §3.10 the leader sends MsgTimeoutNow to an up-to-date transferee, which wins the next term', () => {
    const network = new TestNetwork(THREE, { preVote: true, checkQuorum: true });
    network.campaign(1);
    network.node(1).raw.transferLeader(2);
    network.stabilize();
    expect(network.leader()).toBe(2);
    expect(network.node(2).raft.term).toBe(2);
    // It campaigned at once: no pre-vote, and the voters disregarded their leader lease.
    const fromTwo = network.log.map(({ message }) => message).filter((m) => m.from === 2);
    expect(ofType(fromTwo, 'MsgPreVote')).toEqual([]);
    expect(ofType(fromTwo, 'MsgVote').every((m) => m.transfer)).toBe(true);
    expect(network.node(1).raft.role).toBe('follower');
  });

  it('thesis §3.10 the leader first catches a lagging transferee up, then sends MsgTimeoutNow', () => {
    const network = new TestNetwork(THREE);
    network.campaign(1);
    network.cutLink(1, 2);
    for (const word of ['a', 'b', 'c']) network.node(1).raw.propose(bytes(word));
    network.stabilize();
    expect(network.node(2).raft.raftLog.lastIndex()).toBe(1);
    network.recover();
    network.node(1).raw.transferLeader(2);
    network.stabilize();
    expect(network.leader()).toBe(2);
    expect(network.node(2).terms()).toEqual([1, 1, 1, 1, 2]);
    const timeoutNow = network.log.filter(({ message }) => message.type === 'MsgTimeoutNow');
    expect(timeoutNow.length).toBe(1);
  });

  it('thesis §3.10 the leader refuses proposals while a transfer is in progress', () => {
    const network = new TestNetwork(THREE);
    network.campaign(1);
    network.cutLink(1, 2);
    network.node(1).raw.propose(bytes('a'));
    network.stabilize();
    network.node(1).raw.transferLeader(2);
    network.stabilize();
    expect(network.node(1).raft.leadTransferee).toBe(2);
    expect(() => network.node(1).raw.propose(bytes('b'))).toThrow(ProposalDroppedError);
  });

  it('thesis §3.10 a transfer that does not finish within an election timeout is abandoned', () => {
    const network = new TestNetwork(THREE);
    network.campaign(1);
    network.cutLink(1, 2);
    network.node(1).raw.transferLeader(2);
    network.stabilize();
    expect(network.node(1).raft.leadTransferee).toBe(2);
    for (let i = 0; i < ELECTION; i++) {
      network.node(1).tick();
      network.stabilize();
    }
    expect(network.node(1).raft.leadTransferee).toBe(NONE);
    expect(network.leader()).toBe(1);
    network.node(1).raw.propose(bytes('after'));
    network.stabilize();
    expect(network.node(3).raft.raftLog.committed).toBe(2);
  });
});

describe('raftkit persist-before-send contract (Ready)', () => {
  const MUST_WAIT: ReadonlySet<Message['type']> = new Set([
    'MsgVote',
    'MsgVoteResp',
    'MsgPreVote',
    'MsgPreVoteResp',
    'MsgAppResp',
    'MsgHeartbeatResp',
  ]);
  const MAY_LEAVE_EARLY: ReadonlySet<Message['type']> = new Set([
    'MsgApp',
    'MsgHeartbeat',
    'MsgTimeoutNow',
  ]);

  it('raftkit: votes and acks leave only in persistedMessages; leader replication only in messages', () => {
    const network = new TestNetwork(FIVE, { preVote: true, checkQuorum: true });
    network.campaign(1);
    for (let i = 0; i < 5; i++) network.node(1 + (i % 5)).raw.propose(bytes(`p${i}`));
    network.stabilize();
    network.node(4).raw.readIndex(bytes('r'));
    network.tickAll(3);
    network.node(1).raw.transferLeader(3);
    network.stabilize();
    network.isolate(3);
    network.tickAll(4 * ELECTION);
    network.recover();
    network.tickAll(2 * ELECTION);
    const seen = new Set<string>();
    for (const { message, persisted } of network.log) {
      seen.add(message.type);
      if (MUST_WAIT.has(message.type))
        expect([message.type, persisted]).toEqual([message.type, true]);
      if (MAY_LEAVE_EARLY.has(message.type))
        expect([message.type, persisted]).toEqual([message.type, false]);
    }
    for (const type of [...MUST_WAIT, ...MAY_LEAVE_EARLY]) expect(seen).toContain(type);
  });

  it('raftkit: a vote grant travels in the same Ready as the hard state recording it, with mustSync', () => {
    const node = new TestNode(2, THREE);
    node.step(vote(1, 2, 1, 0, 0));
    const handled = node.handle();
    expect(handled.readies.length).toBe(1);
    const ready = handled.readies[0]!;
    expect(ready.hardState).toEqual({ term: 1, vote: 1, commit: 0 });
    expect(ready.mustSync).toBe(true);
    expect(ready.messages).toEqual([]);
    expect(ready.persistedMessages).toEqual([voteResp(2, 1, 1, false)]);
    expect(node.store.initialState().hardState.vote).toBe(1);
  });

  it('raftkit: a follower acknowledges entries in the Ready that persists them, and applies them only once durable', () => {
    const follower = new TestNode(2, THREE);
    follower.step(
      msgApp(1, 2, 1, { index: 0, logTerm: 0, entries: [entry(1, 1, bytes('x'))], commit: 1 }),
    );
    const first = follower.raw.ready();
    expect(first.entries).toEqual([entry(1, 1, bytes('x'))]);
    expect(first.mustSync).toBe(true);
    expect(first.persistedMessages).toEqual([appResp(2, 1, 1, 1)]);
    expect(first.committedEntries).toEqual([]); // committed, but not yet durable here
    follower.store.apply({ hardState: first.hardState, entries: first.entries });
    follower.raw.advance(first);
    expect(follower.raw.ready().committedEntries).toEqual([entry(1, 1, bytes('x'))]);
  });

  it('raftkit: a leader counts its own copy toward the quorum only once it is durable', () => {
    const leader = stableLeader(THREE);
    leader.raw.propose(bytes('x'));
    // The MsgApp has left (messages may go before persisting), follower 2 acked it, but
    // the leader's own write is still in flight: 1 of 3 copies is durable.
    leader.step(appResp(2, 1, 1, 2));
    expect(leader.raft.raftLog.committed).toBe(1);
    leader.handle();
    expect(leader.raft.raftLog.committed).toBe(2);
  });

  it('raftkit: a follower that crashes before persisting has promised nothing', () => {
    const follower = new TestNode(2, THREE);
    follower.step(vote(1, 2, 1, 0, 0));
    follower.step(msgApp(1, 2, 1, { index: 0, logTerm: 0, entries: [entry(1, 1)] }));
    const ready = follower.raw.ready();
    // Crash here: the Ready is dropped unsaved, so its persistedMessages are never sent.
    expect(ready.messages).toEqual([]);
    const restarted = new TestNode(2, THREE, { store: follower.store });
    expect(restarted.raft.hardState()).toEqual({ term: 0, vote: NONE, commit: 0 });
    expect(restarted.raft.raftLog.lastIndex()).toBe(0);
  });

  it('raftkit: ready() refuses to hand out a second batch before advance()', () => {
    const node = new TestNode(1, THREE);
    node.raw.campaign();
    node.raw.ready();
    expect(node.raw.hasReady()).toBe(false);
    expect(() => node.raw.ready()).toThrow(/advance/);
  });
});
