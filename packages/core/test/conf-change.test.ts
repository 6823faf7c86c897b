// The configuration changer and the ConfChange codec. The changer cases are those of
// etcd-io/raft's confchange/testdata (simple_safety, joint_safety, joint_autoleave,
// joint_idempotency, joint_learners_next), rewritten in a compact notation: `v2` adds
// voter 2 (or promotes it), `l2` makes 2 a learner (adding or demoting it), `r2` removes 2.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConfChange, ConfChangeSingle, TrackerConfig } from '../src/index.js';
import {
  ConfChangeError,
  configFromConfState,
  decodeConfChange,
  describeConfChange,
  emptyConfState,
  encodeConfChange,
  enterJoint,
  enterJointOf,
  leaveJoint,
  nextConfig,
  simple,
} from '../src/index.js';

function parse(spec: string): ConfChangeSingle[] {
  if (spec.trim() === '') return [];
  return spec
    .trim()
    .split(/\s+/)
    .map((token) => {
      const nodeId = Number(token.slice(1));
      const type = ({ v: 'addNode', l: 'addLearnerNode', r: 'removeNode' } as const)[
        token[0] as 'v' | 'l' | 'r'
      ];
      return { type, nodeId };
    });
}

/** show renders a config as etcd's testdata does: `voters=(1 2)&&(1) learners=(3) …`. */
function show(config: TrackerConfig): string {
  const ids = (set: ReadonlySet<number>) => [...set].sort((a, b) => a - b).join(' ');
  let out = `voters=(${ids(config.voters.incoming)})`;
  if (config.voters.outgoing.size > 0) out += `&&(${ids(config.voters.outgoing)})`;
  if (config.learners.size > 0) out += ` learners=(${ids(config.learners)})`;
  if (config.learnersNext.size > 0) out += ` learners_next=(${ids(config.learnersNext)})`;
  if (config.autoLeave) out += ' autoleave';
  return out;
}

type Step = [command: string, expected: string];

/** run executes a script of changer commands from the empty config, checking each result. */
function run(steps: readonly Step[]): void {
  let config = configFromConfState(emptyConfState());
  for (const [command, expected] of steps) {
    const [verb, ...rest] = command.split(' ');
    let autoLeave = false;
    if (rest[0] === 'autoleave') {
      autoLeave = true;
      rest.shift();
    }
    const changes = parse(rest.join(' '));
    let result: string;
    try {
      const next =
        verb === 'simple'
          ? simple(config, changes)
          : verb === 'enter-joint'
            ? enterJoint(config, autoLeave, changes)
            : leaveJoint(config);
      config = next;
      result = show(next);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfChangeError);
      result = `error: ${(error as ConfChangeError).reason}`;
    }
    expect(`${command} → ${result}`).toBe(`${command} → ${expected}`);
  }
}

describe('conf changer (etcd-io/raft confchange rules)', () => {
  it('simple changes: at most one voter changes at a time (simple_safety)', () => {
    run([
      ['simple l1', 'error: removedAllVoters'],
      ['simple v1', 'voters=(1)'],
      ['simple v2 l3', 'voters=(1 2) learners=(3)'],
      ['simple r1 v5', 'error: tooManyVoterChanges'],
      ['simple r1 r2', 'error: removedAllVoters'],
      ['simple v3 v4', 'error: tooManyVoterChanges'],
      ['simple l1 v5', 'error: tooManyVoterChanges'],
      ['simple l1 l2', 'error: removedAllVoters'],
      ['simple l2 l3 l4 l5', 'voters=(1) learners=(2 3 4 5)'],
      ['simple r1', 'error: removedAllVoters'],
      ['simple r2 r3 r4 r5', 'voters=(1)'],
    ]);
  });

  it('joint consensus: enter and leave, never twice, never from empty (joint_safety)', () => {
    run([
      ['leave-joint', 'error: notJoint'],
      ['enter-joint', 'error: zeroVoterJoint'],
      ['enter-joint v1', 'error: zeroVoterJoint'],
      ['simple v1', 'voters=(1)'],
      ['leave-joint', 'error: notJoint'],
      ['enter-joint', 'voters=(1)&&(1)'],
      ['enter-joint', 'error: alreadyJoint'],
      ['leave-joint', 'voters=(1)'],
      ['leave-joint', 'error: notJoint'],
      ['enter-joint r1 v2 v3 l4', 'voters=(2 3)&&(1) learners=(4)'],
      ['enter-joint v1 v2', 'error: alreadyJoint'],
      ['simple l2', 'error: alreadyJoint'],
      ['leave-joint', 'voters=(2 3) learners=(4)'],
      ['enter-joint r2 r3 r4', 'error: removedAllVoters'],
      ['enter-joint r2 v4', 'voters=(3 4)&&(2 3)'],
      ['leave-joint', 'voters=(3 4)'],
    ]);
  });

  it('auto-leave is recorded on the joint config and cleared on leaving (joint_autoleave)', () => {
    run([
      ['simple v1', 'voters=(1)'],
      ['enter-joint autoleave v2 v3', 'voters=(1 2 3)&&(1) autoleave'],
      ['enter-joint autoleave', 'error: alreadyJoint'],
      ['leave-joint', 'voters=(1 2 3)'],
    ]);
  });

  it('repeated and contradictory changes in one batch apply in order (joint_idempotency)', () => {
    run([
      ['simple v1', 'voters=(1)'],
      [
        'enter-joint r1 r2 r9 v2 v3 v4 v2 v3 v4 l2 l2 r4 r4 l1 l1',
        'voters=(3)&&(1) learners=(2) learners_next=(1)',
      ],
      ['leave-joint', 'voters=(3) learners=(1 2)'],
    ]);
  });

  it('a voter demoted during a joint config stays an outgoing voter until it is left (joint_learners_next)', () => {
    run([
      ['simple v1', 'voters=(1)'],
      ['enter-joint v2 l1', 'voters=(2)&&(1) learners_next=(1)'],
      ['leave-joint', 'voters=(2) learners=(1)'],
    ]);
  });

  it('learners are promoted and demoted; removing a non-member is a no-op', () => {
    run([
      ['simple v1', 'voters=(1)'],
      ['simple l2', 'voters=(1) learners=(2)'],
      ['simple v2', 'voters=(1 2)'],
      ['simple l2', 'voters=(1) learners=(2)'],
      ['simple r7', 'voters=(1) learners=(2)'],
      ['simple r2', 'voters=(1)'],
    ]);
  });

  it('enterJointOf: auto with one change is simple, anything else joint (etcd ConfChangeV2.EnterJoint)', () => {
    const cc = (transition: ConfChange['transition'], spec: string): ConfChange => ({
      transition,
      changes: parse(spec),
      context: new Uint8Array(),
    });
    expect(enterJointOf(cc('auto', 'v2'))).toEqual({ joint: false, autoLeave: false });
    expect(enterJointOf(cc('auto', 'v2 r1'))).toEqual({ joint: true, autoLeave: true });
    expect(enterJointOf(cc('implicit', 'v2'))).toEqual({ joint: true, autoLeave: true });
    expect(enterJointOf(cc('explicit', 'v2'))).toEqual({ joint: true, autoLeave: false });
    // nextConfig routes accordingly, and an empty change leaves the joint config.
    const start = configFromConfState({ ...emptyConfState(), voters: [1, 2, 3] });
    const joint = nextConfig(start, cc('explicit', 'v4 r1'));
    expect(show(joint)).toBe('voters=(2 3 4)&&(1 2 3)');
    expect(show(nextConfig(joint, cc('auto', '')))).toBe('voters=(2 3 4)');
    expect(() => nextConfig(joint, cc('auto', 'v5'))).toThrow(ConfChangeError);
  });

  it('never mutates its input', () => {
    const start = configFromConfState({ ...emptyConfState(), voters: [1, 2], learners: [3] });
    const before = show(start);
    enterJoint(start, true, parse('v3 l1 r2'));
    simple(start, parse('v3'));
    expect(show(start)).toBe(before);
  });
});

