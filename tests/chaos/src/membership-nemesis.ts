// The membership nemesis: etcd Cluster API changes (replace a member through a learner,
// remove a voter and add a fresh one, MoveLeader) made on a seeded random schedule while
// the other nemeses' faults come and go. It keeps the cluster model (cluster.ts) and the
// network (a proxy per new member) following the membership, and at the end checks that
// the member list reflects every acknowledged change and that removed members exited.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { MemberAddResponse } from '@raftkit/rpc/etcd';
import { type Clock, sleep } from './clock.js';
import type { Cluster, MemberExit, MemberSpec } from './cluster.js';
import { classifyMembershipError, describeError } from './etcd-client.js';
import type { Outcome } from './history.js';
import {
  type ClusterShape,
  checkMembership,
  type KnownMember,
  type ListedMember,
  listedStatus,
  type MembershipChange,
  type MembershipOpName,
  type MembershipStep,
  planMembershipOp,
  portOf,
  voterBounds,
} from './membership.js';
import type { Network } from './network.js';
import { freePorts } from './ports.js';
import type { Random } from './random.js';

/** MembershipNemesisOptions configures the membership nemesis. */
export interface MembershipNemesisOptions {
  readonly cluster: Cluster;
  readonly network: Network;
  readonly random: Random;
  readonly clock: Clock;
  /** nodes is the cluster's size at the start (and the size it returns to). */
  readonly nodes: number;
  readonly ops: readonly MembershipOpName[];
  /** gapMs is the [min, max] pause between two operations. */
  readonly gapMs?: readonly [number, number];
  /** rpcTimeoutMs is each Cluster API call's deadline. */
  readonly rpcTimeoutMs?: number;
  /** catchUpMs bounds the wait for a new member to catch up (promote retries, voter sync). */
  readonly catchUpMs?: number;
  readonly log?: (line: string) => void;
}

/** View is the membership as the leader lists it, mapped onto the run's members. */
interface View {
  readonly leader: string;
  readonly list: readonly ListedMember[];
  readonly voters: readonly string[];
  readonly learners: readonly string[];
}

/** RemovedMember is a member whose removal the run saw: when, and when its process exited. */
export interface RemovedMember {
  readonly name: string;
  /** removedAt is when the removal was acknowledged or observed (ms since the run started). */
  readonly removedAt: number;
  /** exitedAfterMs is how long its process took to exit by itself (undefined: it did not). */
  exitedAfterMs?: number;
  /** wasDown is true when no process of it was running when it was removed. */
  readonly wasDown: boolean;
}

/**
 * UnexpectedExit is a member process that exited by itself while it was a member:
 * `join` when a joiner could not reach any member to learn its id (legitimate under
 * faults; it is restarted), `crash` otherwise (a violation; also restarted).
 */
export interface UnexpectedExit {
  readonly name: string;
  /** at is ms since the run started (when the exit was noticed). */
  readonly at: number;
  readonly code: number | null;
  readonly signal: string | null;
  readonly reason: 'join' | 'crash';
  /** lastLines are the last lines of its log. */
  readonly lastLines: readonly string[];
}

/** MembershipResult is what the membership nemesis found, for report.json. */
export interface MembershipResult {
  readonly ops: readonly MembershipOpName[];
  /** operations counts the operations started, by name (`restore` finishes a cut-short one). */
  readonly operations: Readonly<Record<string, number>>;
  readonly changes: readonly MembershipChange[];
  /** finalMembers is the final member list (name, id, learner) the check used. */
  readonly finalMembers: readonly { name: string; id: string; isLearner: boolean }[];
  readonly removed: readonly RemovedMember[];
  readonly unexpectedExits: readonly UnexpectedExit[];
  /** errors are operations aborted by an error of the chaos run itself (not violations). */
  readonly errors: readonly string[];
  /** violations are acknowledged changes not reflected, stuck or unexited members, crashes. */
  readonly violations: readonly string[];
}

const IN_SYNC = /in sync with leader/;
/**
 * JOIN_FAILURE is how a joiner says it could not learn its id: no member it knows
 * answered, or the one that answered has not applied its MemberAdd yet (etcd's joiners
 * fail the same way; an operator starts them again).
 */
