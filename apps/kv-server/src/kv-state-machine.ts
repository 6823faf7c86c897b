import { crc32 } from 'node:zlib';
import { ClusterInfo, type MemberSpec, MembershipError, NODE_ID_MASK } from '@raftkit/config';
import type { ConfChange, Entry, Snapshot, StateMachine } from '@raftkit/core';
import { emptyConfState } from '@raftkit/core';
import type * as pb from '@raftkit/rpc/etcd';
import { decodeWith, encodeWith, etcdType } from '@raftkit/rpc/etcd';
import { toMvccDelete, toMvccPut, toMvccTxn } from './etcd-mapping.js';
import { decodeKvCommand } from './kv-command.js';
import { LeaseError, LeaseTable, MAX_LEASE_TTL } from './lease/lease-table.js';
import * as mvcc from './mvcc/index.js';

/** KvResult is what applying one log entry produced, handed to the proposer. */
export type KvResult =
  | { readonly kind: 'put'; readonly response: mvcc.PutResponse }
  | { readonly kind: 'deleteRange'; readonly response: mvcc.DeleteRangeResponse }
  | { readonly kind: 'txn'; readonly response: mvcc.TxnResponse }
  | { readonly kind: 'compaction'; readonly response: mvcc.CompactResponse }
  | { readonly kind: 'publish' }
  | { readonly kind: 'memberUpdate'; readonly error?: MembershipError }
  | {
      readonly kind: 'leaseGrant';
      readonly id: bigint;
      readonly ttl: number;
      readonly revision: number;
    }
  /** revision: the store revision after the lease's keys were deleted. */
  | { readonly kind: 'leaseRevoke'; readonly revision: number }
  /**
   * A retried write whose first result was applied before the snapshot this member
   * restored from: it was applied once, at `revision`; the details are not kept.
   */
  | { readonly kind: 'duplicate'; readonly revision: number }
  | { readonly kind: 'error'; readonly error: mvcc.MvccError | LeaseError }
  | { readonly kind: 'ignored' };

// Reflected types, looked up once (the lookup is a string-keyed search).
const PUT_REQUEST = etcdType('PutRequest');
const DELETE_RANGE_REQUEST = etcdType('DeleteRangeRequest');
const TXN_REQUEST = etcdType('TxnRequest');
const COMPACTION_REQUEST = etcdType('CompactionRequest');
const MEMBER = etcdType('Member');
const LEASE_GRANT_REQUEST = etcdType('LeaseGrantRequest');
const LEASE_REVOKE_REQUEST = etcdType('LeaseRevokeRequest');

/** SNAPSHOT_VERSION: 3 added the leases; images of version 2 (no leases) still restore. */
const SNAPSHOT_VERSION = 3;
const encoder = new TextEncoder();

function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

/** resultRevision is the store revision a write was applied at (0 for non-writes). */
function resultRevision(result: KvResult): number {
  switch (result.kind) {
    case 'put':
    case 'deleteRange':
    case 'txn':
    case 'compaction':
      return result.response.revision;
    case 'duplicate':
    case 'leaseGrant':
    case 'leaseRevoke':
      return result.revision;
    default:
      return 0;
  }
}

/** withLeases wires a store to the lease table: puts check leases, attachments follow. */
function withLeases(store: mvcc.MvccStore, leases: LeaseTable): mvcc.MvccStore {
  store.leaseExists = (id) => leases.has(id);
  store.onLeaseChange = (changes) => leases.applyChanges(changes);
  return store;
}

/** SNAPSHOT_SLICE_KEYS is how many keys a snapshot encodes between two yields to the event loop. */
const SNAPSHOT_SLICE_KEYS = 2000;

/** yieldToEventLoop lets pending I/O and timers run (a macrotask boundary). */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** PinnedState is what an image holds besides the MVCC store, copied at capture time. */
interface PinnedState {
  readonly members: readonly Uint8Array[];
  readonly removed: readonly bigint[];
  readonly results: readonly (readonly [string, number])[];
  readonly leases: readonly (readonly [bigint, number])[];
}

