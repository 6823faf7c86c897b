// The sequential specification the history is checked against: one register per key,
// read / write / compare-and-set, initially absent (null).
import type { Op } from './history.js';

/** RegisterState is a key's value, or null when the key is absent. */
export type RegisterState = string | null;

/** INITIAL_STATE is every key's value before the run: absent. */
export const INITIAL_STATE: RegisterState = null;

/**
 * stepRegister applies one operation to the register: it returns whether the operation's
 * recorded result is possible in `state`, and the state after it. Unknown writes and
 * CASes are stepped as if they took effect; the checker models "never took effect" by
 * leaving them out of the linearization.
 */
export function stepRegister(state: RegisterState, op: Op): [boolean, RegisterState] {
  switch (op.kind) {
    case 'read':
      return [state === (op.observed ?? null), state];
    case 'write':
      return [true, op.value ?? null];
    case 'cas':
      if (op.outcome === 'ok' && op.succeeded === false) {
        // The compare failed and the failure branch read the value atomically.
        const observed = op.observed ?? null;
        return [state === observed && observed !== (op.expect ?? null), state];
      }
      return [state === (op.expect ?? null), op.value ?? null];
  }
}

/** hasEffect is true when an operation may change the register (writes and CASes). */
export function hasEffect(op: Op): boolean {
  return op.kind === 'write' || (op.kind === 'cas' && !(op.outcome === 'ok' && !op.succeeded));
}