const JOIN_FAILURE =
  /could not get the cluster's membership|no member of cluster \S+ has the peer URLs/;
const REMOVED = /permanently removed/;
const NO_CONNECTION = /^No connection established/;
/** MAX_CRASH_RESTARTS bounds how often a crashing member is started again. */
const MAX_CRASH_RESTARTS = 3;
const NOT_LEARNER = /can only promote a learner member/;
const NOT_FOUND = /member not found/;

/** MembershipNemesis changes the membership until told to stop, recording each change. */
export class MembershipNemesis {
  /** changes is every change attempted so far. */
  readonly changes: MembershipChange[] = [];
  private readonly operations: Record<string, number> = {};
  private readonly initial: Set<string>;
  /** pending are members whose MemberAdd had an unknown outcome (not started). */
  private readonly pending = new Map<string, MemberSpec>();
  /** removalTried are members a MemberRemove with an unknown outcome was about. */
  private readonly removalTried = new Set<string>();
  private readonly promoteTried = new Set<string>();
  private readonly removed = new Map<string, RemovedMember>();
  private readonly unexpectedExits: UnexpectedExit[] = [];
  private readonly exitsSeen = new WeakSet<MemberExit>();
  private readonly errors: string[] = [];
  private nextIndex: number;
  private endMs = Number.POSITIVE_INFINITY;

  /** Creates the nemesis for a started cluster. */
  constructor(private readonly options: MembershipNemesisOptions) {
    this.initial = new Set(options.cluster.allNames());
    this.nextIndex = this.initial.size + 1;
  }

  private log(line: string): void {
    this.options.log?.(`membership: ${line}`);
  }

  private get rpcTimeoutMs(): number {
    return this.options.rpcTimeoutMs ?? 5000;
  }

  private at(ms = this.options.clock.now()): string {
    return `${(ms / 1000).toFixed(1)}s`;
  }

  /** run performs operations, separated by random gaps, until `endMs` (clock time). */
  async run(endMs: number): Promise<void> {
    const { clock, random } = this.options;
    const [gapMin, gapMax] = this.options.gapMs ?? [1000, 4000];
    this.endMs = endMs;
    while (clock.now() < endMs) {
      await sleep(Math.min(random.int(gapMin, gapMax), Math.max(0, endMs - clock.now())));
      if (clock.now() >= endMs) break;
      try {
        await this.once();
      } catch (error) {
        // A fault of the chaos run itself (e.g. a new proxy's port taken meanwhile), not
        // of the cluster: recorded, and the next operation goes on.
        this.errors.push(`${this.at()}: ${error instanceof Error ? error.message : String(error)}`);
        this.log(`operation aborted by an error of the run: ${String(error)}`);
      }
    }
  }

  private async once(): Promise<void> {
    const { nodes, ops, random } = this.options;
    const view = await this.refresh();
    if (view === undefined) {
      this.log(`no leader (or no member list) at ${this.at()}; retrying later`);
      return;
    }
    const shape: ClusterShape = { voters: view.voters.length, learners: view.learners.length };
    const plan = planMembershipOp(shape, nodes, ops, random);
    if (plan === undefined) return;
    this.operations[plan.op] = (this.operations[plan.op] ?? 0) + 1;
    this.log(
      `${plan.op} at ${this.at()} (${shape.voters} voters, ${shape.learners} learners): ${plan.steps.join(', ')}`,
    );
    const context: { added?: string } = {};
    for (const [i, step] of plan.steps.entries()) {
      if (this.options.clock.now() >= this.endMs) return;
      const current = i === 0 ? view : await this.refresh();
      if (current === undefined) {
        this.log(`no leader before ${step}; the operation stops here`);
        return;
      }
      if (!(await this.step(step, current, context))) return;
    }
  }

  private step(step: MembershipStep, view: View, context: { added?: string }): Promise<boolean> {
    switch (step) {
      case 'add-learner':
      case 'add-voter':
        return this.add(step === 'add-learner', view, context);
      case 'promote':
        return this.promote(view, context);
      case 'remove':
        return this.remove(view, context);
      default:
        return this.moveLeader(view);
    }
  }

