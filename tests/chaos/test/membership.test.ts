import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { classifyMembershipError } from '../src/etcd-client.js';
import {
  type ClusterShape,
  checkMembership,
  isMembershipOpName,
  type KnownMember,
  type ListedMember,
  MEMBERSHIP_OPS,
  type MembershipChange,
  type MembershipStep,
  planMembershipOp,
  portOf,
  possibleStatuses,
  summarizeChanges,
  voterBounds,
} from '../src/membership.js';
import { Random } from '../src/random.js';

let clock = 0;
function change(
  kind: MembershipChange['kind'],
  member: string,
  outcome: MembershipChange['outcome'],
  extra: Partial<MembershipChange> = {},
): MembershipChange {
  clock += 10;
  return { kind, member, outcome, via: 'n1', invoke: clock, complete: clock + 5, ...extra };
}

const url = (port: number) => `http://127.0.0.1:${port}`;
const listed = (id: bigint, port: number, isLearner = false): ListedMember => ({
  ID: id,
  name: '',
  peerURLs: [url(port)],
  isLearner,
});

function applyStep(shape: ClusterShape, step: MembershipStep): ClusterShape {
  switch (step) {
    case 'add-learner':
      return { ...shape, learners: shape.learners + 1 };
    case 'add-voter':
      return { ...shape, voters: shape.voters + 1 };
    case 'promote':
      return { voters: shape.voters + 1, learners: shape.learners - 1 };
    case 'remove':
      return { ...shape, voters: shape.voters - 1 };
    default:
      return shape;
  }
}

describe('planMembershipOp', () => {
  it('keeps voters within N-1..N+1 and at least 3', () => {
    expect(voterBounds(3)).toEqual({ min: 3, max: 4 });
    expect(voterBounds(5)).toEqual({ min: 4, max: 6 });
  });

  it('adds before removing in a 3-member cluster, removes first in a 5-member one', () => {
    const random = new Random(1);
    for (let i = 0; i < 20; i++) {
      const three = planMembershipOp({ voters: 3, learners: 0 }, 3, ['remove-add'], random);
      expect(three?.steps).toEqual(['add-voter', 'remove']);
      const five = planMembershipOp({ voters: 5, learners: 0 }, 5, ['remove-add'], random);
      expect(five?.steps).toEqual(['remove', 'add-voter']);
    }
    expect(planMembershipOp({ voters: 3, learners: 0 }, 3, ['replace'], random)).toEqual({
      op: 'replace',
      steps: ['add-learner', 'promote', 'remove'],
    });
    expect(planMembershipOp({ voters: 3, learners: 0 }, 3, ['move-leader'], random)).toEqual({
      op: 'move-leader',
      steps: ['move-leader'],
    });
    expect(planMembershipOp({ voters: 3, learners: 0 }, 3, [], random)).toBeUndefined();
  });

  it('finishes an operation cut short before starting a new one', () => {
    const random = new Random(2);
    // A learner whose promotion failed: promote it (then remove a voter if one too many).
    expect(planMembershipOp({ voters: 3, learners: 1 }, 3, ['move-leader'], random)?.steps).toEqual(
      ['promote', 'remove'],
    );
    expect(planMembershipOp({ voters: 4, learners: 1 }, 5, ['move-leader'], random)?.steps).toEqual(
      ['promote'],
    );
    // At the upper bound already: remove first.
    expect(planMembershipOp({ voters: 4, learners: 1 }, 3, ['replace'], random)?.steps).toEqual([
      'remove',
      'promote',
    ]);
    expect(planMembershipOp({ voters: 4, learners: 0 }, 3, ['replace'], random)).toEqual({
      op: 'restore',
      steps: ['remove'],
    });
    const grow = planMembershipOp({ voters: 4, learners: 0 }, 5, ['move-leader'], random);
    expect(grow?.op).toBe('restore');
    expect([['add-voter'], ['add-learner', 'promote']]).toContainEqual(grow?.steps);
  });

  it('never leaves the bounds, whichever steps fail (simulated)', () => {
    for (const nodes of [3, 5]) {
      const { min, max } = voterBounds(nodes);
      const random = new Random(nodes * 7919);
      let shape: ClusterShape = { voters: nodes, learners: 0 };
      for (let round = 0; round < 2000; round++) {
        const plan = planMembershipOp(shape, nodes, MEMBERSHIP_OPS, random);
        expect(plan).toBeDefined();
        for (const step of plan?.steps ?? []) {
          // Any step may fail (the operation then stops there).
          if (random.next() < 0.3) break;
          shape = applyStep(shape, step);
          expect(shape.voters).toBeGreaterThanOrEqual(min);
          expect(shape.voters).toBeLessThanOrEqual(max);
          expect(shape.learners).toBeGreaterThanOrEqual(0);
          expect(shape.learners).toBeLessThanOrEqual(1);
        }
      }
    }
  });

  it('is seeded: the same seed plans the same operations', () => {
    const plans = (seed: number) => {
      const random = new Random(seed);
      return Array.from({ length: 30 }, () =>
        planMembershipOp({ voters: 3, learners: 0 }, 3, MEMBERSHIP_OPS, random),
      );
    };
    expect(plans(42)).toEqual(plans(42));
    expect(new Set(plans(42).map((p) => p?.op))).toEqual(new Set(MEMBERSHIP_OPS));
  });

  it('names its operations', () => {
    expect(isMembershipOpName('replace')).toBe(true);
    expect(isMembershipOpName('kill')).toBe(false);
  });
});

