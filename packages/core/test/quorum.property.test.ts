// Property tests of the quorum and commit math against naive oracles, in the manner of
// etcd-io/raft's quorum/quick_test.go, plus invariants of the flow-control pieces
// (Inflights, Progress) under random operation sequences.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AckedIndex, JointConfig, NodeId, VoteResult } from '../src/index.js';
import {
  jointCommittedIndex,
  jointVoteResult,
  majorityCommittedIndex,
  majorityVoteResult,
} from '../src/index.js';
import { Inflights } from '../src/inflights.js';
import { Progress } from '../src/progress.js';

const RUNS = { numRuns: 500 };

// --- naive oracles -------------------------------------------------------------------------

/**
 * The committed index of a majority config, by brute force: the largest i such that more
 * than half of the voters acknowledged at least i. Unknown voters count as 0. An empty
 * config commits "everything" (so it is neutral in a joint config).
 */
function naiveCommitted(voters: ReadonlySet<NodeId>, acked: AckedIndex): number {
  if (voters.size === 0) return Number.MAX_SAFE_INTEGER;
  const indexes = [...voters].map((id) => acked(id) ?? 0);
  let best = 0;
  for (const candidate of [0, ...indexes]) {
    const count = indexes.filter((index) => index >= candidate).length;
    if (count > voters.size / 2 && candidate > best) best = candidate;
  }
  return best;
}

/** The vote result, by counting: won if granted is a majority, lost if granted plus missing is not. */
function naiveVote(voters: ReadonlySet<NodeId>, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.size === 0) return 'won';
  const granted = [...voters].filter((id) => votes.get(id) === true).length;
  const missing = [...voters].filter((id) => !votes.has(id)).length;
  if (granted > voters.size / 2) return 'won';
  if (granted + missing > voters.size / 2) return 'pending';
  return 'lost';
}

function naiveJointVote(config: JointConfig, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const results = [naiveVote(config.incoming, votes), naiveVote(config.outgoing, votes)];
  if (results.includes('lost')) return 'lost';
  if (results.every((result) => result === 'won')) return 'won';
  return 'pending';
}

// --- arbitraries ---------------------------------------------------------------------------

/** Duplicate-free voter sets over a small id space, so halves of joint configs overlap. */
const voterSet = (maxSize = 9) =>
  fc
    .uniqueArray(fc.integer({ min: 1, max: 12 }), { maxLength: maxSize })
    .map((ids) => new Set(ids));

const nonEmptyVoterSet = fc
  .uniqueArray(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 9 })
  .map((ids) => new Set(ids));

/** Acked indexes for ids 1..12; some ids unknown (undefined). */
const ackedMap = fc
  .array(fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }), {
    minLength: 12,
    maxLength: 12,
  })
  .map((values) => {
    const map = new Map<NodeId, number>();
    values.forEach((value, i) => {
      if (value !== undefined) map.set(i + 1, value);
    });
    return map;
  });

/** Votes for ids 1..12: granted, rejected, or not yet answered. */
const voteMap = fc
  .array(fc.constantFrom<boolean | undefined>(true, false, undefined), {
    minLength: 12,
    maxLength: 12,
  })
  .map((values) => {
    const map = new Map<NodeId, boolean>();
    values.forEach((value, i) => {
      if (value !== undefined) map.set(i + 1, value);
    });
    return map;
  });

const jointConfig = fc
  .record({ incoming: voterSet(), outgoing: voterSet() })
  .map((config): JointConfig => config);

/** A joint config whose halves are built to overlap (shared voters), plus extra voters each. */
const overlappingJointConfig = fc
  .record({
    shared: fc.uniqueArray(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 4 }),
    onlyIn: fc.uniqueArray(fc.integer({ min: 13, max: 20 }), { maxLength: 4 }),
    onlyOut: fc.uniqueArray(fc.integer({ min: 21, max: 28 }), { maxLength: 4 }),
  })
  .map(
    ({ shared, onlyIn, onlyOut }): JointConfig => ({
      incoming: new Set([...shared, ...onlyIn]),
      outgoing: new Set([...shared, ...onlyOut]),
    }),
  );

const lookup =
  (map: ReadonlyMap<NodeId, number>): AckedIndex =>
  (id) =>
    map.get(id);

// --- majority configs ----------------------------------------------------------------------

