// Durability: after the cluster is healed, each key's final value must be one that could
// be last, i.e. no acknowledged write is lost.
import type { Op } from './history.js';
import { hasEffect } from './register-model.js';

/** LostWrite is an acknowledged write the final state cannot contain. */
export interface LostWrite {
  readonly key: string;
  /** finalValue is what the final read returned. */
  readonly finalValue: string | null;
  /** op is the acknowledged write that must have come after any write of finalValue. */
  readonly op: Op;
}

/**
 * checkFinalState compares each key's final value (read after healing) with the
 * history's writes: the final value must have been written by an ok or unknown write
 * (absent only if no write was acknowledged), and every acknowledged write that was
 * invoked after the latest such write completed must have been overwritten — which it
 * cannot be, so it is reported as lost.
 */
export function checkFinalState(
  ops: readonly Op[],
  finalValues: ReadonlyMap<string, string | null>,
): LostWrite[] {
  const lost: LostWrite[] = [];
  const writesByKey = new Map<string, Op[]>();
  for (const op of ops) {
    if (op.outcome === 'fail' || !hasEffect(op)) continue;
    let list = writesByKey.get(op.key);
    if (list === undefined) {
      list = [];
      writesByKey.set(op.key, list);
    }
    list.push(op);
  }
  for (const [key, writes] of writesByKey) {
    if (!finalValues.has(key)) continue;
    const finalValue = finalValues.get(key) ?? null;
    const acknowledged = writes.filter((op) => op.outcome === 'ok');
    const candidates = writes.filter((op) => (op.value ?? null) === finalValue);
    // The latest possible moment the final value was written.
    const latest = candidates.reduce(
      (max, op) => Math.max(max, op.outcome === 'unknown' ? Number.POSITIVE_INFINITY : op.complete),
      Number.NEGATIVE_INFINITY,
    );
    for (const op of acknowledged) {
      if (candidates.includes(op)) continue;
      if (finalValue === null || op.invoke > latest) lost.push({ key, finalValue, op });
    }
    if (finalValue !== null && candidates.length === 0) {
      const op = acknowledged[acknowledged.length - 1] ?? writes[writes.length - 1];
      if (op !== undefined && !lost.some((l) => l.op === op)) lost.push({ key, finalValue, op });
    }
  }
  return lost;
}
