// The workload's lease operations against an in-memory etcd: the mix, what is recorded,
// and how grant failures and NOT_FOUND revokes are classified.
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { Clock } from '../src/clock.js';
import type { EtcdEndpoint } from '../src/etcd-client.js';
import { countOutcomes } from '../src/history.js';
import { checkLinearizable } from '../src/linearizability.js';
import { Random } from '../src/random.js';
import { Workload, type WorkloadOptions } from '../src/workload.js';

const notFound = () =>
  Object.assign(new Error('lease not found'), {
    code: grpc.status.NOT_FOUND,
    details: 'etcdserver: requested lease not found',
  });

/** MemoryEtcd is a sequential, correct etcd for one process: keys, values and leases. */
class MemoryEtcd {
  readonly keys = new Map<string, { value: string; lease: bigint }>();
  readonly leases = new Set<bigint>();
  private nextLease = 100n;
  failGrants = false;

  endpoint(): EtcdEndpoint {
    const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
    const fake = {
      get: async (key: string) => {
        await tick();
        return this.keys.get(key)?.value ?? null;
      },
      put: async (key: string, value: string, _timeout: number, lease?: bigint) => {
        await tick();
        if (lease !== undefined && !this.leases.has(lease)) throw notFound();
        this.keys.set(key, { value, lease: lease ?? 0n });
      },
      cas: async (key: string, expect: string, value: string) => {
        await tick();
        const current = this.keys.get(key)?.value ?? null;
        if (current !== expect) return { succeeded: false, observed: current };
        this.keys.set(key, { value, lease: 0n });
        return { succeeded: true, observed: null };
      },
      leaseGrant: async () => {
        await tick();
        if (this.failGrants) throw Object.assign(new Error('x'), { code: grpc.status.UNAVAILABLE });
        const id = this.nextLease++;
        this.leases.add(id);
        return id;
      },
      leaseRevoke: async (id: bigint) => {
        await tick();
        if (!this.leases.delete(id)) throw notFound();
        for (const [key, entry] of this.keys) if (entry.lease === id) this.keys.delete(key);
      },
    };
    return fake as unknown as EtcdEndpoint;
  }
}

function options(etcd: MemoryEtcd, extra: Partial<WorkloadOptions> = {}): WorkloadOptions {
  return {
    endpoint: () => etcd.endpoint(),
    members: () => ['n1', 'n2', 'n3'],
    clients: 6,
    keys: 3,
    opsPerKey: 150,
    timeoutMs: 1000,
    keyPrefix: 'k',
    random: new Random(3),
    clock: new Clock(),
    ...extra,
  };
}

async function run(workload: Workload, ms: number): Promise<void> {
  workload.start();
  await new Promise((resolve) => setTimeout(resolve, ms));
  await workload.stop();
}

describe('workload lease operations', () => {
  it('mixes in leasePuts and revokes and records a linearizable history', async () => {
    const etcd = new MemoryEtcd();
    const workload = new Workload(options(etcd));
    await run(workload, 400);
    const ops = workload.ops;
    expect(ops.length).toBeGreaterThan(500);
    const share = (kind: string) => ops.filter((o) => o.kind === kind).length / ops.length;
    expect(share('read')).toBeGreaterThan(0.42);
    expect(share('read')).toBeLessThan(0.58);
    expect(share('leasePut')).toBeGreaterThan(0.04);
    expect(share('leasePut')).toBeLessThan(0.12);
    expect(share('revoke')).toBeGreaterThan(0.02);
    expect(share('revoke')).toBeLessThan(0.1);
    for (const o of ops.filter((o) => o.kind === 'leasePut' || o.kind === 'revoke')) {
      expect(o.lease).toMatch(/^\d+$/);
      expect(o.value).toMatch(/^\d+-\d+$/);
    }
    // A revoke carries its leasePut's value and lease.
    const puts = new Map(ops.filter((o) => o.kind === 'leasePut').map((o) => [o.lease, o]));
    for (const o of ops.filter((o) => o.kind === 'revoke')) {
      expect(puts.get(o.lease)?.value).toBe(o.value);
      expect(puts.get(o.lease)?.key).toBe(o.key);
    }
    // Some revokes did delete a key that still held the leased value.
    const deleted = ops.some(
      (o, i) =>
        o.kind === 'read' &&
        o.observed === null &&
        ops.slice(0, i).some((p) => p.kind === 'revoke' && p.key === o.key),
    );
    expect(deleted).toBe(true);
    expect(countOutcomes(ops, 'revoke').ok).toBeGreaterThan(0);
    expect(checkLinearizable(ops).verdict).toBe('ok');
  });

  it('can be turned off', async () => {
    const workload = new Workload(options(new MemoryEtcd(), { leaseOps: 0 }));
    await run(workload, 150);
    expect(workload.ops.some((o) => o.kind === 'leasePut' || o.kind === 'revoke')).toBe(false);
  });

  it('fails a leasePut whose grant fails, without putting anything', async () => {
    const etcd = new MemoryEtcd();
    etcd.failGrants = true;
    const workload = new Workload(options(etcd));
    const op = await workload.perform(0, 'n1', 'k0.0', 'leasePut', '0-1', undefined);
    expect(op.outcome).toBe('fail');
    expect(op.lease).toBeUndefined();
    expect(op.error).toMatch(/^LeaseGrant: UNAVAILABLE/);
    expect(etcd.keys.size).toBe(0);
  });

  it('classifies a NOT_FOUND revoke as fail only when it provably did nothing', async () => {
    const etcd = new MemoryEtcd();
    const workload = new Workload(options(etcd));
    const lease = (id: bigint, value: string) => ({ id, value, revoked: false, gone: false });
    // A lease this workload never saw revoked: unknown (it may have been this request).
    const unseen = await workload.perform(0, 'n1', 'k', 'revoke', 'x', undefined, lease(42n, 'x'));
    expect(unseen.outcome).toBe('unknown');
    expect(unseen.error).toMatch(/NOT_FOUND: etcdserver: requested lease not found/);
    // Revoked by an acknowledged revoke: the second finds nothing.
    const put = await workload.perform(0, 'n1', 'k', 'leasePut', '0-1', undefined);
    expect(put.outcome).toBe('ok');
    const record = lease(BigInt(put.lease as string), '0-1');
    const first = await workload.perform(0, 'n1', 'k', 'revoke', '0-1', undefined, record);
    expect(first.outcome).toBe('ok');
    expect(etcd.keys.has('k')).toBe(false);
    expect(record.revoked).toBe(true);
    const second = await workload.perform(0, 'n1', 'k', 'revoke', '0-1', undefined, record);
    expect(second.outcome).toBe('fail');
    expect([first.lease, second.lease]).toEqual([put.lease, put.lease]);
    // A lease whose put provably never happened has no key attached: nothing to delete.
    const unused = { ...lease(43n, 'y'), put: 'fail' as const };
    const nothing = await workload.perform(0, 'n1', 'k', 'revoke', 'y', undefined, unused);
    expect(nothing.outcome).toBe('fail');
  });
});