describe('majorityCommittedIndex (§5.3: replicated on a majority)', () => {
  it('matches the brute-force oracle, empty configs included', () => {
    fc.assert(
      fc.property(voterSet(), ackedMap, (voters, acked) => {
        expect(majorityCommittedIndex(voters, lookup(acked))).toBe(
          naiveCommitted(voters, lookup(acked)),
        );
      }),
      RUNS,
    );
  });

  it('the result is acknowledged by a majority, and one more is not', () => {
    fc.assert(
      fc.property(nonEmptyVoterSet, ackedMap, (voters, acked) => {
        const committed = majorityCommittedIndex(voters, lookup(acked));
        const atLeast = (i: number) => [...voters].filter((id) => (acked.get(id) ?? 0) >= i).length;
        expect(atLeast(committed) * 2).toBeGreaterThan(voters.size);
        expect(atLeast(committed + 1) * 2).toBeLessThanOrEqual(voters.size);
      }),
      RUNS,
    );
  });

  it('is monotonic: raising any acknowledgement never lowers the committed index', () => {
    fc.assert(
      fc.property(
        nonEmptyVoterSet,
        ackedMap,
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 10 }),
        (voters, acked, id, raise) => {
          const before = majorityCommittedIndex(voters, lookup(acked));
          const raised = new Map(acked).set(id, (acked.get(id) ?? 0) + raise);
          expect(majorityCommittedIndex(voters, lookup(raised))).toBeGreaterThanOrEqual(before);
        },
      ),
      RUNS,
    );
  });

  it('a single voter commits exactly what it acknowledged', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), (index) => {
        expect(majorityCommittedIndex(new Set([7]), () => index)).toBe(index);
      }),
    );
  });
});

describe('majorityVoteResult (§5.2: a majority of votes wins)', () => {
  it('matches the counting oracle, empty configs included', () => {
    fc.assert(
      fc.property(voterSet(), voteMap, (voters, votes) => {
        expect(majorityVoteResult(voters, votes)).toBe(naiveVote(voters, votes));
      }),
      RUNS,
    );
  });

  it('ignores votes from non-members', () => {
    fc.assert(
      fc.property(voterSet(), voteMap, fc.boolean(), (voters, votes, granted) => {
        const withStranger = new Map(votes).set(99, granted);
        expect(majorityVoteResult(voters, withStranger)).toBe(majorityVoteResult(voters, votes));
      }),
      RUNS,
    );
  });

  it('a pending election is decided once every missing vote arrives, and never flips after', () => {
    fc.assert(
      fc.property(nonEmptyVoterSet, voteMap, voteMap, (voters, votes, later) => {
        const first = majorityVoteResult(voters, votes);
        const all = new Map(votes);
        for (const id of voters) if (!all.has(id)) all.set(id, later.get(id) ?? false);
        const final = majorityVoteResult(voters, all);
        expect(final).not.toBe('pending');
        if (first !== 'pending') expect(final).toBe(first);
      }),
      RUNS,
    );
  });

  it('two disjoint sets of granted votes cannot both win a non-empty config (Election Safety)', () => {
    fc.assert(
      fc.property(
        nonEmptyVoterSet,
        fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
        (voters, split) => {
          const a = new Map<NodeId, boolean>();
          const b = new Map<NodeId, boolean>();
          for (const id of voters) (split[id - 1] ? a : b).set(id, true);
          const wins = [majorityVoteResult(voters, a), majorityVoteResult(voters, b)];
          expect(wins.filter((result) => result === 'won').length).toBeLessThanOrEqual(1);
        },
      ),
      RUNS,
    );
  });
});

// --- joint configs -------------------------------------------------------------------------