/** DEDUP_WINDOW is how many recent request ids the state machine remembers. */
export const DEDUP_WINDOW = 50_000;

/** KvStateMachineOptions configure a KvStateMachine. */
export interface KvStateMachineOptions {
  /**
   * cluster is the membership this state machine keeps (replicated through the log and
   * carried in snapshots). Default: an empty one.
   */
  readonly cluster?: ClusterInfo;
  /**
   * awaitingSnapshot makes `apply` refuse entries until a snapshot was restored: a
   * member's state starts from a snapshot (the cluster's initial one, or one sent by
   * the leader to a joining member), never from an empty membership.
   */
  readonly awaitingSnapshot?: boolean;
  /** onMembershipError reports a membership change the log asked for but the membership refused. */
  readonly onMembershipError?: (error: unknown, what: string) => void;
}

/**
 * KvStateMachine applies committed KV commands to the MVCC store, in log order, on
 * every member alike. It remembers the results of the last DEDUP_WINDOW request ids, so
 * a retried write (same `raftkit-request-id`) is applied once and answered with the
 * first result — deterministic on every replica because it depends only on the log.
 *
 * It also keeps the leases (a LeaseTable: ids, TTLs, attached keys) and the cluster's
 * membership (a ClusterInfo): members added, promoted and
 * removed by configuration changes (whose context is an etcd `Member`), peer URLs
 * changed by MemberUpdate commands, names and client URLs published by the members
 * themselves. The membership is part of every snapshot, so it is exactly the
 * membership of the applied log prefix on every replica.
 */
export class KvStateMachine implements StateMachine<KvResult> {
  /** leases are the granted leases and their keys (replicated; expiry is the leader's). */
  readonly leases = new LeaseTable();
  store = withLeases(new mvcc.MvccStore(), this.leases);
  readonly cluster: ClusterInfo;
  private readonly results = new Map<string, KvResult>();
  private awaitingSnapshot: boolean;
  private readonly onMembershipError: (error: unknown, what: string) => void;
  /** Bytes of payload applied, a rough measure of the data held (for Status). */
  appliedBytes = 0;

  constructor(options: KvStateMachineOptions = {}) {
    this.cluster = options.cluster ?? new ClusterInfo({ clusterId: 0n, members: [] });
    this.awaitingSnapshot = options.awaitingSnapshot ?? false;
    this.onMembershipError = options.onMembershipError ?? (() => {});
  }

  /**
   * initialImage is the snapshot every member of a new cluster starts from: an empty
   * store and the initial members (the same bytes on every member).
   */
  static initialImage(members: readonly MemberSpec[]): Uint8Array {
    const cluster = new ClusterInfo({ clusterId: 0n, members });
    return new KvStateMachine({ cluster }).snapshot();
  }

  /**
   * imageForNewCluster is the initial snapshot of a new cluster bootstrapped from a
   * backup's image: the backup's store and leases, with `members` as the membership (no
   * removed ids) and no remembered request ids (they were another cluster's clients').
   * Throws MvccError ErrCorruptSnapshot for an image that does not restore.
   */
  static imageForNewCluster(image: Uint8Array, members: readonly MemberSpec[]): Uint8Array {
    const machine = new KvStateMachine({ awaitingSnapshot: true });
    machine.restore({ metadata: { index: 1, term: 1, confState: emptyConfState() }, data: image });
    machine.cluster.reset(members, []);
    machine.results.clear();
    return machine.snapshot();
  }

