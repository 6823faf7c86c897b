import type { Compare, RequestOp, TxnRequest, TxnResponse } from '@raftkit/rpc/etcd';
import type { KeyInput } from './bytes.js';
import { type CompareField, type CompareOperator, compare, type IntInput } from './ops.js';

type OpsInput = RequestOp | readonly RequestOp[];

function flatten(ops: readonly OpsInput[]): RequestOp[] {
  return ops.flatMap((op) =>
    Array.isArray(op) ? [...(op as readonly RequestOp[])] : [op as RequestOp],
  );
}

/**
 * TxnBuilder assembles one etcd transaction:
 * `client.txn().if('k', 'value', '=', 'v').then(Op.put('k', 'w')).else(Op.get('k')).commit()`.
 * Guards are ANDed; `commit()` sends the transaction.
 */
export class TxnBuilder {
  readonly #compares: Compare[] = [];
  readonly #success: RequestOp[] = [];
  readonly #failure: RequestOp[] = [];
  readonly #commit: (request: TxnRequest) => Promise<TxnResponse>;

  constructor(commit: (request: TxnRequest) => Promise<TxnResponse>) {
    this.#commit = commit;
  }

  /** if adds a guard on a key's value, version, create/mod revision or lease. */
  if(
    key: KeyInput,
    field: CompareField,
    operator: CompareOperator,
    operand: KeyInput | IntInput,
    options: { rangeEnd?: KeyInput } = {},
  ): this {
    this.#compares.push(compare(key, field, operator, operand, options));
    return this;
  }

  /** ifCompare adds an already built guard (see `compare`). */
  ifCompare(...compares: Compare[]): this {
    this.#compares.push(...compares);
    return this;
  }

  /**
   * then adds operations to run when every guard holds. (The name is etcd3-style; in
   * plain JavaScript an accidental `await builder` calls it with functions, and the
   * builder then commits rather than hang. TypeScript refuses such an `await`: call
   * `commit()`.)
   */
  // biome-ignore lint/suspicious/noThenProperty: the builder's documented etcd3-style API.
  then(...ops: OpsInput[]): this {
    const args: unknown[] = ops;
    if (args.length > 0 && args.every((arg) => typeof arg === 'function' || arg == null)) {
      const [onFulfilled, onRejected] = args as [
        ((value: TxnResponse) => unknown) | undefined,
        ((reason: unknown) => unknown) | undefined,
      ];
      void this.commit().then(onFulfilled, onRejected);
      return this;
    }
    this.#success.push(...flatten(ops));
    return this;
  }

  /** else adds operations to run when a guard fails. */
  else(...ops: OpsInput[]): this {
    this.#failure.push(...flatten(ops));
    return this;
  }

  /** request is the TxnRequest built so far. */
  request(): TxnRequest {
    return {
      compare: [...this.#compares],
      success: [...this.#success],
      failure: [...this.#failure],
    };
  }

  /** commit sends the transaction. */
  commit(): Promise<TxnResponse> {
    return this.#commit(this.request());
  }
}
