// The recorded history: one entry per client operation on a register key.

/** OpKind is the register operation a client performed. */
export type OpKind = 'read' | 'write' | 'cas';

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
  /** value is what a write stores, or what a CAS stores if its compare holds. */
  readonly value?: string;
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