  /**
   * hash is a CRC-32 of the whole applied state — the key-value history (the store's
   * HashKV at its current revision), the leases with their TTLs and keys, and the
   * membership (members, learners, peer URLs, removed ids) — in a fixed order, so two
   * members that applied the same log prefix agree on it (etcd's Maintenance.Hash, which
   * hashes its whole backend).
   */
  hash(): number {
    const parts: Uint8Array[] = [];
    const number = (value: bigint) => {
      const bytes = Buffer.alloc(8);
      bytes.writeBigInt64BE(BigInt.asIntN(64, value));
      parts.push(bytes);
    };
    const text = (value: string) => {
      const bytes = Buffer.from(value, 'utf8');
      number(BigInt(bytes.length));
      parts.push(bytes);
    };
    const kv = this.store.hashKV();
    number(BigInt(kv.hash));
    number(BigInt(kv.revision));
    number(BigInt(kv.compactRevision));
    const leases = this.leases.entries().sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    number(BigInt(leases.length));
    for (const [id, ttl] of leases) {
      number(id);
      number(BigInt(ttl));
      const keys = [...(this.leases.get(id)?.keys ?? [])].sort();
      number(BigInt(keys.length));
      for (const key of keys) text(key);
    }
    const members = this.cluster
      .members()
      .slice()
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    number(BigInt(members.length));
    for (const member of members) {
      number(member.id);
      text(member.name);
      number(member.isLearner ? 1n : 0n);
      text(member.peerUrls.join(','));
      text(member.clientUrls.join(','));
    }
    const removed = this.cluster.removedIds();
    number(BigInt(removed.length));
    for (const id of removed) number(id);
    let crc = 0;
    for (const part of parts) crc = crc32(part, crc);
    return crc >>> 0;
  }

  /**
   * applyConfChange applies a committed configuration change to the membership, in log
   * order (RaftNode's onConfChange). Each single change's context is the etcd `Member`
   * it concerns; leaving a joint configuration changes no member.
   */
  applyConfChange(cc: ConfChange): void {
    if (cc.changes.length === 0) return;
    const member = cc.context.length === 0 ? undefined : decodeWith<pb.Member>(MEMBER, cc.context);
    for (const change of cc.changes) {
      const id =
        member !== undefined &&
        Number(BigInt.asUintN(64, member.ID) & NODE_ID_MASK) === change.nodeId
          ? member.ID
          : this.cluster.member(change.nodeId)?.id;
      try {
        switch (change.type) {
          case 'addNode': {
            const existing = this.cluster.member(change.nodeId);
            if (existing?.isLearner === true) this.cluster.promoteMember(existing.id);
            else if (existing === undefined && id !== undefined && member !== undefined)
              this.cluster.addMember({ id, peerUrls: member.peerURLs, name: member.name });
            else throw new Error(`no member to add for node ${change.nodeId}`);
            break;
          }
          case 'addLearnerNode':
            if (id === undefined || member === undefined) {
              throw new Error(`no member to add for node ${change.nodeId}`);
            }
            this.cluster.addMember({
              id,
              peerUrls: member.peerURLs,
              name: member.name,
              isLearner: true,
            });
            break;
          case 'removeNode':
            this.cluster.removeMember(change.nodeId);
            break;
        }
      } catch (error) {
        this.onMembershipError(error, `${change.type} ${change.nodeId}`);
      }
    }
  }