  private record(change: MembershipChange): void {
    this.changes.push(change);
    const id = change.id === undefined ? '' : ` ${change.id}`;
    this.log(
      `${change.kind}${change.learner === true ? ' learner' : ''} ${change.member}${id} via ${change.via}: ${change.outcome}${change.error === undefined ? '' : ` (${change.error})`}`,
    );
  }

  /** via picks the member a request goes to: any member, as a client's balancer would. */
  private via(): string {
    return this.options.random.pick(this.options.cluster.names());
  }

  /**
   * refresh asks the leader for its member list and brings the model up to date with
   * it: ids are learned, a member whose unknown MemberAdd shows up is started, learner
   * flags follow promotions whose answers were lost, and a member an unknown MemberRemove
   * was about is taken as removed once the list no longer holds it.
   */
  private async refresh(): Promise<View | undefined> {
    const { cluster } = this.options;
    const leader = await cluster.leader(1000);
    if (leader === undefined) return undefined;
    let list: readonly ListedMember[];
    try {
      list = (await cluster.endpoint(leader).memberList(this.rpcTimeoutMs)).members;
    } catch {
      return undefined;
    }
    for (const [name, spec] of [...this.pending]) {
      const entry = this.entryFor(spec.proxyPort, list);
      if (entry === undefined) continue;
      this.pending.delete(name);
      this.log(`${name}, whose MemberAdd had an unknown outcome, is a member: starting it`);
      await this.startJoiner(spec, entry.isLearner ? 'learner' : 'voter', entry.ID, list);
    }
    for (const name of cluster.allNames()) {
      const role = cluster.roleOf(name);
      if (role === 'removed') continue;
      const entry = this.entryFor(cluster.spec(name).proxyPort, list);
      if (entry !== undefined) {
        if (cluster.idOf(name) === undefined) cluster.setId(name, entry.ID);
        cluster.setRole(name, entry.isLearner ? 'learner' : 'voter');
      } else if (this.removalTried.has(name)) {
        this.markRemoved(name, 'its MemberRemove had an unknown outcome and the list lacks it');
      }
    }
    this.restartExited();
    const named = (learner: boolean) =>
      cluster.names().filter((name) => {
        const entry = this.entryFor(cluster.spec(name).proxyPort, list);
        return entry !== undefined && entry.isLearner === learner;
      });
    return { leader, list, voters: named(false), learners: named(true) };
  }

  /**
   * restartExited notices members that exited by themselves (not killed by the run, not
   * removed), records why and starts them again; one that says it was removed is left
   * down until a member list shows its removal.
   */
  private restartExited(): void {
    const { cluster, clock } = this.options;
    for (const name of cluster.names()) {
      if (cluster.stateOf(name) !== 'down') continue;
      const exit = cluster.exitsOf(name).at(-1);
      if (exit === undefined || !exit.byItself || this.exitsSeen.has(exit)) continue;
      const lastLines = tailLines(cluster.logPath(name), 8);
      const text = lastLines.join('\n');
      if (REMOVED.test(text)) continue;
      this.exitsSeen.add(exit);
      const reason = JOIN_FAILURE.test(text) ? 'join' : 'crash';
      const crashes = this.unexpectedExits.filter(
        (e) => e.name === name && e.reason === 'crash',
      ).length;
      this.unexpectedExits.push({
        name,
        at: clock.now(),
        code: exit.code,
        signal: exit.signal,
        reason,
        lastLines,
      });
      if (reason === 'crash' && crashes >= MAX_CRASH_RESTARTS) {
        this.log(`${name} crashed again (${exit.code ?? exit.signal}); left down`);
        continue;
      }
      this.log(
        `${name} exited by itself (${exit.code ?? exit.signal}, ${reason === 'join' ? 'could not join yet' : 'CRASH'}); restarting it`,
      );
      cluster.startMember(name);
    }
  }

  private entryFor(proxyPort: number, list: readonly ListedMember[]): ListedMember | undefined {
    return list.find((m) => m.peerURLs.some((url) => portOf(url) === proxyPort));
  }

  private startJoiner(
    spec: MemberSpec,
    role: 'voter' | 'learner',
    id: bigint | undefined,
    list: readonly ListedMember[],
  ): Promise<void> {
    return joinMember(this.options.cluster, this.options.network, spec, role, id, list);
  }

