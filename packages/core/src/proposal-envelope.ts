import { varintLength, writeVarint } from './varint.js';

/**
 * The proposal envelope: how RaftNode tags a command with who proposed it, so the
 * proposer can resolve its promise when the entry is applied — even when the proposal
 * was forwarded to the leader and the proposer never learned its index.
 *
 * Layout: one magic byte 0xA7, the proposer id and a sequence number as unsigned LEB128
 * varints, then the command bytes unchanged.
 */
export const ENVELOPE_MAGIC = 0xa7;

/** DecodedProposal is an envelope taken apart; `command` is a view, not a copy. */
export interface DecodedProposal {
  readonly proposer: number;
  readonly sequence: number;
  readonly command: Uint8Array;
}

/** encodeProposal wraps a command (one copy of it; no other allocation). */
export function encodeProposal(
  proposer: number,
  sequence: number,
  command: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(1 + varintLength(proposer) + varintLength(sequence) + command.length);
  out[0] = ENVELOPE_MAGIC;
  let offset = writeVarint(out, 1, proposer);
  offset = writeVarint(out, offset, sequence);
  out.set(command, offset);
  return out;
}

/** decodeProposal unwraps an envelope; undefined when `data` is not one. */
export function decodeProposal(data: Uint8Array): DecodedProposal | undefined {
  if (data.length < 3 || data[0] !== ENVELOPE_MAGIC) return undefined;
  let offset = 1;
  const values: number[] = [];
  for (let field = 0; field < 2; field++) {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (offset >= data.length || scale > 2 ** 49) return undefined;
      const byte = data[offset++]!;
      value += (byte & 0x7f) * scale;
      scale *= 128;
      if ((byte & 0x80) === 0) break;
    }
    values.push(value);
  }
  return { proposer: values[0]!, sequence: values[1]!, command: data.subarray(offset) };
}
