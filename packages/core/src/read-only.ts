import type { MsgReadIndex } from './message.js';
import type { NodeId } from './types.js';

/**
 * ReadOnlyOption chooses how a leader confirms a linearizable read.
 * - `safe` (default): ReadIndex (thesis §6.4) — the leader records its commit index and
 *   confirms it is still leader by a heartbeat round acknowledged by a quorum.
 * - `leaseBased`: the leader answers at once if it heard from a quorum within an election
 *   timeout (thesis §6.4.1). It relies on bounded clock drift between nodes: a paused or
 *   skewed leader may serve stale reads. Off by default for that reason.
 */
export type ReadOnlyOption = 'safe' | 'leaseBased';

/**
 * ReadState is a linearizable read point: once the local applied index reaches `index`,
 * the state machine may answer the read named by `context`.
 */
export interface ReadState {
  readonly index: number;
  readonly context: Uint8Array;
}

interface ReadIndexStatus {
  readonly request: MsgReadIndex;
  readonly index: number;
  readonly acks: Map<NodeId, boolean>;
}

/** contextKey turns a read context into a map key (byte-exact, cheap for short contexts). */
export function contextKey(context: Uint8Array): string {
  let key = '';
  for (let i = 0; i < context.length; i++) key += String.fromCharCode(context[i]!);
  return key;
}

/**
 * ReadOnly tracks ReadIndex requests waiting for their heartbeat quorum, in arrival order:
 * once a later request is confirmed, every earlier one is too.
 */
export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  constructor(readonly option: ReadOnlyOption) {}

  /** addRequest records a read at commit index `index` (ignored if the context is already pending). */
  addRequest(index: number, request: MsgReadIndex): void {
    const key = contextKey(request.context);
    if (this.pending.has(key)) return;
    this.pending.set(key, { request, index, acks: new Map() });
    this.queue.push(key);
  }

  /** recvAck records `id`'s heartbeat acknowledgement of `context`; returns the acks so far. */
  recvAck(id: NodeId, context: Uint8Array): ReadonlyMap<NodeId, boolean> | undefined {
    const status = this.pending.get(contextKey(context));
    if (status === undefined) return undefined;
    status.acks.set(id, true);
    return status.acks;
  }

  /**
   * advance releases the request named by `context` and every request queued before it,
   * returning them in order.
   */
  advance(context: Uint8Array): { request: MsgReadIndex; index: number }[] {
    const key = contextKey(context);
    const position = this.queue.indexOf(key);
    if (position < 0) return [];
    const released = this.queue.slice(0, position + 1);
    this.queue = this.queue.slice(position + 1);
    const result: { request: MsgReadIndex; index: number }[] = [];
    for (const releasedKey of released) {
      const status = this.pending.get(releasedKey);
      if (status === undefined) continue;
      this.pending.delete(releasedKey);
      result.push({ request: status.request, index: status.index });
    }
    return result;
  }

  /** lastPendingContext returns the newest pending request's context, if any. */
  lastPendingContext(): Uint8Array | undefined {
    const key = this.queue[this.queue.length - 1];
    return key === undefined ? undefined : this.pending.get(key)?.request.context;
  }

  /** pendingCount is the number of reads waiting for confirmation. */
  pendingCount(): number {
    return this.queue.length;
  }

  /** reset forgets every pending request (leadership lost); returns them so callers can fail them. */
  reset(): MsgReadIndex[] {
    const dropped = [...this.pending.values()].map((status) => status.request);
    this.pending.clear();
    this.queue = [];
    return dropped;
  }
}
