import type { KeyValue, MvccError } from '../../src/mvcc/index.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** b encodes a string as UTF-8 bytes. */
export function b(s: string): Uint8Array {
  return encoder.encode(s);
}

/** s decodes UTF-8 bytes to a string. */
export function s(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** keys lists the keys of `kvs` as strings. */
export function keys(kvs: readonly KeyValue[]): string[] {
  return kvs.map((kv) => s(kv.key));
}

/** plain turns a KeyValue into a readable object for equality checks. */
export function plain(kv: KeyValue | undefined): Record<string, unknown> | undefined {
  if (kv === undefined) return undefined;
  return {
    key: s(kv.key),
    value: s(kv.value),
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    version: kv.version,
    lease: kv.lease,
  };
}

/** catchErr runs `fn` and returns what it threw, failing if it did not throw. */
export function catchErr(fn: () => unknown): MvccError {
  try {
    fn();
  } catch (err) {
    return err as MvccError;
  }
  throw new Error('expected an error');
}
