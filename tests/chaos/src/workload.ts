// The client workload: concurrent clients doing linearizable reads, writes,
// compare-and-sets, leased puts and lease revocations on a small, rotating key set,
// every operation recorded.
import { type Clock, sleep } from './clock.js';
import { classifyError, describeError, type EtcdEndpoint, isLeaseNotFound } from './etcd-client.js';
import type { Op, OpKind, Outcome } from './history.js';
import type { Random } from './random.js';

/** WorkloadOptions configures the clients. */
export interface WorkloadOptions {
  /** endpoints returns the client for a member (see Cluster.endpoint). */
  readonly endpoint: (name: string) => EtcdEndpoint;
  /**
   * members lists the members clients may ask, as the cluster model knows them now
   * (membership changes add and remove members during the run).
   */
  readonly members: () => readonly string[];
  readonly clients: number;
  /** keys is how many keys are in use at once. */
  readonly keys: number;
  /**
   * opsPerKey retires a key after this many invocations and moves to a fresh one, which
   * keeps each key's sub-history small enough to check (as Jepsen's independent keys).
   */
  readonly opsPerKey: number;
  readonly timeoutMs: number;
  readonly keyPrefix: string;
  readonly random: Random;
  readonly clock: Clock;
  /**
   * leaseOps is the share of operations that are lease operations (0 to 0.5, default
   * DEFAULT_LEASE_OPS), 4/7 of them leasePuts and 3/7 revokes, taken from the writes and
   * CASes (reads stay at half).
   */
  readonly leaseOps?: number;
  /** leaseTtlSec is the TTL of every lease granted; it must outlast the run. */
  readonly leaseTtlSec?: number;
}

/** DEFAULT_LEASE_OPS is the default share of lease operations: 8 % leasePut, 6 % revoke. */
export const DEFAULT_LEASE_OPS = 0.14;

/** DEFAULT_LEASE_TTL_SEC is the default lease TTL: nothing expires during a run. */
export const DEFAULT_LEASE_TTL_SEC = 3600;

/**
 * LeaseRecord is a lease a leasePut was granted: its id, the value its put stores and
 * what the client knows about it so far.
 */
export interface LeaseRecord {
  readonly id: bigint;
  readonly value: string;
  /** put is the leased put's outcome, once it is known. */
  put?: Outcome;
  /** revoked: a revoke of this lease was acknowledged. */
  revoked: boolean;
  /** gone: a revoke found no such lease (so revoking it again is pointless). */
  gone: boolean;
}

/** FINAL_CLIENT is the client id of the reads done after healing. */
export const FINAL_CLIENT = -1;

/** Workload runs the clients and collects the history. */
export class Workload {
  /** ops is the history so far, in completion order. */
  readonly ops: Op[] = [];
  private readonly slots: { generation: number; invocations: number }[];
  private readonly lastSeen = new Map<string, string>();
  /** lastLease is each key's latest leasePut whose lease was granted. */
  private readonly lastLease = new Map<string, LeaseRecord>();
  private readonly keysUsed = new Set<string>();
  private nextId = 0;
  private stopped = false;
  private running: Promise<void>[] = [];

  /** Creates the workload (no operation runs until `start`). */
  constructor(private readonly options: WorkloadOptions) {
    this.slots = Array.from({ length: options.keys }, () => ({ generation: 0, invocations: 0 }));
  }

  /** keys lists every key an operation touched. */
  keys(): string[] {
    return [...this.keysUsed];
  }

  /** start launches the clients. */
  start(): void {
    for (let client = 0; client < this.options.clients; client++) {
      this.running.push(this.client(client));
    }
  }

