import { createHash } from 'node:crypto';
import { RaftError } from '@raftkit/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BackupError, openBackup, sealBackup } from '../src/backup.js';
import { KvStateMachine } from '../src/kv-state-machine.js';
import { bytes, grant, put, snapshotAt } from './log-entries.js';

// A backup (Maintenance.Snapshot's stream) and the image a new cluster starts from.

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(BackupError);
    expect(error).toBeInstanceOf(RaftError);
    expect((error as BackupError).code).toBe('KV_BACKUP');
    return (error as Error).message;
  }
  throw new Error('expected a BackupError');
}

describe('backup sealing', () => {
  it('round-trips any image, and its size modulo 512 is 32, as etcdctl snapshot save requires', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (body) => {
        const data = Uint8Array.from([0x52, 0x4b, 0x53, 0x4d, ...body]);
        const sealed = sealBackup(data);
        expect(sealed.length % 512).toBe(32);
        expect(Buffer.from(openBackup(sealed, 'f')).equals(Buffer.from(data))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses truncated, altered, padded-wrong and foreign files with a BackupError', () => {
    const machine = new KvStateMachine();
    machine.apply([put('a', '1')]);
    const sealed = sealBackup(machine.snapshot());
    expect(refusal(() => openBackup(sealed.subarray(0, sealed.length - 1), 'f'))).toMatch(/size/);
    expect(refusal(() => openBackup(sealed.subarray(0, 100), 'f'))).toMatch(/size/);
    const flipped = Buffer.from(sealed);
    flipped[10]! ^= 1;
    expect(refusal(() => openBackup(flipped, 'f'))).toMatch(/SHA-256/);
    // A bbolt file (etcd's snapshot) is page-aligned and hashed the same way, but is not ours.
    const bolt = Buffer.alloc(4096 + 32);
    expect(refusal(() => openBackup(resealed(bolt), 'f'))).toMatch(/etcd snapshot/);
    // A wrong recorded length, or non-zero padding, with a valid digest.
    const badLength = Buffer.from(sealed);
    badLength.writeBigUInt64BE(BigInt(sealed.length), sealed.length - 32 - 8);
    expect(refusal(() => openBackup(resealed(badLength), 'f'))).toMatch(/length/);
    const dirty = Buffer.from(sealed);
    dirty[machine.snapshot().length]! = 7;
    expect(refusal(() => openBackup(resealed(dirty), 'f'))).toMatch(/padding/);
  });
});

/** resealed recomputes the SHA-256 trailer of a (tampered) backup. */
function resealed(sealed: Buffer): Buffer {
  const out = Buffer.from(sealed);
  createHash('sha256')
    .update(out.subarray(0, out.length - 32))
    .digest()
    .copy(out, out.length - 32);
  return out;
}

describe('KvStateMachine.imageForNewCluster', () => {
  it('keeps the store and the leases, takes the new members, forgets the request ids', () => {
    const source = new KvStateMachine();
    source.apply([grant(5n, 60), put('a', '1', 5n), put('b', '2', 0n, 'req-1')]);
    const members = [
      { id: 0x11n, name: 'r1', peerUrls: ['http://127.0.0.1:1'] },
      { id: 0x22n, name: 'r2', peerUrls: ['http://127.0.0.1:2'] },
    ];
    const restored = new KvStateMachine({ awaitingSnapshot: true });
    restored.restore(snapshotAt(1, KvStateMachine.imageForNewCluster(source.snapshot(), members)));
    expect(restored.store.revision).toBe(source.store.revision);
    expect(restored.store.hashKV()).toEqual(source.store.hashKV());
    expect(restored.leases.entries()).toEqual([[5n, 60]]);
    expect([...restored.leases.get(5n)!.keys]).toEqual(['a']);
    expect(restored.cluster.members().map((m) => m.name)).toEqual(['r1', 'r2']);
    expect(restored.cluster.removedIds()).toEqual([]);
    // The request id is forgotten: the same retried put is applied anew.
    const [result] = restored.apply([put('b', '2', 0n, 'req-1')]);
    expect(result?.kind).toBe('put');
  });

  it('refuses an image that does not restore', () => {
    expect(() => KvStateMachine.imageForNewCluster(bytes('RKSM\u0003junk'), [])).toThrow();
  });
});