  private async add(learner: boolean, view: View, context: { added?: string }): Promise<boolean> {
    const { cluster, clock, nodes } = this.options;
    if (learner ? view.learners.length > 0 : view.voters.length + 1 > voterBounds(nodes).max) {
      return false;
    }
    const name = `n${this.nextIndex++}`;
    const [clientPort, peerPort, proxyPort] = (await freePorts(3)) as [number, number, number];
    const spec: MemberSpec = { name, clientPort, peerPort, proxyPort };
    const via = this.via();
    const invoke = clock.now();
    let response: MemberAddResponse;
    try {
      response = await cluster
        .endpoint(via)
        .memberAdd(cluster.peerUrl(proxyPort), learner, this.rpcTimeoutMs);
    } catch (error) {
      const outcome = classifyMembershipError(error);
      this.record({
        kind: 'add',
        member: name,
        learner,
        via,
        outcome,
        invoke,
        complete: clock.now(),
        error: describeError(error),
      });
      if (outcome === 'unknown') this.pending.set(name, spec);
      return false;
    }
    const id = response.member?.ID;
    this.record({
      kind: 'add',
      member: name,
      learner,
      ...(id !== undefined ? { id: id.toString(16) } : {}),
      via,
      outcome: 'ok',
      invoke,
      complete: clock.now(),
    });
    await this.startJoiner(spec, learner ? 'learner' : 'voter', id, response.members);
    context.added = name;
    // A learner catches up while its promotion is retried; a voter must catch up before
    // an old voter may go.
    return learner ? true : await this.waitCaughtUp(name);
  }

  /**
   * waitCaughtUp waits until a new member answers Status with a leader and has applied
   * what the leader had committed when the wait began (bounded by catchUpMs and the end
   * of the run).
   */
  private async waitCaughtUp(name: string): Promise<boolean> {
    const { cluster, clock } = this.options;
    const deadline = Math.min(clock.now() + (this.options.catchUpMs ?? 30_000), this.endMs);
    let target: bigint | undefined;
    while (clock.now() < deadline) {
      if (target === undefined) {
        const leader = await cluster.leader(1000);
        if (leader !== undefined) {
          target = await cluster
            .endpoint(leader)
            .status(1000)
            .then((s) => s.raftIndex)
            .catch(() => undefined);
        }
      }
      if (target !== undefined && cluster.stateOf(name) === 'running') {
        const status = await cluster
          .endpoint(name)
          .status(1000)
          .catch(() => undefined);
        if (status !== undefined && status.leader !== 0n && status.raftAppliedIndex >= target) {
          this.log(`${name} caught up (applied ${status.raftAppliedIndex}) at ${this.at()}`);
          return true;
        }
      }
      await sleep(250);
    }
    this.log(`${name} did not catch up by ${this.at()}; the operation stops here`);
    return false;
  }

  private async promote(view: View, context: { added?: string }): Promise<boolean> {
    const { cluster, clock, nodes } = this.options;
    const learner = context.added ?? view.learners[0];
    if (learner === undefined || cluster.roleOf(learner) !== 'learner') return false;
    if (view.voters.length + 1 > voterBounds(nodes).max) return false;
    const id = cluster.idOf(learner);
    if (id === undefined) return false;
    const deadline = Math.min(clock.now() + (this.options.catchUpMs ?? 30_000), this.endMs);
    let attempts = 0;
    for (;;) {
      const via = this.via();
      const invoke = clock.now();
      attempts++;
      let outcome: Outcome;
      let error: unknown;
      try {
        await cluster.endpoint(via).memberPromote(id, this.rpcTimeoutMs);
        outcome = 'ok';
      } catch (caught) {
        error = caught;
        outcome = classifyMembershipError(caught);
      }
      const details = (error as { details?: string } | undefined)?.details ?? '';
      const base = { kind: 'promote', member: learner, id: id.toString(16), via, invoke } as const;
      if (outcome === 'ok') {
        this.record({ ...base, outcome, complete: clock.now(), attempts });
        cluster.setRole(learner, 'voter');
        return true;
      }
      if (NOT_LEARNER.test(details) && this.promoteTried.has(learner)) {
        // An earlier promotion whose answer was lost did happen.
        this.log(`${learner} is a voter already (an earlier promotion went through)`);
        cluster.setRole(learner, 'voter');
        return true;
      }
      // Not in sync yet, no connection to the member asked (it may be down or still
      // starting), or no answer: ask again (another member, perhaps) until the deadline.
      // Only the last of those is recorded; an unknown attempt always is (it may happen).
      const notYet = outcome === 'fail' && (IN_SYNC.test(details) || NO_CONNECTION.test(details));
      const retry = notYet || outcome === 'unknown';
      if (!notYet || clock.now() >= deadline) {
        this.record({
          ...base,
          outcome,
          complete: clock.now(),
          attempts,
          error: describeError(error),
        });
      }
      if (outcome === 'unknown') this.promoteTried.add(learner);
      if (!retry || clock.now() >= deadline || cluster.roleOf(learner) !== 'learner') return false;
      await sleep(500);
    }
  }