  /** stop lets every client finish its operation in flight (bounded by the deadline). */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.running);
    this.running = [];
  }

  private nextKey(): string {
    const { random, keyPrefix, opsPerKey } = this.options;
    const index = random.int(0, this.slots.length - 1);
    const slot = this.slots[index] as { generation: number; invocations: number };
    if (slot.invocations >= opsPerKey) {
      slot.generation++;
      slot.invocations = 0;
    }
    slot.invocations++;
    const key = `${keyPrefix}${index}.${slot.generation}`;
    this.keysUsed.add(key);
    return key;
  }

  private async client(client: number): Promise<void> {
    const { random, members } = this.options;
    let member = random.pick(members());
    let seq = 0;
    while (!this.stopped) {
      const current = members();
      if (current.length === 0) {
        await sleep(100);
        continue;
      }
      // The member asked last may have been removed from the cluster meanwhile.
      if (!current.includes(member)) member = random.pick(current);
      const key = this.nextKey();
      const expect = this.lastSeen.get(key);
      let kind = this.chooseKind(random.next(), expect !== undefined);
      let lease: LeaseRecord | undefined;
      if (kind === 'revoke') {
        // The lease of the key's latest leasePut, unless it is known to be revoked already.
        lease = this.lastLease.get(key);
        if (lease === undefined || lease.revoked || lease.gone) {
          lease = undefined;
          kind = expect === undefined || random.next() < 0.5 ? 'write' : 'cas';
        }
      }
      const value = lease?.value ?? `${client}-${seq++}`;
      // Mostly sticky, but one operation in ten goes to any member, so a minority-side
      // member keeps being asked even when clients have moved away from it.
      const to = random.next() < 0.1 ? random.pick(current) : member;
      const op = await this.perform(client, to, key, kind, value, expect, lease);
      if (op.outcome !== 'ok') {
        // Like an etcd client's balancer: try another member after an error.
        const now = members();
        member = random.pick(now.length > 0 ? now : current);
        await sleep(random.int(10, 100));
      }
    }
  }

  /**
   * chooseKind maps a roll in [0, 1) to an operation: reads half the time, then
   * leasePuts and revokes (their share, `leaseOps`), then writes and CASes evenly (a
   * CAS needs a value to compare with; without one it is a write).
   */
  private chooseKind(roll: number, canCas: boolean): OpKind {
    if (roll < 0.5) return 'read';
    const share = Math.min(0.5, Math.max(0, this.options.leaseOps ?? DEFAULT_LEASE_OPS));
    const leasePuts = (share * 4) / 7;
    const x = roll - 0.5;
    if (x < leasePuts) return 'leasePut';
    if (x < share) return 'revoke';
    return x - share < (0.5 - share) / 2 || !canCas ? 'write' : 'cas';
  }

  /**
   * perform runs one operation against a member and records it. A leasePut grants a
   * lease and puts `value` attached to it: a failed grant (whatever the error) fails the
   * operation, which has then touched no key; otherwise the put's outcome is the
   * operation's. A revoke revokes `lease` (whose leasePut stored `value`); a NOT_FOUND
   * answer is a `fail` only when it provably changed nothing — a revoke of the lease was
   * acknowledged (etcd cannot revoke a lease twice, so this one found it gone), or the
   * leased put provably never happened (no key is attached to the lease) — and is
   * classified like any other error otherwise.
   */
  async perform(
    client: number,
    member: string,
    key: string,
    kind: OpKind,
    value: string,
    expect: string | undefined,
    lease?: LeaseRecord,
  ): Promise<Op> {
    const { clock, timeoutMs } = this.options;
    if (kind === 'revoke' && lease === undefined)
      throw new Error('workload: revoke without a lease');
    const endpoint = this.options.endpoint(member);
    const id = this.nextId++;
    const invoke = clock.now();
    let outcome: Outcome = 'ok';
    let error: string | undefined;
    let observed: string | null | undefined;
    let succeeded: boolean | undefined;
    let leaseId: bigint | undefined = lease?.id;
    let granted: LeaseRecord | undefined;
    try {
      if (kind === 'leasePut') {
        try {
          leaseId = await endpoint.leaseGrant(
            this.options.leaseTtlSec ?? DEFAULT_LEASE_TTL_SEC,
            timeoutMs,
          );
        } catch (caught) {
          // No lease, so nothing was put: the operation had no effect on the key.
          outcome = 'fail';
          error = `LeaseGrant: ${describeError(caught)}`;
        }
        if (leaseId !== undefined) {
          granted = { id: leaseId, value, revoked: false, gone: false };
          this.lastLease.set(key, granted);
          await endpoint.put(key, value, timeoutMs, leaseId);
          this.remember(key, value);
        }
      } else if (kind === 'revoke' && lease !== undefined) {
        try {
          await endpoint.leaseRevoke(lease.id, timeoutMs);
        } catch (caught) {
          if (isLeaseNotFound(caught)) {
            lease.gone = true;
            if (lease.revoked || lease.put === 'fail') {
              outcome = 'fail';
              error = describeError(caught);
            } else throw caught;
          } else throw caught;
        }
        if (outcome === 'ok') {
          lease.revoked = true;
          if (this.lastSeen.get(key) === value) this.lastSeen.delete(key);
        }
      } else if (kind === 'read') {
        observed = await endpoint.get(key, timeoutMs);
        this.remember(key, observed);
      } else if (kind === 'write') {
        await endpoint.put(key, value, timeoutMs);
        this.remember(key, value);
      } else {
        const result = await endpoint.cas(key, expect ?? '', value, timeoutMs);
        succeeded = result.succeeded;
        if (!result.succeeded) observed = result.observed;
        this.remember(key, result.succeeded ? value : result.observed);
      }
    } catch (caught) {
      outcome = classifyError(caught);
      error = describeError(caught);
    }
    if (granted !== undefined) granted.put = outcome;
    const complete = clock.now();
    const op: Op = {
      id,
      client,
      key,
      kind,
      ...(kind !== 'read' ? { value } : {}),
      ...(leaseId !== undefined ? { lease: leaseId.toString() } : {}),
      ...(kind === 'cas' ? { expect: expect ?? '' } : {}),
      ...(outcome === 'ok' && observed !== undefined ? { observed } : {}),
      ...(outcome === 'ok' && succeeded !== undefined ? { succeeded } : {}),
      outcome,
      invoke,
      complete,
      member,
      ...(error !== undefined ? { error } : {}),
    };
    this.ops.push(op);
    return op;
  }

  private remember(key: string, value: string | null): void {
    if (value === null) this.lastSeen.delete(key);
    else this.lastSeen.set(key, value);
  }

  /**
   * finalRead reads every key used, retrying across members until each read is
   * acknowledged or `timeoutMs` passes; the reads join the history (client
   * FINAL_CLIENT) and the values are returned for the durability check.
   */
  async finalRead(timeoutMs: number): Promise<Map<string, string | null>> {
    const values = new Map<string, string | null>();
    const deadline = Date.now() + timeoutMs;
    let attempt = 0;
    for (const key of this.keys()) {
      while (Date.now() < deadline) {
        const members = this.options.members();
        const member = members[attempt % members.length] as string;
        const op = await this.perform(FINAL_CLIENT, member, key, 'read', '', undefined);
        if (op.outcome === 'ok') {
          values.set(key, op.observed ?? null);
          break;
        }
        attempt++;
        await sleep(100);
      }
    }
    return values;
  }
}
