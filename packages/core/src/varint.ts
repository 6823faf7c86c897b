/**
 * Unsigned LEB128 varints for safe integers (up to 2^53 − 1), as the core's small binary
 * formats (proposal envelopes, configuration changes) write them.
 */

/** varintLength is how many bytes `value` takes as a varint. */
export function varintLength(value: number): number {
  let length = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    length++;
  }
  return length;
}

/** writeVarint writes `value` at `offset` and returns the offset after it. */
export function writeVarint(target: Uint8Array, offset: number, value: number): number {
  while (value >= 0x80) {
    target[offset++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  target[offset++] = value;
  return offset;
}