  private async remove(view: View, context: { added?: string }): Promise<boolean> {
    const { cluster, clock, nodes, random } = this.options;
    if (view.voters.length - 1 < voterBounds(nodes).min) {
      this.log(`not removing: ${view.voters.length} voters is the least allowed`);
      return false;
    }
    const candidates = view.voters.filter(
      (name) => name !== context.added && cluster.idOf(name) !== undefined,
    );
    if (candidates.length === 0) return false;
    const victim = random.pick(candidates);
    const id = cluster.idOf(victim) as bigint;
    const via = this.via();
    const invoke = clock.now();
    try {
      await cluster.endpoint(via).memberRemove(id, this.rpcTimeoutMs);
      this.record({
        kind: 'remove',
        member: victim,
        id: id.toString(16),
        via,
        outcome: 'ok',
        invoke,
        complete: clock.now(),
      });
      this.markRemoved(victim, 'MemberRemove acknowledged');
      return true;
    } catch (error) {
      const outcome = classifyMembershipError(error);
      this.record({
        kind: 'remove',
        member: victim,
        id: id.toString(16),
        via,
        outcome,
        invoke,
        complete: clock.now(),
        error: describeError(error),
      });
      if (outcome === 'unknown') this.removalTried.add(victim);
      else if (this.removalTried.has(victim) && NOT_FOUND.test(describeError(error))) {
        this.markRemoved(victim, 'an earlier MemberRemove whose answer was lost went through');
      }
      return false;
    }
  }

  private async moveLeader(view: View): Promise<boolean> {
    const { cluster, clock, random } = this.options;
    const candidates = view.voters.filter(
      (name) => name !== view.leader && cluster.idOf(name) !== undefined,
    );
    if (candidates.length === 0) return false;
    const target = random.pick(candidates);
    const id = cluster.idOf(target) as bigint;
    const invoke = clock.now();
    try {
      await cluster.endpoint(view.leader).moveLeader(id, this.rpcTimeoutMs);
      this.record({
        kind: 'move-leader',
        member: target,
        id: id.toString(16),
        via: view.leader,
        outcome: 'ok',
        invoke,
        complete: clock.now(),
      });
      return true;
    } catch (error) {
      this.record({
        kind: 'move-leader',
        member: target,
        id: id.toString(16),
        via: view.leader,
        outcome: classifyMembershipError(error),
        invoke,
        complete: clock.now(),
        error: describeError(error),
      });
      return false;
    }
  }

  /**
   * markRemoved takes a member out of the cluster model: it is never restarted, its
   * process must exit by itself (watched in the background, checked by `finish`).
   */
  private markRemoved(name: string, why: string): void {
    const { cluster, clock } = this.options;
    if (this.removed.has(name)) return;
    cluster.setRole(name, 'removed');
    const wasDown = cluster.stateOf(name) === 'down';
    const entry: RemovedMember = { name, removedAt: clock.now(), wasDown };
    this.removed.set(name, entry);
    this.log(`${name} removed at ${this.at()} (${why})${wasDown ? '; it was down' : ''}`);
    if (wasDown) return;
    const started = clock.now();
    void cluster.exited(name).then(() => {
      entry.exitedAfterMs = Math.round(clock.now() - started);
      const exit = cluster.exitsOf(name).at(-1);
      this.log(
        `${name} exited ${(entry.exitedAfterMs / 1000).toFixed(1)}s after its removal (${exit?.byItself === false ? 'killed by the run' : `code ${exit?.code ?? exit?.signal}`})`,
      );
    });
  }