  apply(entries: readonly Entry[]): KvResult[] {
    if (this.awaitingSnapshot && entries.length > 0) {
      throw new mvcc.MvccError('ErrCorruptSnapshot');
    }
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

  /**
   * snapshot is the state machine's image: the MVCC store, the membership (members and
   * removed ids), the recent request ids (with the revision each was applied at) and the
   * leases (id and TTL; their keys are found again in the store), in a versioned binary
   * format (`RKSM`, version 3).
   */
  snapshot(): Uint8Array {
    return this.assemble(this.store.serialize(), this.pinOthers());
  }

  /**
   * captureSnapshot pins the state now and returns the function that produces its image
   * (the same bytes `snapshot` would have given now) while later entries are applied:
   * the MVCC store is encoded from a capture in slices of keys, yielding to the event
   * loop between them, so a big store never blocks the member for long (core's
   * StateMachine.captureSnapshot).
   */
  captureSnapshot(): () => Promise<Uint8Array> {
    const capture = this.store.capture();
    const others = this.pinOthers();
    return async () => {
      try {
        const encoding = capture.encode(SNAPSHOT_SLICE_KEYS);
        let step = encoding.next();
        while (step.done !== true) {
          await yieldToEventLoop();
          step = encoding.next();
        }
        return this.assemble(step.value, others);
      } finally {
        capture.release();
      }
    };
  }

  /** pinOthers copies what the image holds besides the store: the membership and request ids. */
  private pinOthers(): PinnedState {
    return {
      members: this.cluster.members().map((member) =>
        encodeWith(MEMBER, {
          ID: member.id,
          name: member.name,
          peerURLs: [...member.peerUrls],
          clientURLs: [...member.clientUrls],
          isLearner: member.isLearner,
        }),
      ),
      removed: this.cluster.removedIds(),
      results: [...this.results].map(([id, result]) => [id, resultRevision(result)] as const),
      leases: this.leases.entries(),
    };
  }

  private assemble(store: Uint8Array, pinned: PinnedState): Uint8Array {
    const parts: Uint8Array[] = [];
    const header = new Uint8Array(5);
    header.set([0x52, 0x4b, 0x53, 0x4d, SNAPSHOT_VERSION]);
    parts.push(header);
    const putBlock = (bytes: Uint8Array) => {
      parts.push(u32(bytes.length), bytes);
    };
    putBlock(store);
    parts.push(u32(pinned.members.length));
    for (const member of pinned.members) putBlock(member);
    parts.push(u32(pinned.removed.length));
    for (const id of pinned.removed) {
      const bytes = new Uint8Array(8);
      new DataView(bytes.buffer).setBigUint64(0, id);
      parts.push(bytes);
    }
    parts.push(u32(pinned.results.length));
    for (const [id, revision] of pinned.results) {
      putBlock(encoder.encode(id));
      parts.push(u32(revision));
    }
    parts.push(u32(pinned.leases.length));
    for (const [id, ttl] of pinned.leases) {
      const bytes = new Uint8Array(16);
      const view = new DataView(bytes.buffer);
      view.setBigInt64(0, id);
      view.setBigInt64(8, BigInt(ttl));
      parts.push(bytes);
    }
    let length = 0;
    for (const part of parts) length += part.length;
    const out = new Uint8Array(length);
    let offset = 0;
    for (const part of parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }

  /** restore replaces the whole state by a snapshot's image (see `snapshot`). */
  restore(snapshot: Snapshot): void {
    const data = snapshot.data;
    if (
      data.length < 5 ||
      data[0] !== 0x52 ||
      data[1] !== 0x4b ||
      data[2] !== 0x53 ||
      data[3] !== 0x4d
    ) {
      throw new mvcc.MvccError('ErrCorruptSnapshot');
    }
    const version = data[4];
    if (version !== SNAPSHOT_VERSION && version !== 2) {
      throw new mvcc.MvccError('ErrCorruptSnapshot');
    }
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let offset = 5;
    const readU32 = () => {
      if (offset + 4 > data.length) throw new mvcc.MvccError('ErrCorruptSnapshot');
      const value = view.getUint32(offset);
      offset += 4;
      return value;
    };
    const readBlock = () => {
      const length = readU32();
      if (offset + length > data.length) throw new mvcc.MvccError('ErrCorruptSnapshot');
      const block = data.subarray(offset, offset + length);
      offset += length;
      return block;
    };
    const store = mvcc.MvccStore.deserialize(readBlock());
    const members: MemberSpec[] = [];
    for (let count = readU32(); count > 0; count--) {
      const member = decodeWith<pb.Member>(MEMBER, readBlock());
      members.push({
        id: member.ID,
        name: member.name,
        peerUrls: member.peerURLs,
        clientUrls: member.clientURLs,
        isLearner: member.isLearner,
      });
    }
    const removed: bigint[] = [];
    for (let count = readU32(); count > 0; count--) {
      if (offset + 8 > data.length) throw new mvcc.MvccError('ErrCorruptSnapshot');
      removed.push(view.getBigUint64(offset));
      offset += 8;
    }
    const results = new Map<string, KvResult>();
    for (let count = readU32(); count > 0; count--) {
      const id = new TextDecoder().decode(readBlock());
      results.set(id, { kind: 'duplicate', revision: readU32() });
    }
    const leases: [bigint, number][] = [];
    const seen = new Set<bigint>();
    if (version >= 3) {
      for (let count = readU32(); count > 0; count--) {
        if (offset + 16 > data.length) throw new mvcc.MvccError('ErrCorruptSnapshot');
        const id = view.getBigInt64(offset);
        const ttl = view.getBigInt64(offset + 8);
        if (id === 0n || ttl < 1n || ttl > BigInt(MAX_LEASE_TTL) || seen.has(id)) {
          throw new mvcc.MvccError('ErrCorruptSnapshot');
        }
        seen.add(id);
        leases.push([id, Number(ttl)]);
        offset += 16;
      }
    }
    if (offset !== data.length) throw new mvcc.MvccError('ErrCorruptSnapshot');
    try {
      this.cluster.reset(members, removed);
    } catch {
      throw new mvcc.MvccError('ErrCorruptSnapshot');
    }
    store.onCommit = this.store.onCommit; // watchers move to the new store (watch-hub.ts)
    this.store = withLeases(store, this.leases);
    this.leases.reset(leases, (fn) => store.forEachLeasedKey(fn));
    store.onCommit?.(store.revision, []); // ...and hear of the replacement
    this.awaitingSnapshot = false;
    this.results.clear();
    for (const [id, result] of results) this.results.set(id, result);
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
          // A member removed before its publish was applied has nothing to update.
          if (this.cluster.isMember(member.ID)) {
            this.cluster.updateMember(member.ID, {
              name: member.name,
              clientUrls: member.clientURLs,
            });
          }
          return { kind };
        }
        case 'leaseGrant': {
          const grant = decodeWith<pb.LeaseGrantRequest>(LEASE_GRANT_REQUEST, request);
          const id = grant.ID ?? 0n;
          const ttl = grant.TTL ?? 0n;
          // The proposer chose a non-zero id and a TTL of at least the minimum.
          if (id === 0n || ttl < 1n) return { kind: 'ignored' };
          if (ttl > BigInt(MAX_LEASE_TTL)) throw new LeaseError('ttlTooLarge');
          this.leases.grant(id, Number(ttl));
          return { kind, id, ttl: Number(ttl), revision: this.store.revision };
        }
        case 'leaseRevoke': {
          const revoke = decodeWith<pb.LeaseRevokeRequest>(LEASE_REVOKE_REQUEST, request);
          const lease = this.leases.get(revoke.ID ?? 0n);
          if (lease === undefined) throw new LeaseError('notFound');
          // The keys go in one write txn (one revision), then the lease (etcd's Revoke),
          // in key order: the order of attachment differs between a member that applied
          // the puts and one restored from a snapshot, and watchers must see the same
          // delete events on every member (latin1 key strings sort like the bytes).
          const keys = [...lease.keys].sort();
          const revision = this.store.deleteKeys(keys.map(mvcc.keyStringToBytes));
          this.leases.revoke(lease.id);
          return { kind, revision };
        }
        case 'memberUpdate': {
          const member = decodeWith<pb.Member>(MEMBER, request);
          try {
            this.cluster.updateMember(member.ID, { peerUrls: member.peerURLs });
            return { kind };
          } catch (error) {
            if (error instanceof MembershipError) return { kind, error };
            throw error;
          }
        }
        default:
          return { kind: 'ignored' };
      }
    } catch (error) {
      if (error instanceof mvcc.MvccError || error instanceof LeaseError) {
        return { kind: 'error', error };
      }
      // A command that cannot even be decoded was refused by no one: it is skipped the
      // same way on every replica, so the state machines stay identical.
      return { kind: 'ignored' };
    }
  }
}
