import { describe, expect, it } from 'vitest';
import { decodeKvCommand, encodeKvCommand, type KvCommandKind } from '../src/kv-command.js';

describe('KV command codec (the Raft log payload of a write)', () => {
  const kinds: KvCommandKind[] = ['put', 'deleteRange', 'txn', 'compaction', 'publish'];
  it.each(kinds)('round-trips a %s with and without a request id', (kind) => {
    const request = new Uint8Array([10, 3, 102, 111, 111]);
    for (const requestId of [undefined, 'client-7:42', 'x'.repeat(128)]) {
      const decoded = decodeKvCommand(encodeKvCommand(kind, requestId, request));
      expect(decoded?.kind).toBe(kind);
      expect(decoded?.requestId).toBe(requestId);
      expect([...(decoded?.request ?? [])]).toEqual([...request]);
    }
  });

  it('refuses request ids over 128 bytes and bytes that are not a command', () => {
    expect(() => encodeKvCommand('put', 'x'.repeat(129), new Uint8Array())).toThrow(RangeError);
    expect(decodeKvCommand(new Uint8Array([]))).toBeUndefined();
    expect(decodeKvCommand(new Uint8Array([9, 0]))).toBeUndefined();
    expect(decodeKvCommand(new Uint8Array([1, 5, 1]))).toBeUndefined();
  });
});