  /** known lists every member the run created (pending ones too), for the check. */
  private known(): KnownMember[] {
    const { cluster } = this.options;
    const members: KnownMember[] = cluster.allNames().map((name) => {
      const id = cluster.idOf(name);
      return {
        name,
        proxyPort: cluster.spec(name).proxyPort,
        initial: this.initial.has(name),
        ...(id !== undefined ? { id } : {}),
      };
    });
    for (const [name, spec] of this.pending) {
      members.push({ name, proxyPort: spec.proxyPort, initial: false });
    }
    return members;
  }

  /**
   * finish runs after the network is healed and every member restarted: it waits for
   * the members to agree on one member list (starting members whose unknown MemberAdd
   * went through), checks the list against the changes, waits for removed members'
   * processes to exit by themselves and for every member to catch up.
   */
  async finish(timeoutMs = 60_000): Promise<MembershipResult> {
    const { cluster, clock } = this.options;
    const violations: string[] = [];
    const deadline = Date.now() + timeoutMs;
    let view: View | undefined;
    let disagreement = 'no leader';
    while (Date.now() < deadline) {
      view = await this.refresh();
      if (view === undefined) {
        disagreement = 'no leader';
        await sleep(500);
        continue;
      }
      const leaderList = describeList(view.list);
      const lists = await Promise.all(
        cluster.names().map(async (name) => {
          try {
            return {
              name,
              list: describeList((await cluster.endpoint(name).memberList(2000)).members),
            };
          } catch (error) {
            return { name, list: `unreachable (${describeError(error)})` };
          }
        }),
      );
      const differing = lists.filter((l) => l.list !== leaderList);
      if (differing.length === 0) {
        disagreement = '';
        break;
      }
      disagreement = `the leader ${view.leader} lists ${leaderList}; ${differing.map((l) => `${l.name}: ${l.list}`).join('; ')}`;
      await sleep(500);
    }
    if (disagreement !== '') {
      violations.push(
        `the members did not agree on a member list within ${timeoutMs / 1000}s: ${disagreement}`,
      );
    }
    const list = view?.list ?? [];
    const known = this.known();
    if (view !== undefined) violations.push(...checkMembership(known, this.changes, list));
    // Removed members exit by themselves once they learn of their removal.
    for (const entry of this.removed.values()) {
      if (entry.wasDown || cluster.stateOf(entry.name) === 'down') continue;
      const exited = await cluster.waitForExit(entry.name, Math.max(5000, deadline - Date.now()));
      if (!exited) {
        violations.push(
          `${entry.name} was removed at ${this.at(entry.removedAt)} but its process was still running at ${this.at()}`,
        );
      }
    }
    for (const entry of this.removed.values()) {
      const exit = cluster.exitsOf(entry.name).at(-1);
      if (entry.wasDown || exit === undefined || !exit.byItself || exit.code === 0) continue;
      // A joiner that gave up joining before it learned of its removal exits with 1.
      const lastLines = tailLines(cluster.logPath(entry.name), 8);
      if (JOIN_FAILURE.test(lastLines.join('\n'))) continue;
      violations.push(
        `${entry.name} exited with ${exit.code ?? exit.signal} after its removal (expected a clean exit): ${lastLines.slice(-2).join(' | ')}`,
      );
    }
    const crashed = new Map<string, UnexpectedExit[]>();
    for (const exit of this.unexpectedExits) {
      if (exit.reason !== 'crash') continue;
      crashed.set(exit.name, [...(crashed.get(exit.name) ?? []), exit]);
    }
    for (const [name, exits] of crashed) {
      const first = exits[0] as UnexpectedExit;
      violations.push(
        `${name} crashed ${exits.length} time(s), first noticed at ${this.at(first.at)} (exit ${first.code ?? first.signal}): ${first.lastLines.slice(-2).join(' | ')}`,
      );
    }
    // Every member in the list is running and catches up with the leader.
    if (view !== undefined) {
      const stuck = await this.waitAllCaughtUp(view, Math.max(10_000, deadline - Date.now()));
      violations.push(...stuck);
    }
    const byPort = new Map(known.map((m) => [m.proxyPort, m.name]));
    this.log(
      `final member list at ${this.at(clock.now())}: ${describeList(list)}; ${violations.length} violation(s)`,
    );
    return {
      ops: this.options.ops,
      operations: { ...this.operations },
      changes: [...this.changes],
      finalMembers: list.map((entry) => ({
        name: byPort.get(entry.peerURLs.map(portOf).find((p) => p !== undefined) ?? -1) ?? '?',
        id: entry.ID.toString(16),
        isLearner: entry.isLearner,
      })),
      removed: [...this.removed.values()],
      unexpectedExits: [...this.unexpectedExits],
      errors: [...this.errors],
      violations,
    };
  }

