// The hot loop's requests, encoded by hand: a few length-delimited protobuf fields
// are cheaper to write directly than through the reflective codec, and the load
// generator shares the machine with the servers it measures. The tests decode these
// bytes with @raftkit/rpc's etcd codec to prove they are the messages they claim.

function varintLength(value: number): number {
  let length = 1;
  let rest = value;
  while (rest >= 0x80) {
    rest = Math.floor(rest / 128);
    length++;
  }
  return length;
}

function writeVarint(target: Buffer, offset: number, value: number): number {
  let rest = value;
  let at = offset;
  while (rest >= 0x80) {
    target[at++] = (rest & 0x7f) | 0x80;
    rest = Math.floor(rest / 128);
  }
  target[at++] = rest;
  return at;
}

// field `number`, wire type 2 (length-delimited)
function bytesFieldLength(length: number): number {
  return 1 + varintLength(length) + length;
}

function writeBytesField(target: Buffer, offset: number, field: number, bytes: Uint8Array): number {
  target[offset] = (field << 3) | 2;
  const at = writeVarint(target, offset + 1, bytes.length);
  target.set(bytes, at);
  return at + bytes.length;
}

/** encodePutRequest encodes `etcdserverpb.PutRequest{key, value}`. */
export function encodePutRequest(key: Uint8Array, value: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(bytesFieldLength(key.length) + bytesFieldLength(value.length));
  writeBytesField(out, writeBytesField(out, 0, 1, key), 2, value);
  return out;
}

/** encodeRangeRequest encodes `etcdserverpb.RangeRequest{key, serializable}` (one key). */
export function encodeRangeRequest(key: Uint8Array, serializable: boolean): Buffer {
  const out = Buffer.allocUnsafe(bytesFieldLength(key.length) + (serializable ? 2 : 0));
  const at = writeBytesField(out, 0, 1, key);
  if (serializable) {
    out[at] = (7 << 3) | 0; // serializable = 7, varint
    out[at + 1] = 1;
  }
  return out;
}

/**
 * encodeTxnPutRequest encodes `etcdserverpb.TxnRequest` without compares whose success
 * branch is one `RequestOp{request_put}` per key, each with `value`.
 */
export function encodeTxnPutRequest(keys: readonly Uint8Array[], value: Uint8Array): Buffer {
  const puts = keys.map((key) => encodePutRequest(key, value));
  const ops = puts.map((put) => bytesFieldLength(put.length)); // RequestOp{request_put = 2}
  const size = ops.reduce((sum, length) => sum + bytesFieldLength(length), 0);
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const [i, put] of puts.entries()) {
    out[at] = (2 << 3) | 2; // TxnRequest.success = 2
    at = writeVarint(out, at + 1, ops[i] as number);
    at = writeBytesField(out, at, 2, put);
  }
  return out;
}

/**
 * KeySource hands out benchmark keys: zero-padded decimal numbers of `keySize` bytes
 * (longer keys are padded on the left with `0`), picked at random from
 * [0, keySpaceSize) or walked in order when sequential.
 */
export class KeySource {
  readonly #keySize: number;
  readonly #space: number;
  readonly #sequential: boolean;
  readonly #random: () => number;
  #next = 0;

  constructor(
    keySize: number,
    keySpaceSize: number,
    sequential: boolean,
    random: () => number = Math.random,
  ) {
    this.#keySize = keySize;
    this.#space = keySpaceSize;
    this.#sequential = sequential;
    this.#random = random;
  }

  /** keyAt is the key numbered `index`. */
  keyAt(index: number): Buffer {
    return Buffer.from(String(index).padStart(this.#keySize, '0'), 'latin1');
  }

  /** nextIndex is the number of the next key. */
  nextIndex(): number {
    if (this.#sequential) {
      const index = this.#next;
      this.#next = (this.#next + 1) % this.#space;
      return index;
    }
    return Math.floor(this.#random() * this.#space);
  }

  /** next is the next key. */
  next(): Buffer {
    return this.keyAt(this.nextIndex());
  }

  /** distinct returns `count` different keys (count ≤ key space), for one transaction. */
  distinct(count: number): Buffer[] {
    const chosen = new Set<number>();
    while (chosen.size < count) chosen.add(this.nextIndex());
    return [...chosen].map((index) => this.keyAt(index));
  }
}

/** makeValue is a value of `size` bytes (printable, fixed content). */
export function makeValue(size: number): Buffer {
  return Buffer.alloc(size, 'v');
}
