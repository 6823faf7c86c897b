// The sequential specification the history is checked against: one register per key,
// read / write / compare-and-set / leased put / lease revocation, initially absent (null).
import type { Op } from './history.js';

/** RegisterState is a key's value, or null when the key is absent. */
export type RegisterState = string | null;

/** INITIAL_STATE is every key's value before the run: absent. */
export const INITIAL_STATE: RegisterState = null;

/**
 * LeaseView tells the model which leases the operations linearized so far have revoked.
 * Every lease is granted for one leasePut on one key, so the leases relevant to a key's
 * register are those of that key's own operations, and the revoked ones are exactly the
 * leases of the revokes linearized so far: a function of the linearized set, which keeps
 * the checker's memoization on (linearized set, register value) exact.
 */
export interface LeaseView {
  revoked(lease: string): boolean;
}

/** NO_REVOKED_LEASES is the view before any revoke. */
export const NO_REVOKED_LEASES: LeaseView = { revoked: () => false };

/**
 * stepRegister applies one operation to the register: it returns whether the operation's
 * recorded result is possible in `state` (and, for lease operations, given the leases
 * `leases` says are revoked), and the state after it. Unknown operations are stepped as
 * if they took effect; the checker models "never took effect" by leaving them out of the
 * linearization.
 *
 * A leasePut is a write of its value, possible only while its lease is not revoked (etcd
 * refuses a Put with a revoked lease: "requested lease not found"). A revoke is possible
 * only while its lease is not revoked (else etcd answers NOT_FOUND), revokes it, and
 * deletes the key if the key holds exactly its leasePut's value: values are unique, so
 * holding that value means the leasePut was the key's last write and the key is still
 * attached to the lease; a later plain write or CAS detached it, and then the revoke
 * leaves the key alone.
 */
export function stepRegister(
  state: RegisterState,
  op: Op,
  leases: LeaseView = NO_REVOKED_LEASES,
): [boolean, RegisterState] {
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
    case 'leasePut':
      return [!leaseRevoked(op, leases), op.value ?? null];
    case 'revoke':
      return [
        !leaseRevoked(op, leases),
        op.value !== undefined && state === op.value ? null : state,
      ];
  }
}

function leaseRevoked(op: Op, leases: LeaseView): boolean {
  return op.lease !== undefined && leases.revoked(op.lease);
}

/**
 * hasEffect is true when an operation may change the register: writes, leasePuts,
 * revokes (they may delete the key) and CASes not known to have failed their compare.
 */
export function hasEffect(op: Op): boolean {
  switch (op.kind) {
    case 'read':
      return false;
    case 'cas':
      return !(op.outcome === 'ok' && !op.succeeded);
    default:
      return true;
  }
}

/** writesValue is true when an operation may store its `value` (a revoke never does). */
export function writesValue(op: Op): boolean {
  return hasEffect(op) && op.kind !== 'revoke';
}