describe('joint consensus (§6: majorities of both configurations)', () => {
  it('jointCommittedIndex is the min of the two halves, by the oracle', () => {
    fc.assert(
      fc.property(jointConfig, ackedMap, (config, acked) => {
        const expected = Math.min(
          naiveCommitted(config.incoming, lookup(acked)),
          naiveCommitted(config.outgoing, lookup(acked)),
        );
        expect(jointCommittedIndex(config, lookup(acked))).toBe(expected);
      }),
      RUNS,
    );
  });

  it('jointCommittedIndex with an empty outgoing half equals the plain majority', () => {
    fc.assert(
      fc.property(voterSet(), ackedMap, (voters, acked) => {
        const joint = jointCommittedIndex({ incoming: voters, outgoing: new Set() }, lookup(acked));
        expect(joint).toBe(majorityCommittedIndex(voters, lookup(acked)));
      }),
      RUNS,
    );
  });

  it('jointCommittedIndex on overlapping halves is acknowledged by a majority of each half', () => {
    fc.assert(
      fc.property(
        overlappingJointConfig,
        fc.dictionary(fc.integer({ min: 1, max: 28 }).map(String), fc.integer({ min: 0, max: 20 })),
        (config, record) => {
          const acked: AckedIndex = (id) => record[String(id)];
          const committed = jointCommittedIndex(config, acked);
          for (const half of [config.incoming, config.outgoing]) {
            const holding = [...half].filter((id) => (acked(id) ?? 0) >= committed).length;
            expect(holding * 2).toBeGreaterThan(half.size);
          }
        },
      ),
      RUNS,
    );
  });

  it('jointVoteResult matches the oracle, on random and on overlapping halves', () => {
    fc.assert(
      fc.property(fc.oneof(jointConfig, overlappingJointConfig), voteMap, (config, votes) => {
        expect(jointVoteResult(config, votes)).toBe(naiveJointVote(config, votes));
      }),
      RUNS,
    );
  });

  it('jointVoteResult with two identical halves equals the plain majority', () => {
    fc.assert(
      fc.property(voterSet(), voteMap, (voters, votes) => {
        expect(jointVoteResult({ incoming: voters, outgoing: voters }, votes)).toBe(
          majorityVoteResult(voters, votes),
        );
      }),
      RUNS,
    );
  });

  it('no two disjoint vote sets can both win a joint config (some half is non-empty)', () => {
    fc.assert(
      fc.property(
        fc.oneof(jointConfig, overlappingJointConfig),
        fc.array(fc.boolean(), { minLength: 28, maxLength: 28 }),
        (config, split) => {
          fc.pre(config.incoming.size + config.outgoing.size > 0);
          const a = new Map<NodeId, boolean>();
          const b = new Map<NodeId, boolean>();
          for (const id of [...config.incoming, ...config.outgoing]) {
            (split[id - 1] ? a : b).set(id, true);
          }
          const wins = [jointVoteResult(config, a), jointVoteResult(config, b)];
          expect(wins.filter((result) => result === 'won').length).toBeLessThanOrEqual(1);
        },
      ),
      RUNS,
    );
  });

  it('a fully empty joint config wins any vote and commits everything (the neutral element)', () => {
    const empty: JointConfig = { incoming: new Set(), outgoing: new Set() };
    expect(jointVoteResult(empty, new Map())).toBe('won');
    expect(jointCommittedIndex(empty, () => 0)).toBe(Number.MAX_SAFE_INTEGER);
  });
});

// --- Inflights -----------------------------------------------------------------------------

type InflightOp =
  | { kind: 'add'; bytes: number }
  | { kind: 'freeLE'; back: number }
  | { kind: 'freeFirstOne' }
  | { kind: 'reset' };

const inflightOp: fc.Arbitrary<InflightOp> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('add' as const),
      bytes: fc.integer({ min: 0, max: 300 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('freeLE' as const),
      back: fc.integer({ min: -2, max: 10 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('freeFirstOne' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reset' as const) }) },
);

describe('Inflights (the pipelining window)', () => {
  it('count, bytes and full() always agree with a naive list model', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.array(inflightOp, { maxLength: 300 }),
        (maxCount, maxBytes, ops) => {
          const inflights = new Inflights(maxCount, maxBytes);
          let model: { index: number; bytes: number }[] = [];
          let lastIndex = 0;
          for (const op of ops) {
            switch (op.kind) {
              case 'add':
                // A leader adds only while the window is open, with increasing indexes.
                if (inflights.full()) continue;
                lastIndex += 1 + (op.bytes % 3);
                inflights.add(lastIndex, op.bytes);
                model.push({ index: lastIndex, bytes: op.bytes });
                break;
              case 'freeLE': {
                const upTo = lastIndex - op.back;
                inflights.freeLE(upTo);
                model = model.filter((item) => item.index > upTo);
                break;
              }
              case 'freeFirstOne':
                inflights.freeFirstOne();
                model = model.slice(1);
                break;
              case 'reset':
                inflights.reset();
                model = [];
                break;
            }
            const bytes = model.reduce((sum, item) => sum + item.bytes, 0);
            expect(inflights.count()).toBe(model.length);
            expect(inflights.bytes()).toBe(bytes);
            expect(inflights.full()).toBe(
              model.length >= maxCount || (maxBytes > 0 && bytes >= maxBytes),
            );
          }
        },
      ),
      RUNS,
    );
  });

  it('never holds more than maxCount messages when the caller respects full()', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 1, max: 200 }),
        (maxCount, adds) => {
          const inflights = new Inflights(maxCount, 0);
          for (let i = 1; i <= adds && !inflights.full(); i++) inflights.add(i, 10);
          expect(inflights.count()).toBe(Math.min(maxCount, adds));
        },
      ),
    );
  });
});