const changeArb: fc.Arbitrary<ConfChangeSingle> = fc.record({
  type: fc.constantFrom('addNode' as const, 'removeNode' as const, 'addLearnerNode' as const),
  nodeId: fc.oneof(fc.integer({ min: 1, max: 300 }), fc.constant(Number.MAX_SAFE_INTEGER)),
});
const confChangeArb: fc.Arbitrary<ConfChange> = fc.record({
  transition: fc.constantFrom('auto' as const, 'implicit' as const, 'explicit' as const),
  changes: fc.array(changeArb, { maxLength: 8 }),
  context: fc.uint8Array({ maxLength: 40 }),
});

describe('ConfChange codec', () => {
  it('round-trips every ConfChange', () => {
    fc.assert(
      fc.property(confChangeArb, (cc) => {
        expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc);
      }),
      { numRuns: 500 },
    );
  });

  it('is compact: adding one node takes 7 bytes', () => {
    const data = encodeConfChange({
      transition: 'auto',
      changes: [{ type: 'addNode', nodeId: 4 }],
      context: new Uint8Array(),
    });
    expect(data.length).toBe(7);
  });

  it('refuses truncated, padded and garbage bytes with a typed error', () => {
    const good = encodeConfChange({
      transition: 'explicit',
      changes: [{ type: 'removeNode', nodeId: 300 }],
      context: new Uint8Array([1, 2, 3]),
    });
    const bad = [
      new Uint8Array(),
      good.subarray(0, good.length - 1),
      new Uint8Array([...good, 0]),
      new Uint8Array([0x00, ...good.subarray(1)]),
      new Uint8Array([good[0]!, 9, ...good.subarray(2)]),
      new Uint8Array([good[0]!, good[1]!, 7, ...good.subarray(3)]),
      new Uint8Array([0xcc, 1, 0, 1, 5, 1, 0]), // unknown change type
      new Uint8Array([0xcc, 1, 0, 1, 0, 0, 0]), // node id 0
      new Uint8Array([0xcc, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0]), // absurd count
    ];
    for (const data of bad) {
      expect(() => decodeConfChange(data)).toThrow(ConfChangeError);
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 30 }), (data) => {
        try {
          decodeConfChange(data);
        } catch (error) {
          expect(error).toBeInstanceOf(ConfChangeError);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses to encode an invalid node id', () => {
    for (const nodeId of [0, -1, 1.5, 2 ** 53]) {
      expect(() =>
        encodeConfChange({
          transition: 'auto',
          changes: [{ type: 'addNode', nodeId }],
          context: new Uint8Array(),
        }),
      ).toThrow(ConfChangeError);
    }
  });

  it('describes changes for logs', () => {
    expect(
      describeConfChange({
        transition: 'auto',
        changes: parse('v4 r1 l2'),
        context: new Uint8Array(),
      }),
    ).toBe('auto[add 4, remove 1, addLearner 2]');
  });
});