  private async waitAllCaughtUp(view: View, timeoutMs: number): Promise<string[]> {
    const { cluster } = this.options;
    const leaderStatus = await cluster
      .endpoint(view.leader)
      .status(2000)
      .catch(() => undefined);
    if (leaderStatus === undefined) return [];
    const target = leaderStatus.raftIndex;
    const members = this.known().filter(
      (m) => cluster.allNames().includes(m.name) && listedStatus(m, view.list) !== 'absent',
    );
    const deadline = Date.now() + timeoutMs;
    const stuck: string[] = [];
    for (const member of members) {
      let last = 'no answer';
      let ok = false;
      while (Date.now() < deadline) {
        const status = await cluster
          .endpoint(member.name)
          .status(1000)
          .catch((error: unknown) => describeError(error));
        if (typeof status === 'string') last = status;
        else if (status.leader === 0n) last = 'no leader';
        else if (status.raftAppliedIndex < target)
          last = `applied ${status.raftAppliedIndex} < ${target}`;
        else {
          ok = true;
          break;
        }
        await sleep(250);
      }
      if (!ok) {
        stuck.push(
          `${member.name} (${cluster.stateOf(member.name)}) did not catch up with the leader's commit index ${target} after healing: ${last}`,
        );
      }
    }
    return stuck;
  }
}

/**
 * joinMember starts a member that MemberAdd added: a proxy in front of its peer port,
 * then the process, joining with `--initial-cluster-state existing` and an
 * `--initial-cluster` of the listed members (MemberAdd's answer, or a member list that
 * shows it) and itself.
 */
export async function joinMember(
  cluster: Cluster,
  network: Network,
  spec: MemberSpec,
  role: 'voter' | 'learner',
  id: bigint | undefined,
  list: readonly ListedMember[],
): Promise<void> {
  const byPort = new Map(cluster.allNames().map((name) => [cluster.spec(name).proxyPort, name]));
  const initialCluster = list.flatMap((entry) => {
    const port = entry.peerURLs.map(portOf).find((p) => p !== undefined);
    if (port === undefined) return [];
    const name = port === spec.proxyPort ? spec.name : byPort.get(port);
    return [{ name: name ?? `m${entry.ID.toString(16)}`, proxyPort: port }];
  });
  if (!initialCluster.some((m) => m.name === spec.name)) {
    initialCluster.push({ name: spec.name, proxyPort: spec.proxyPort });
  }
  await network.addTarget(spec);
  cluster.addMember(spec, { role, ...(id !== undefined ? { id } : {}), initialCluster });
  cluster.startMember(spec.name);
}

function describeList(list: readonly ListedMember[]): string {
  return list
    .map((m) => `${m.ID.toString(16)}${m.isLearner ? '(learner)' : ''}`)
    .sort()
    .join(',');
}

/** tailLines is the last `count` lines of a file ('' lines dropped), read from its end. */
function tailLines(path: string, count: number): string[] {
  try {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const length = Math.min(size, 16 * 1024);
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, size - length);
      return buffer
        .toString('utf8')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .slice(-count);
    } finally {
      closeSync(fd);
    }
  } catch {
    return [];
  }
}
