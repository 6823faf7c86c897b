// Durability: after the cluster is healed, each key's final value must be one that could
// be last, i.e. no acknowledged write (or revocation) is lost.
import type { Op } from './history.js';
import { hasEffect, writesValue } from './register-model.js';

/** LostWrite is an acknowledged operation the final state cannot contain. */
export interface LostWrite {
  readonly key: string;
  /** finalValue is what the final read returned. */
  readonly finalValue: string | null;
  /**
   * op is the acknowledged write that must have come after any write of finalValue, or
   * the acknowledged revoke that must have deleted finalValue (its leasePut's value).
   */
  readonly op: Op;
}

/** end is the latest moment an operation can have taken effect. */
function end(op: Op): number {
  return op.outcome === 'unknown' ? Number.POSITIVE_INFINITY : op.complete;
}

/**
 * checkFinalState compares each key's final value (read after healing) with the
 * history's writes:
 *
 * - a final value must have been stored by an ok or unknown write, CAS or leasePut, and
 *   every acknowledged write invoked after the latest such store completed must have
 *   overwritten it — which it cannot have, so it is reported as lost; so is an
 *   acknowledged revoke of the final value's own lease invoked after that store
 *   completed (it must have deleted the value; revokes of other leases leave it alone);
 * - a final absent key is fine when no write was acknowledged; otherwise it needs an ok
 *   or unknown revoke R whose leasePut P (not failed) could have been the last write
 *   before R: every acknowledged write other than P must have been invoked before P
 *   could last take effect. The acknowledged writes that fail this for every candidate
 *   revoke (for the candidate leaving the fewest) are reported as lost; without any
 *   candidate, all of them are.
 */
export function checkFinalState(
  ops: readonly Op[],
  finalValues: ReadonlyMap<string, string | null>,
): LostWrite[] {
  const lost: LostWrite[] = [];
  const effectsByKey = new Map<string, Op[]>();
  for (const op of ops) {
    if (op.outcome === 'fail' || !hasEffect(op)) continue;
    let list = effectsByKey.get(op.key);
    if (list === undefined) {
      list = [];
      effectsByKey.set(op.key, list);
    }
    list.push(op);
  }
  for (const [key, effects] of effectsByKey) {
    if (!finalValues.has(key)) continue;
    const finalValue = finalValues.get(key) ?? null;
    const writes = effects.filter(writesValue);
    const acknowledged = writes.filter((op) => op.outcome === 'ok');
    if (finalValue === null) {
      for (const op of lostWhenAbsent(effects, writes, acknowledged)) {
        lost.push({ key, finalValue, op });
      }
      continue;
    }
    const candidates = writes.filter((op) => op.value === finalValue);
    // The latest possible moment the final value was written.
    const latest = candidates.reduce((max, op) => Math.max(max, end(op)), Number.NEGATIVE_INFINITY);
    for (const op of acknowledged) {
      if (candidates.includes(op)) continue;
      if (op.invoke > latest) lost.push({ key, finalValue, op });
    }
    for (const op of effects) {
      if (op.kind !== 'revoke' || op.outcome !== 'ok' || op.value !== finalValue) continue;
      if (candidates.length > 0 && op.invoke > latest) lost.push({ key, finalValue, op });
    }
    if (candidates.length === 0) {
      const op = acknowledged[acknowledged.length - 1] ?? writes[writes.length - 1];
      if (op !== undefined && !lost.some((l) => l.op === op)) lost.push({ key, finalValue, op });
    }
  }
  return lost;
}

/** lostWhenAbsent is the acknowledged writes a final absent key loses (see above). */
function lostWhenAbsent(
  effects: readonly Op[],
  writes: readonly Op[],
  acknowledged: readonly Op[],
) {
  if (acknowledged.length === 0) return [];
  let best: readonly Op[] = acknowledged;
  for (const revoke of effects) {
    if (revoke.kind !== 'revoke' || revoke.lease === undefined) continue;
    const put = writes.find((op) => op.kind === 'leasePut' && op.lease === revoke.lease);
    if (put === undefined || put.invoke > end(revoke)) continue;
    const putEnd = end(put);
    const lostHere = acknowledged.filter((op) => op !== put && op.invoke > putEnd);
    if (lostHere.length < best.length) best = lostHere;
    if (best.length === 0) break;
  }
  return best;
}
