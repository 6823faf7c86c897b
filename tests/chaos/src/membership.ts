// Membership changes as a chaos run plans and checks them (pure): which operation comes
// next, the log of attempted changes, and which final member lists that log allows.
import type { Outcome } from './history.js';
import type { Random } from './random.js';

/** MEMBERSHIP_OPS names the membership operations the nemesis can pick. */
export const MEMBERSHIP_OPS = ['replace', 'remove-add', 'move-leader'] as const;

/**
 * MembershipOpName is one of MEMBERSHIP_OPS: `replace` (add a learner, promote it,
 * remove an old voter), `remove-add` (remove a voter and add a fresh one, in the order
 * the voter bounds allow), `move-leader` (MoveLeader to a random voter).
 */
export type MembershipOpName = (typeof MEMBERSHIP_OPS)[number];

/** isMembershipOpName narrows a string to a MembershipOpName. */
export function isMembershipOpName(name: string): name is MembershipOpName {
  return (MEMBERSHIP_OPS as readonly string[]).includes(name);
}

/** MembershipStep is one Cluster API (or MoveLeader) step of an operation. */
export type MembershipStep = 'add-learner' | 'add-voter' | 'promote' | 'remove' | 'move-leader';

/** MembershipPlan is the operation picked and its steps, in order. */
export interface MembershipPlan {
  /** op is `restore` when an earlier operation stopped halfway and this one completes it. */
  readonly op: MembershipOpName | 'restore';
  readonly steps: readonly MembershipStep[];
}

/**
 * voterBounds is how many voters a cluster started with `nodes` members may have:
 * between nodes-1 and nodes+1, and never fewer than 3.
 */
export function voterBounds(nodes: number): { readonly min: number; readonly max: number } {
  return { min: Math.max(3, nodes - 1), max: nodes + 1 };
}

/** ClusterShape is how many voters and learners the leader's member list holds. */
export interface ClusterShape {
  readonly voters: number;
  readonly learners: number;
}

/**
 * planMembershipOp picks the next operation. An operation cut short by a failed step
 * leaves a learner or a voter too many or too few; the next plan finishes that first
 * (promote the learner, or bring the voters back to `nodes`), which is how a failed
 * change is retried later. Otherwise it picks one of `ops` at random. Undefined when
 * `ops` is empty.
 */
export function planMembershipOp(
  shape: ClusterShape,
  nodes: number,
  ops: readonly MembershipOpName[],
  random: Random,
): MembershipPlan | undefined {
  if (ops.length === 0) return undefined;
  const { min, max } = voterBounds(nodes);
  const { voters, learners } = shape;
  if (learners > 0) {
    if (voters + 1 <= max) {
      return { op: 'restore', steps: voters + 1 > nodes ? ['promote', 'remove'] : ['promote'] };
    }
    return { op: 'restore', steps: ['remove', 'promote'] };
  }
  if (voters < nodes) {
    return {
      op: 'restore',
      steps: random.next() < 0.5 ? ['add-voter'] : ['add-learner', 'promote'],
    };
  }
  if (voters > nodes) return { op: 'restore', steps: ['remove'] };
  const op = random.pick(ops);
  switch (op) {
    case 'replace':
      return { op, steps: ['add-learner', 'promote', 'remove'] };
    case 'remove-add':
      return {
        op,
        steps: voters - 1 >= min ? ['remove', 'add-voter'] : ['add-voter', 'remove'],
      };
    default:
      return { op, steps: ['move-leader'] };
  }
}

/** MembershipChangeKind is the Cluster API call (or MoveLeader) a change was. */
export type MembershipChangeKind = 'add' | 'promote' | 'remove' | 'move-leader';

/** MembershipChange is one attempted change, as recorded in report.json. */
export interface MembershipChange {
  readonly kind: MembershipChangeKind;
  /** member is the member the change is about (for move-leader, the transferee). */
  readonly member: string;
  /** learner is whether an add added a learner. */
  readonly learner?: boolean;
  /** id is the member id in hex, when known. */
  readonly id?: string;
  /** via is the member the request went to. */
  readonly via: string;
  /** outcome is `ok` (acknowledged), `fail` (proved not to happen) or `unknown`. */
  readonly outcome: Outcome;
  /** invoke and complete are milliseconds since the run started. */
  readonly invoke: number;
  readonly complete: number;
  readonly error?: string;
  /** attempts counts the MemberPromote calls refused while the learner caught up. */
  readonly attempts?: number;
}

/** MemberStatus is where a member can stand: never added, learner, voter, or removed. */
export type MemberStatus = 'absent' | 'learner' | 'voter' | 'removed';

function applyChange(change: MembershipChange, status: MemberStatus): MemberStatus | undefined {
  switch (change.kind) {
    case 'add':
      return status === 'absent' ? (change.learner === true ? 'learner' : 'voter') : undefined;
    case 'promote':
      return status === 'learner' ? 'voter' : undefined;
    case 'remove':
      return status === 'learner' || status === 'voter' ? 'removed' : undefined;
    default:
      return status;
  }
}

/** PossibleStatuses is what a member may be after its changes, or why none fits. */
export interface PossibleStatuses {
  readonly statuses: ReadonlySet<MemberStatus>;
  /** violations are acknowledged changes no earlier history allows. */
  readonly violations: readonly string[];
}

/**
 * possibleStatuses follows one member's changes in order from `initial`: an
 * acknowledged change happened (so the member was in a status it applies to), a failed
 * one did not, and an unknown one may or may not have — a change whose answer was lost
 * may still take effect later, which these single-member transitions (add, promote,
 * remove; removed is final) allow for.
 */
