// A tiny, independent protobuf writer for tests: it knows tags, varints and
// length-delimited fields and nothing of protobufjs, so bytes assembled here are an
// outside opinion of what etcd's field numbers put on the wire.

/** varint encodes a non-negative or negative (two's-complement, 10 bytes) integer. */
export function varint(value: bigint | number): number[] {
  let v = BigInt(value);
  if (v < 0n) v += 1n << 64n;
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}

/** tag is a field key: field number and wire type. */
export function tag(field: number, wireType: 0 | 2): number[] {
  return varint((field << 3) | wireType);
}

/** varintField is a wire-type-0 field. */
export function varintField(field: number, value: bigint | number | boolean): number[] {
  return [...tag(field, 0), ...varint(typeof value === 'boolean' ? (value ? 1 : 0) : value)];
}

/** bytesField is a wire-type-2 field (bytes, string or nested message). */
export function bytesField(field: number, value: Uint8Array | string | number[]): number[] {
  const body =
    typeof value === 'string'
      ? [...Buffer.from(value, 'utf8')]
      : Array.from(value as ArrayLike<number>);
  return [...tag(field, 2), ...varint(body.length), ...body];
}

/** bytes concatenates fields into a Buffer. */
export function bytes(...fields: number[][]): Buffer {
  return Buffer.from(fields.flat());
}
