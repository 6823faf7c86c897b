/** KeyInput is what the client accepts for keys and values: UTF-8 text or raw bytes. */
export type KeyInput = string | Uint8Array;

const encoder = new TextEncoder();

/** toBytes turns a KeyInput into bytes (strings as UTF-8; byte arrays are not copied). */
export function toBytes(input: KeyInput): Uint8Array {
  return typeof input === 'string' ? encoder.encode(input) : input;
}

/** ZERO_KEY is the single byte `\0` etcd uses as "from this key on" for a range end. */
export const ZERO_KEY: Uint8Array = Uint8Array.of(0);

/**
 * prefixRangeEnd is etcd's range end for "every key starting with prefix": the prefix
 * with its last byte below 0xff incremented and everything after it dropped; for an
 * empty or all-0xff prefix, `\0` (no upper bound).
 */
export function prefixRangeEnd(prefix: Uint8Array): Uint8Array {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const byte = prefix[i] as number;
    if (byte < 0xff) {
      const end = prefix.slice(0, i + 1);
      end[i] = byte + 1;
      return end;
    }
  }
  return ZERO_KEY;
}

/** RangeSelector picks the keys an operation covers, as etcdctl's flags do. */
export interface RangeSelector {
  /** prefix covers every key starting with the key. */
  readonly prefix?: boolean;
  /** fromKey covers every key >= the key. */
  readonly fromKey?: boolean;
  /** rangeEnd covers [key, rangeEnd). */
  readonly rangeEnd?: KeyInput;
}

/**
 * resolveRange turns a key plus RangeSelector into etcd's (key, range_end) pair, with
 * clientv3's conventions: an empty key with `prefix` or `fromKey` means all keys
 * (`\0`, `\0`). It throws a TypeError when more than one selector is given.
 */
export function resolveRange(
  key: KeyInput,
  selector: RangeSelector = {},
): { key: Uint8Array; rangeEnd?: Uint8Array } {
  const chosen = [
    selector.prefix === true,
    selector.fromKey === true,
    selector.rangeEnd !== undefined,
  ];
  if (chosen.filter(Boolean).length > 1) {
    throw new TypeError('choose one of prefix, fromKey and rangeEnd');
  }
  let start = toBytes(key);
  if (selector.prefix === true) {
    if (start.length === 0) return { key: ZERO_KEY, rangeEnd: ZERO_KEY };
    return { key: start, rangeEnd: prefixRangeEnd(start) };
  }
  if (selector.fromKey === true) {
    if (start.length === 0) start = ZERO_KEY;
    return { key: start, rangeEnd: ZERO_KEY };
  }
  if (selector.rangeEnd !== undefined) return { key: start, rangeEnd: toBytes(selector.rangeEnd) };
  return { key: start };
}
