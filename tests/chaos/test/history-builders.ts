// Hand-made histories for the checker tests: `op` fills in what a test leaves out, and
// the builders make the common operations.
import type { Op } from '../src/history.js';

let nextId = 0;

/** Spec is an operation without the fields `op` fills in (id; key, client, outcome by default). */
export type Spec = Omit<Op, 'id' | 'client' | 'key' | 'outcome'> & {
  key?: string;
  client?: number;
  outcome?: Op['outcome'];
};

/** op is an operation on key `k` by client 0, acknowledged unless said otherwise. */
export function op(spec: Spec): Op {
  return { id: nextId++, client: 0, key: 'k', outcome: 'ok', ...spec };
}

/** w is a write of `value`. */
export const w = (value: string, invoke: number, complete: number, extra: Partial<Spec> = {}) =>
  op({ kind: 'write', value, invoke, complete, ...extra });

/** r is a read that observed `observed` (null: absent). */
export const r = (
  observed: string | null,
  invoke: number,
  complete: number,
  extra: Partial<Spec> = {},
) => op({ kind: 'read', observed, invoke, complete, ...extra });
