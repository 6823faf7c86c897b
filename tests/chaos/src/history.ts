// The recorded history: one entry per client operation on a register key.

/**
 * OpKind is the register operation a client performed: `read`, `write` (Put), `cas`
 * (compare-and-set Txn), `leasePut` (LeaseGrant of a fresh lease, then a Put attached to
 * it) or `revoke` (LeaseRevoke of the lease of one earlier leasePut on the key).
 */
export type OpKind = 'read' | 'write' | 'cas' | 'leasePut' | 'revoke';

/** LEASE_KINDS are the lease operations. */
export const LEASE_KINDS: readonly OpKind[] = ['leasePut', 'revoke'];

/**
 * Outcome is what the client knows: `ok` (acknowledged), `fail` (proved not executed)
 * or `unknown` (timed out or lost after sending: it may take effect at any point after
 * invocation, or never).
 */
export type Outcome = 'ok' | 'fail' | 'unknown';

/**
 * Op is one completed client operation. Times are milliseconds since the run started,
 * from `process.hrtime`. A register value of `null` means the key is absent.
 */
export interface Op {
  /** id is unique within a history. */
  readonly id: number;
  /** client is the logical client (process) that issued the operation. */
  readonly client: number;
  readonly key: string;
  readonly kind: OpKind;
  /**
   * value is what a write or leasePut stores, or what a CAS stores if its compare holds;
   * for a revoke, the value its lease's leasePut stored (the revoke deletes the key only
   * if it still holds that value, i.e. is still attached to the lease).
   */
  readonly value?: string;
  /**
   * lease is the lease id (decimal) a leasePut granted and attached its value to, or the
   * one a revoke revoked. Every leasePut grants its own lease, so a lease is only ever
   * attached to one key, by one put.
   */
  readonly lease?: string;
  /** expect is the value a CAS compares against. */
  readonly expect?: string;
  /**
   * observed is what a read returned, or — for a CAS whose compare failed — the value the
   * Txn's failure branch read back in the same transaction.
   */
  readonly observed?: string | null;
  /** succeeded is a CAS's `TxnResponse.succeeded` (only for an ok CAS). */
  readonly succeeded?: boolean;
  readonly outcome: Outcome;
  readonly invoke: number;
  /** complete is when the answer (or the error) arrived. */
  readonly complete: number;
  /** member is the name of the member the request went to. */
  readonly member?: string;
  /** error is the gRPC status code and details, for failed and unknown operations. */
  readonly error?: string;
}

/** OutcomeCounts counts operations by outcome. */
export interface OutcomeCounts {
  ok: number;
  fail: number;
  unknown: number;
}

/** countOutcomes counts the operations of one kind by outcome. */
export function countOutcomes(ops: readonly Op[], kind: OpKind): OutcomeCounts {
  const counts: OutcomeCounts = { ok: 0, fail: 0, unknown: 0 };
  for (const op of ops) if (op.kind === kind) counts[op.outcome]++;
  return counts;
}

/** historyToJsonl renders a history as one JSON object per line. */
export function historyToJsonl(ops: readonly Op[]): string {
  return ops.map((op) => JSON.stringify(op)).join('\n') + (ops.length > 0 ? '\n' : '');
}

/** historyFromJsonl parses what historyToJsonl wrote (blank lines are skipped). */
export function historyFromJsonl(text: string): Op[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Op);
}