// --- Progress ------------------------------------------------------------------------------

type ProgressOp =
  | { kind: 'maybeUpdate'; index: number }
  | { kind: 'maybeDecrTo'; rejected: number; hint: number }
  | { kind: 'sentEntries'; count: number }
  | { kind: 'becomeProbe' }
  | { kind: 'becomeReplicate' }
  | { kind: 'becomeSnapshot'; index: number };

const progressOp: fc.Arbitrary<ProgressOp> = fc.oneof(
  fc.record({ kind: fc.constant('maybeUpdate' as const), index: fc.integer({ min: 0, max: 40 }) }),
  fc.record({
    kind: fc.constant('maybeDecrTo' as const),
    rejected: fc.integer({ min: 0, max: 40 }),
    hint: fc.integer({ min: 0, max: 40 }),
  }),
  fc.record({ kind: fc.constant('sentEntries' as const), count: fc.integer({ min: 0, max: 5 }) }),
  fc.record({ kind: fc.constant('becomeProbe' as const) }),
  fc.record({ kind: fc.constant('becomeReplicate' as const) }),
  fc.record({
    kind: fc.constant('becomeSnapshot' as const),
    index: fc.integer({ min: 0, max: 40 }),
  }),
);

describe('Progress (the leader’s view of one follower)', () => {
  it('keeps match < next under any sequence of operations; maybeDecrTo never sets next ≤ match', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 20 }),
        fc.array(progressOp, { maxLength: 200 }),
        (start, ops) => {
          const progress = new Progress(0, start + 1, 4, 0, false);
          for (const op of ops) {
            const matchBefore = progress.match;
            switch (op.kind) {
              case 'maybeUpdate':
                progress.maybeUpdate(op.index);
                break;
              case 'maybeDecrTo':
                progress.maybeDecrTo(op.rejected, op.hint);
                expect(progress.next).toBeGreaterThan(progress.match);
                break;
              case 'sentEntries':
                if (!progress.isPaused())
                  progress.sentEntries(progress.next - 1 + op.count, op.count, op.count * 10);
                break;
              case 'becomeProbe':
                progress.becomeProbe();
                break;
              case 'becomeReplicate':
                progress.becomeReplicate();
                break;
              case 'becomeSnapshot':
                // A snapshot is only sent past what the follower has.
                if (op.index > progress.match) progress.becomeSnapshot(op.index);
                break;
            }
            expect(progress.match).toBeGreaterThanOrEqual(matchBefore); // match never regresses
            expect(progress.next).toBeGreaterThan(progress.match);
          }
        },
      ),
      RUNS,
    );
  });

  it('maybeUpdate reports an update exactly when the index is past match', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 0, max: 50 }),
        (match, index) => {
          const progress = new Progress(match, match + 1, 4, 0, false);
          expect(progress.maybeUpdate(index)).toBe(index > match);
          expect(progress.match).toBe(Math.max(match, index));
          expect(progress.next).toBeGreaterThanOrEqual(index + 1);
        },
      ),
    );
  });

  it('in probe state, only the answer to the outstanding probe (at next-1) moves next back', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 45 }),
        fc.integer({ min: 0, max: 45 }),
        (match, gap, rejected, hint) => {
          const progress = new Progress(match, match + gap, 4, 0, false);
          const nextBefore = progress.next;
          const changed = progress.maybeDecrTo(rejected, hint);
          expect(changed).toBe(rejected === nextBefore - 1);
          if (changed) {
            expect(progress.next).toBe(Math.max(Math.min(rejected, hint + 1), match + 1));
            expect(progress.next).toBeLessThanOrEqual(nextBefore);
          } else expect(progress.next).toBe(nextBefore);
        },
      ),
      RUNS,
    );
  });

  it('in replicate state, a rejection at or below match is stale and ignored', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 40 }),
        (match, rejected, hint) => {
          const progress = new Progress(match, match + 1, 4, 0, false);
          progress.becomeReplicate();
          progress.sentEntries(match + 5, 5, 50);
          const changed = progress.maybeDecrTo(rejected, hint);
          expect(changed).toBe(rejected > match);
          expect(progress.next).toBe(changed ? match + 1 : match + 6);
        },
      ),
      RUNS,
    );
  });
});