describe('possibleStatuses', () => {
  it('follows acknowledged changes', () => {
    const learnerPromoted = possibleStatuses('absent', [
      change('add', 'n4', 'ok', { learner: true }),
      change('promote', 'n4', 'ok'),
    ]);
    expect([...learnerPromoted.statuses]).toEqual(['voter']);
    expect(learnerPromoted.violations).toEqual([]);
    expect([...possibleStatuses('voter', [change('remove', 'n1', 'ok')]).statuses]).toEqual([
      'removed',
    ]);
  });

  it('ignores failed changes and allows either outcome of unknown ones', () => {
    expect([...possibleStatuses('voter', [change('remove', 'n1', 'fail')]).statuses]).toEqual([
      'voter',
    ]);
    expect(
      [...possibleStatuses('voter', [change('remove', 'n1', 'unknown')]).statuses].sort(),
    ).toEqual(['removed', 'voter']);
    expect(
      [...possibleStatuses('absent', [change('add', 'n5', 'unknown')]).statuses].sort(),
    ).toEqual(['absent', 'voter']);
    // An unknown promotion followed by an acknowledged one.
    const promoted = possibleStatuses('absent', [
      change('add', 'n4', 'ok', { learner: true }),
      change('promote', 'n4', 'unknown'),
      change('promote', 'n4', 'ok'),
    ]);
    expect([...promoted.statuses]).toEqual(['voter']);
    // An unknown removal then an acknowledged one: the first did not happen first.
    const removed = possibleStatuses('voter', [
      change('remove', 'n2', 'unknown'),
      change('remove', 'n2', 'ok'),
    ]);
    expect([...removed.statuses]).toEqual(['removed']);
    expect(removed.violations).toEqual([]);
  });

  it('reports an acknowledged change the history does not allow', () => {
    const twice = possibleStatuses('voter', [
      change('remove', 'n2', 'ok'),
      change('remove', 'n2', 'ok'),
    ]);
    expect(twice.violations).toHaveLength(1);
    expect(twice.violations[0]).toMatch(
      /remove of n2 .* was acknowledged, but the member was removed/,
    );
    expect(possibleStatuses('voter', [change('promote', 'n1', 'ok')]).violations).toHaveLength(1);
  });
});

