// Linearizability of a register history (read / write / CAS / leasePut / revoke, see
// register-model.ts): the Wing–Gong search with Lowe's just-in-time linearization and
// memoization of (linearized set, state), run per key because linearizability is
// P-compositional (Horn & Kroening; Porcupine does the same) — a lease is only ever
// attached to one key, so lease operations stay within their key's sub-history. Unknown operations get an infinite completion time: they may be
// linearized anywhere after their invocation, or never (the search succeeds once every
// operation with a known outcome is linearized).
import type { Op } from './history.js';
import {
  INITIAL_STATE,
  type LeaseView,
  type RegisterState,
  stepRegister,
} from './register-model.js';

/** Verdict is a check's answer; `inconclusive` (out of time) is never a pass. */
export type Verdict = 'ok' | 'violation' | 'inconclusive';

/** KeyResult is the verdict for one key's sub-history. */
export interface KeyResult {
  readonly key: string;
  readonly verdict: Verdict;
  /** ops is how many operations the search considered after pruning. */
  readonly ops: number;
  /** pruned is how many fail / unknown-read / unobservable unknown ops were left out. */
  readonly pruned: number;
  /** steps is how many search steps were taken. */
  readonly steps: number;
  /**
   * For a violation: the operation that could not be linearized at the deepest point the
   * search reached, the states possible just before it, and the ops concurrent with it.
   */
  readonly stuck?: {
    readonly op: Op;
    readonly linearized: number;
    readonly states: readonly RegisterState[];
    readonly concurrent: readonly Op[];
  };
}

/** CheckResult is the verdict over every key (the worst key's verdict). */
export interface CheckResult {
  readonly verdict: Verdict;
  readonly keys: readonly KeyResult[];
}

/** CheckOptions bounds the search. */
export interface CheckOptions {
  /** timeoutMs is the budget for the whole history; keys not finished are inconclusive. */
  readonly timeoutMs?: number;
}