export function possibleStatuses(
  initial: MemberStatus,
  changes: readonly MembershipChange[],
): PossibleStatuses {
  let statuses = new Set<MemberStatus>([initial]);
  const violations: string[] = [];
  for (const change of changes) {
    if (change.kind === 'move-leader' || change.outcome === 'fail') continue;
    const next = new Set<MemberStatus>();
    for (const status of statuses) {
      const after = applyChange(change, status);
      if (after !== undefined) next.add(after);
    }
    if (change.outcome === 'ok') {
      if (next.size === 0) {
        violations.push(
          `${change.kind} of ${change.member} at ${(change.invoke / 1000).toFixed(1)}s was acknowledged, but the member was ${[...statuses].join(' or ')}`,
        );
        continue;
      }
      statuses = next;
    } else {
      for (const status of next) statuses.add(status);
    }
  }
  return { statuses, violations };
}

/** ListedMember is a member list entry (etcd's Member, as far as the check needs it). */
export interface ListedMember {
  readonly ID: bigint;
  readonly name: string;
  readonly peerURLs: readonly string[];
  readonly isLearner: boolean;
}

/** KnownMember is a member process of the run: its name, proxy port and id if known. */
export interface KnownMember {
  readonly name: string;
  readonly proxyPort: number;
  /** initial is true for the members the cluster was started with (voters from the start). */
  readonly initial: boolean;
  readonly id?: bigint;
}

/** portOf is the port of a peer URL (each member advertises its own proxy port). */
export function portOf(url: string): number | undefined {
  try {
    const port = Number(new URL(url).port);
    return Number.isInteger(port) && port > 0 ? port : undefined;
  } catch {
    return undefined;
  }
}

/** listedStatus is where a member list puts a member: learner, voter, or absent. */
export function listedStatus(member: KnownMember, list: readonly ListedMember[]): MemberStatus {
  const entry = list.find((m) => m.peerURLs.some((url) => portOf(url) === member.proxyPort));
  if (entry === undefined) return 'absent';
  return entry.isLearner ? 'learner' : 'voter';
}

/**
 * checkMembership checks a final member list against the changes made: every member
 * must stand where its acknowledged changes put it (an unknown change may or may not
 * have happened; a removed member counts as absent), every listed member must be one
 * the run created, listed once, under the id MemberAdd answered with. Returns the
 * violations (empty when the list is consistent).
 */
export function checkMembership(
  members: readonly KnownMember[],
  changes: readonly MembershipChange[],
  list: readonly ListedMember[],
): string[] {
  const violations: string[] = [];
  const known = new Set(members.map((m) => m.proxyPort));
  const seen = new Map<number, number>();
  for (const entry of list) {
    const ports = entry.peerURLs.map(portOf);
    for (const port of ports) if (port !== undefined) seen.set(port, (seen.get(port) ?? 0) + 1);
    if (!ports.some((port) => port !== undefined && known.has(port))) {
      violations.push(
        `the member list holds ${entry.ID.toString(16)} (${entry.peerURLs.join(',')}), which the run never added`,
      );
    }
  }
  for (const member of members) {
    if ((seen.get(member.proxyPort) ?? 0) > 1) {
      violations.push(`${member.name} is listed more than once`);
    }
    const own = changes.filter((c) => c.member === member.name && c.kind !== 'move-leader');
    const possible = possibleStatuses(member.initial ? 'voter' : 'absent', own);
    violations.push(...possible.violations);
    const allowed = new Set<MemberStatus>(
      [...possible.statuses].map((status) => (status === 'removed' ? 'absent' : status)),
    );
    const actual = listedStatus(member, list);
    if (!allowed.has(actual)) {
      const history = own.map(
        (c) => `${c.kind}${c.learner === true ? '(learner)' : ''}:${c.outcome}`,
      );
      violations.push(
        `${member.name} is ${actual === 'absent' ? 'not a member' : `a ${actual}`} in the final member list, but after ${history.length === 0 ? 'no change' : history.join(', ')} it must be ${[...allowed].join(' or ')}`,
      );
    }
    const entry = list.find((m) => m.peerURLs.some((url) => portOf(url) === member.proxyPort));
    const acknowledgedId = own.find((c) => c.kind === 'add' && c.outcome === 'ok')?.id;
    if (entry !== undefined && acknowledgedId !== undefined) {
      if (entry.ID.toString(16) !== acknowledgedId) {
        violations.push(
          `${member.name} was added as ${acknowledgedId} but is listed as ${entry.ID.toString(16)}`,
        );
      }
    }
  }
  return violations;
}

/** ChangeCounts counts one kind of change by outcome. */
export interface ChangeCounts {
  ok: number;
  fail: number;
  unknown: number;
}

/** summarizeChanges counts the changes of each kind by outcome (all kinds, plus `total`). */
export function summarizeChanges(
  changes: readonly MembershipChange[],
): Record<MembershipChangeKind | 'total', ChangeCounts> {
  const zero = (): ChangeCounts => ({ ok: 0, fail: 0, unknown: 0 });
  const out: Record<MembershipChangeKind | 'total', ChangeCounts> = {
    add: zero(),
    promote: zero(),
    remove: zero(),
    'move-leader': zero(),
    total: zero(),
  };
  for (const change of changes) {
    out[change.kind][change.outcome]++;
    out.total[change.outcome]++;
  }
  return out;
}
