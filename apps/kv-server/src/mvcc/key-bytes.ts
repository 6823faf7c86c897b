/**
 * Byte-key helpers. Keys are kept in the ordered index as latin1 strings (one UTF-16 code
 * unit per byte, 0..255), whose JS string order is exactly unsigned bytewise order.
 */

const CHUNK = 0x2000;

/** EMPTY_BYTES is a shared zero-length byte array; never write into it. */
export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

/** bytesToKeyString maps bytes to the latin1 string that sorts like the bytes. */
export function bytesToKeyString(bytes: Uint8Array): string {
  if (bytes.length <= CHUNK) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  let out = '';
  for (let i = 0; i < bytes.length; i += CHUNK) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK) as unknown as number[]);
  }
  return out;
}

/**
 * copyBytes returns a copy of `bytes` in a buffer of its own (a plain Uint8Array, also
 * for a Buffer, whose `slice` would return a view), or the shared empty array.
 */
export function copyBytes(bytes: Uint8Array | undefined): Uint8Array {
  return bytes === undefined || bytes.length === 0 ? EMPTY_BYTES : new Uint8Array(bytes);
}

/**
 * MAX_PINNED_SLACK bounds how many bytes beyond a kept view the buffer behind it may
 * hold (beyond the view's own length): a view keeps its whole buffer alive, so a value
 * kept from a big buffer (a peer's batch of entries, Node's 8 KiB Buffer pool) would pin
 * far more memory than it holds.
 */
const MAX_PINNED_SLACK = 256;

/**
 * keepBytes returns bytes the store can keep: `bytes` itself when the caller owns them
 * for good (`owned`) and they do not pin much more memory than they hold — a value
 * decoded from the leader's own log entry, whose buffer is the entry — else a copy.
 */
export function keepBytes(bytes: Uint8Array | undefined, owned: boolean | undefined): Uint8Array {
  if (bytes === undefined || bytes.length === 0) return EMPTY_BYTES;
  if (owned === true) {
    const extra = bytes.buffer.byteLength - bytes.byteLength;
    if (extra <= MAX_PINNED_SLACK || extra <= bytes.byteLength) return bytes;
  }
  return new Uint8Array(bytes);
}

/** keyStringToBytes is the inverse of {@link bytesToKeyString}. */
export function keyStringToBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** compareBytes orders byte arrays as Go's `bytes.Compare`: unsigned, lexicographic. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** bytesEqual tells whether two byte arrays hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * prefixRangeEnd returns the `range_end` that selects every key starting with `prefix`
 * (etcd's `GetPrefixRangeEnd`): the prefix with its last non-0xff byte incremented and
 * what follows dropped, or `[0]` (all keys from `prefix`) when every byte is 0xff.
 */
export function prefixRangeEnd(prefix: Uint8Array): Uint8Array {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const b = prefix[i] as number;
    if (b < 0xff) {
      const end = prefix.slice(0, i + 1);
      end[i] = b + 1;
      return end;
    }
  }
  return new Uint8Array([0]);
}

/**
 * KeyRange is a resolved request range over index strings: one key, or the half-open
 * interval [start, end) where an undefined `end` means no upper bound.
 */
export type KeyRange =
  | { readonly single: true; readonly key: string }
  | { readonly single: false; readonly start: string; readonly end: string | undefined };

/**
 * resolveRange turns a request's `key`/`range_end` into a {@link KeyRange} with etcd's
 * rules: an absent or empty end means the single key; `[0]` means all keys >= key.
 */
export function resolveRange(key: Uint8Array, rangeEnd: Uint8Array | undefined): KeyRange {
  if (rangeEnd === undefined || rangeEnd.length === 0) {
    return { single: true, key: bytesToKeyString(key) };
  }
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) {
    return { single: false, start: bytesToKeyString(key), end: undefined };
  }
  return { single: false, start: bytesToKeyString(key), end: bytesToKeyString(rangeEnd) };
}
