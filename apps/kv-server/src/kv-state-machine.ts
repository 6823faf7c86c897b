import type { Entry, StateMachine } from '@raftkit/core';
import type * as pb from '@raftkit/rpc/etcd';
import { decodeWith, etcdType } from '@raftkit/rpc/etcd';
import { toMvccDelete, toMvccPut, toMvccTxn } from './etcd-mapping.js';
import { decodeKvCommand } from './kv-command.js';
import * as mvcc from './mvcc/index.js';

/** KvResult is what applying one log entry produced, handed to the proposer. */
export type KvResult =
  | { readonly kind: 'put'; readonly response: mvcc.PutResponse }
  | { readonly kind: 'deleteRange'; readonly response: mvcc.DeleteRangeResponse }
  | { readonly kind: 'txn'; readonly response: mvcc.TxnResponse }
  | { readonly kind: 'compaction'; readonly response: mvcc.CompactResponse }
  | { readonly kind: 'publish' }
  | { readonly kind: 'error'; readonly error: mvcc.MvccError }
  | { readonly kind: 'ignored' };

/** PublishedMember is what a member announced about itself through the log. */
export interface PublishedMember {
  readonly id: bigint;
  readonly name: string;
  readonly clientUrls: readonly string[];
}

// Reflected types, looked up once (the lookup is a string-keyed search).
const PUT_REQUEST = etcdType('PutRequest');
const DELETE_RANGE_REQUEST = etcdType('DeleteRangeRequest');
const TXN_REQUEST = etcdType('TxnRequest');
const COMPACTION_REQUEST = etcdType('CompactionRequest');
const MEMBER = etcdType('Member');

/** DEDUP_WINDOW is how many recent request ids the state machine remembers. */
export const DEDUP_WINDOW = 50_000;

/**
 * KvStateMachine applies committed KV commands to the MVCC store, in log order, on
 * every member alike. It remembers the results of the last DEDUP_WINDOW request ids, so
 * a retried write (same `raftkit-request-id`) is applied once and answered with the
 * first result — deterministic on every replica because it depends only on the log.
 */
export class KvStateMachine implements StateMachine<KvResult> {
  readonly store = new mvcc.MvccStore();
  readonly members = new Map<bigint, PublishedMember>();
  private readonly results = new Map<string, KvResult>();
  /** Bytes of payload applied, a rough measure of the data held (for Status). */
  appliedBytes = 0;

  apply(entries: readonly Entry[]): KvResult[] {
    const out = new Array<KvResult>(entries.length);
    for (let i = 0; i < entries.length; i++) out[i] = this.applyOne(entries[i]!);
    return out;
  }

  private applyOne(entry: Entry): KvResult {
    const command = decodeKvCommand(entry.data);
    if (command === undefined) return { kind: 'ignored' };
    this.appliedBytes += entry.data.length;
    if (command.requestId !== undefined) {
      const previous = this.results.get(command.requestId);
      if (previous !== undefined) return previous;
    }
    const result = this.execute(command.kind, command.request);
    if (command.requestId !== undefined) {
      this.results.set(command.requestId, result);
      if (this.results.size > DEDUP_WINDOW) {
        const oldest = this.results.keys().next().value as string;
        this.results.delete(oldest);
      }
    }
    return result;
  }

  private execute(kind: string, request: Uint8Array): KvResult {
    try {
      switch (kind) {
        case 'put':
          return {
            kind,
            response: this.store.put(toMvccPut(decodeWith<pb.PutRequest>(PUT_REQUEST, request))),
          };
        case 'deleteRange':
          return {
            kind,
            response: this.store.deleteRange(
              toMvccDelete(decodeWith<pb.DeleteRangeRequest>(DELETE_RANGE_REQUEST, request)),
            ),
          };
        case 'txn':
          // The API layer enforced --max-txn-ops before proposing; the log is trusted here.
          return {
            kind,
            response: this.store.txn(toMvccTxn(decodeWith<pb.TxnRequest>(TXN_REQUEST, request)), {
              maxTxnOps: Number.MAX_SAFE_INTEGER,
            }),
          };
        case 'compaction': {
          const compaction = decodeWith<pb.CompactionRequest>(COMPACTION_REQUEST, request);
          return { kind, response: this.store.compact(Number(compaction.revision ?? 0n)) };
        }
        case 'publish': {
          const member = decodeWith<pb.Member>(MEMBER, request);
          this.members.set(member.ID, {
            id: member.ID,
            name: member.name,
            clientUrls: member.clientURLs,
          });
          return { kind };
        }
        default:
          return { kind: 'ignored' };
      }
    } catch (error) {
      if (error instanceof mvcc.MvccError) return { kind: 'error', error };
      // A command that cannot even be decoded was refused by no one: it is skipped the
      // same way on every replica, so the state machines stay identical.
      return { kind: 'ignored' };
    }
  }
}