interface Entry {
  readonly index: number;
  readonly call: boolean;
  readonly time: number;
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

/**
 * pruneKeyHistory drops what cannot constrain the search:
 *
 * - failed operations (proved not executed) and unknown reads (no result to check);
 * - unknown revokes of a lease that an acknowledged revoke revoked: in the model two
 *   revokes of one lease cannot both take effect (the second finds no lease), so such a
 *   revoke can never be linearized;
 * - unknown revokes when no operation on the key ever observed the key absent: a revoke's
 *   only possible effect is to make the register null, and while it is null nothing could
 *   read it (no read or failed CAS saw null, and no CAS compares against null), so the
 *   next operation changing the register would have to be a blind write, a leasePut or a
 *   revoke (which at worst deletes the value in the linearization without the unknown
 *   revoke, reaching the same null) — the linearization without it is equally valid, and
 *   one lease fewer revoked only makes leasePuts and revokes of it more possible;
 * - unknown writes / CASes / leasePuts whose value nobody ever observed (no read, CAS
 *   compare, failed-CAS read or remaining revoke — a revoke tests for its leasePut's value
 *   and turns it into null, which may be observed — saw it). Leaving such a write out is
 *   always at least as permissive as placing it: while it would be the register's value
 *   nothing could read it and every remaining revoke would leave it alone, so the next
 *   operation changing the register would have to be a blind write, and the
 *   linearization without it is equally valid (revokes in between may only delete the
 *   value the write would have hidden, which the blind write then replaces).
 *
 * Each step's argument holds for the history the previous steps left, so together they
 * only ever drop operations that some valid linearization can do without.
 */
export function pruneKeyHistory(ops: readonly Op[]): Op[] {
  const live = ops.filter((op) => op.outcome !== 'fail');
  const observed = new Set<string | null>();
  const revokedByAck = new Set<string>();
  for (const op of live) {
    if (op.kind === 'read' && op.outcome === 'ok') observed.add(op.observed ?? null);
    if (op.kind === 'cas') {
      if (op.outcome === 'ok' && op.succeeded === false) observed.add(op.observed ?? null);
      else observed.add(op.expect ?? null);
    }
    if (op.kind === 'revoke' && op.outcome === 'ok' && op.lease !== undefined) {
      revokedByAck.add(op.lease);
    }
  }
  const nullObserved = observed.has(null);
  const kept = live.filter((op) => {
    if (op.kind !== 'revoke' || op.outcome === 'ok') return true;
    if (op.lease !== undefined && revokedByAck.has(op.lease)) return false;
    return nullObserved;
  });
  for (const op of kept) {
    if (op.kind === 'revoke' && op.value !== undefined) observed.add(op.value);
  }
  return kept.filter((op) => {
    if (op.outcome === 'ok' || op.kind === 'revoke') return true;
    if (op.kind === 'read') return false;
    return observed.has(op.value ?? null);
  });
}

function buildEntries(ops: readonly Op[]): Entry {
  const events: Entry[] = [];
  ops.forEach((op, index) => {
    const call: Entry = { index, call: true, time: op.invoke, match: null, prev: null, next: null };
    const ret: Entry = {
      index,
      call: false,
      time: op.outcome === 'unknown' ? Number.POSITIVE_INFINITY : op.complete,
      match: null,
      prev: null,
      next: null,
    };
    call.match = ret;
    events.push(call, ret);
  });
  // At equal times calls sort before returns: touching operations count as concurrent,
  // which can only make the check more permissive, never report a false violation.
  events.sort((a, b) => a.time - b.time || (a.call === b.call ? 0 : a.call ? -1 : 1));
  const head: Entry = {
    index: -1,
    call: false,
    time: Number.NEGATIVE_INFINITY,
    match: null,
    prev: null,
    next: null,
  };
  let last = head;
  for (const event of events) {
    last.next = event;
    event.prev = last;
    last = event;
  }
  return head;
}

function lift(entry: Entry): void {
  const match = entry.match as Entry;
  (entry.prev as Entry).next = entry.next;
  if (entry.next !== null) entry.next.prev = entry.prev;
  (match.prev as Entry).next = match.next;
  if (match.next !== null) match.next.prev = match.prev;
}

function unlift(entry: Entry): void {
  const match = entry.match as Entry;
  (match.prev as Entry).next = match;
  if (match.next !== null) match.next.prev = match;
  (entry.prev as Entry).next = entry;
  if (entry.next !== null) entry.next.prev = entry;
}

/**
 * checkKey searches for a linearization of one key's operations; `deadline` is an
 * absolute `performance.now()` after which it gives up as inconclusive.
 */
export function checkKey(key: string, allOps: readonly Op[], deadline: number): KeyResult {
  const ops = pruneKeyHistory(allOps);
  const pruned = allOps.length - ops.length;
  const head = buildEntries(ops);
  const words = Math.max(1, Math.ceil(ops.length / 32));
  const linearized = new Uint32Array(words);
  const cache = new Map<string, Set<RegisterState>>();
  const calls: { entry: Entry; state: RegisterState }[] = [];
  // The leases the revokes linearized so far revoked (a function of `linearized`).
  const revoked = new Set<string>();
  const leases: LeaseView = { revoked: (lease) => revoked.has(lease) };
  let remainingDefinite = ops.filter((op) => op.outcome === 'ok').length;
  let state: RegisterState = INITIAL_STATE;
  let entry = head.next;
  let steps = 0;
  let deepest = -1;
  let stuckIndex = -1;
  const stuckStates = new Set<RegisterState>();

  const flip = (index: number) => {
    const word = index >>> 5;
    linearized[word] = (linearized[word] as number) ^ (1 << (index & 31));
  };

  while (remainingDefinite > 0) {
    steps++;
    if ((steps & 0xfff) === 0 && performance.now() > deadline) {
      return { key, verdict: 'inconclusive', ops: ops.length, pruned, steps };
    }
    if (entry?.call) {
      const op = ops[entry.index] as Op;
      const [possible, next] = stepRegister(state, op, leases);
      if (possible) {
        flip(entry.index);
        const cacheKey = linearized.join(',');
        let states = cache.get(cacheKey);
        if (states === undefined) {
          states = new Set();
          cache.set(cacheKey, states);
        }
        if (!states.has(next)) {
          states.add(next);
          calls.push({ entry, state });
          state = next;
          lift(entry);
          if (op.kind === 'revoke' && op.lease !== undefined) revoked.add(op.lease);
          if (op.outcome === 'ok') remainingDefinite--;
          entry = head.next;
          continue;
        }
        flip(entry.index);
      }
      entry = entry.next;
      continue;
    }
    // A return (or the end): the operation it closes was not linearized before it.
    if (calls.length >= deepest && entry !== null) {
      if (calls.length > deepest) stuckStates.clear();
      deepest = calls.length;
      stuckIndex = entry.index;
      stuckStates.add(state);
    }
    const top = calls.pop();
    if (top === undefined) break;
    state = top.state;
    flip(top.entry.index);
    unlift(top.entry);
    const undone = ops[top.entry.index] as Op;
    if (undone.kind === 'revoke' && undone.lease !== undefined) revoked.delete(undone.lease);
    if (undone.outcome === 'ok') remainingDefinite++;
    entry = top.entry.next;
  }
  if (remainingDefinite === 0) return { key, verdict: 'ok', ops: ops.length, pruned, steps };
  const stuckOp = ops[stuckIndex];
  const result: KeyResult = { key, verdict: 'violation', ops: ops.length, pruned, steps };
  if (stuckOp === undefined) return result;
  const stuckEnd = stuckOp.outcome === 'unknown' ? Number.POSITIVE_INFINITY : stuckOp.complete;
  const concurrent = ops.filter(
    (op) =>
      op !== stuckOp &&
      op.invoke <= stuckEnd &&
      (op.outcome === 'unknown' ? Number.POSITIVE_INFINITY : op.complete) >= stuckOp.invoke,
  );
  return {
    ...result,
    stuck: {
      op: stuckOp,
      linearized: deepest,
      states: [...stuckStates],
      concurrent: concurrent.slice(0, 50),
    },
  };
}

/** groupByKey splits a history into per-key sub-histories, in first-seen key order. */
export function groupByKey(ops: readonly Op[]): Map<string, Op[]> {
  const byKey = new Map<string, Op[]>();
  for (const op of ops) {
    let list = byKey.get(op.key);
    if (list === undefined) {
      list = [];
      byKey.set(op.key, list);
    }
    list.push(op);
  }
  return byKey;
}

/**
 * checkLinearizable checks every key's sub-history independently (P-compositionality)
 * and returns the worst verdict: any violation, else any inconclusive key, else ok.
 */
export function checkLinearizable(ops: readonly Op[], options: CheckOptions = {}): CheckResult {
  const deadline = performance.now() + (options.timeoutMs ?? 60_000);
  const keys: KeyResult[] = [];
  for (const [key, keyOps] of groupByKey(ops)) keys.push(checkKey(key, keyOps, deadline));
  const verdict: Verdict = keys.some((k) => k.verdict === 'violation')
    ? 'violation'
    : keys.some((k) => k.verdict === 'inconclusive')
      ? 'inconclusive'
      : 'ok';
  return { verdict, keys };
}