describe('checkMembership', () => {
  const members: KnownMember[] = [
    { name: 'n1', proxyPort: 1001, initial: true },
    { name: 'n2', proxyPort: 1002, initial: true },
    { name: 'n3', proxyPort: 1003, initial: true },
    { name: 'n4', proxyPort: 1004, initial: false },
    { name: 'n5', proxyPort: 1005, initial: false },
  ];
  const changes = [
    change('add', 'n4', 'ok', { learner: true, id: '44' }),
    change('promote', 'n4', 'ok', { id: '44' }),
    change('remove', 'n2', 'ok'),
    change('add', 'n5', 'unknown'),
    change('move-leader', 'n3', 'ok'),
  ];
  const good = [listed(1n, 1001), listed(3n, 1003), listed(0x44n, 1004)];

  it('accepts a list that reflects every acknowledged change', () => {
    expect(checkMembership(members, changes, good)).toEqual([]);
    // The unknown add of n5 may have happened.
    expect(checkMembership(members, changes, [...good, listed(5n, 1005)])).toEqual([]);
  });

  it('reports an acknowledged removal still listed', () => {
    const violations = checkMembership(members, changes, [...good, listed(2n, 1002)]);
    expect(violations).toEqual([
      expect.stringMatching(/^n2 is a voter in the final member list, .* must be absent$/),
    ]);
  });

  it('reports an acknowledged add or promotion missing', () => {
    expect(checkMembership(members, changes, [listed(1n, 1001), listed(3n, 1003)])).toEqual([
      expect.stringMatching(/^n4 is not a member .* must be voter$/),
    ]);
    expect(
      checkMembership(members, changes, [
        listed(1n, 1001),
        listed(3n, 1003),
        listed(0x44n, 1004, true),
      ]),
    ).toEqual([expect.stringMatching(/^n4 is a learner .* must be voter$/)]);
  });

  it('reports members nobody added, duplicates and changed ids', () => {
    expect(checkMembership(members, changes, [...good, listed(9n, 1009)])).toEqual([
      expect.stringMatching(/holds 9 \(http:\/\/127.0.0.1:1009\), which the run never added/),
    ]);
    expect(checkMembership(members, changes, [...good, listed(7n, 1003)])).toEqual([
      'n3 is listed more than once',
    ]);
    expect(
      checkMembership(members, changes, [listed(1n, 1001), listed(3n, 1003), listed(0x45n, 1004)]),
    ).toEqual(['n4 was added as 44 but is listed as 45']);
  });
});

describe('helpers', () => {
  it('portOf reads a peer URL port', () => {
    expect(portOf('http://127.0.0.1:2380')).toBe(2380);
    expect(portOf('http://127.0.0.1:2380/')).toBe(2380);
    expect(portOf('not a url')).toBeUndefined();
  });

  it('summarizeChanges counts by kind and outcome', () => {
    const summary = summarizeChanges([
      change('add', 'n4', 'ok'),
      change('add', 'n5', 'unknown'),
      change('remove', 'n1', 'fail'),
      change('move-leader', 'n2', 'ok'),
    ]);
    expect(summary.add).toEqual({ ok: 1, fail: 0, unknown: 1 });
    expect(summary.remove).toEqual({ ok: 0, fail: 1, unknown: 0 });
    expect(summary['move-leader']).toEqual({ ok: 1, fail: 0, unknown: 0 });
    expect(summary.total).toEqual({ ok: 2, fail: 1, unknown: 1 });
  });

  it('classifyMembershipError: refusals before proposing fail, the rest is unknown', () => {
    const error = (code: number, details: string) => ({ code, details });
    expect(
      classifyMembershipError(
        error(
          status.FAILED_PRECONDITION,
          'etcdserver: can only promote a learner member which is in sync with leader',
        ),
      ),
    ).toBe('fail');
    expect(classifyMembershipError(error(status.NOT_FOUND, 'etcdserver: member not found'))).toBe(
      'fail',
    );
    expect(
      classifyMembershipError(
        error(
          status.UNAVAILABLE,
          'raftkit: another membership change is in progress; retry when it is done',
        ),
      ),
    ).toBe('fail');
    expect(
      classifyMembershipError(error(status.UNAVAILABLE, 'etcdserver: unhealthy cluster')),
    ).toBe('fail');
    expect(
      classifyMembershipError(
        error(status.UNAVAILABLE, 'etcdserver: rpc not supported for learner'),
      ),
    ).toBe('fail');
    expect(
      classifyMembershipError(error(status.UNAVAILABLE, 'No connection established. Last error')),
    ).toBe('fail');
    expect(classifyMembershipError(error(status.UNAVAILABLE, 'etcdserver: no leader'))).toBe(
      'unknown',
    );
    expect(classifyMembershipError(error(status.DEADLINE_EXCEEDED, 'Deadline exceeded'))).toBe(
      'unknown',
    );
  });
});
