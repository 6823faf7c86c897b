import { createHash } from 'node:crypto';
import type { NodeId } from '@raftkit/core';

/**
 * computeMemberId derives a member's 64-bit id exactly as etcd does when it bootstraps a
 * cluster: the first 8 bytes, big-endian, of SHA-1 over the member's peer URLs sorted and
 * concatenated, then the cluster token, then — for a member added at run time, so that a
 * re-added URL gets a new id — the decimal Unix time in seconds. Every member computes the
 * same ids from the same `--initial-cluster` and token without talking to the others.
 * `peerUrls` must be canonical (`canonicalUrl`), since the hash covers their text.
 */
export function computeMemberId(
  peerUrls: readonly string[],
  token: string,
  addedAtUnixSeconds?: number,
): bigint {
  const hash = createHash('sha1');
  hash.update([...peerUrls].sort().join(''), 'utf8');
  hash.update(token, 'utf8');
  if (addedAtUnixSeconds !== undefined) {
    if (!Number.isSafeInteger(addedAtUnixSeconds)) {
      throw new RangeError(`addedAtUnixSeconds must be a whole number, got ${addedAtUnixSeconds}`);
    }
    hash.update(String(addedAtUnixSeconds), 'utf8');
  }
  return hash.digest().readBigUInt64BE(0);
}

/**
 * computeClusterId derives the cluster id as etcd does: the first 8 bytes, big-endian, of
 * SHA-1 over the member ids sorted ascending, each as 8 big-endian bytes. Two clusters
 * bootstrapped with different tokens or members get different ids, which is how a peer
 * from another cluster is recognised and refused.
 */
export function computeClusterId(memberIds: readonly bigint[]): bigint {
  const sorted = [...memberIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const bytes = Buffer.alloc(8 * sorted.length);
  sorted.forEach((id, index) => {
    bytes.writeBigUInt64BE(BigInt.asUintN(64, id), 8 * index);
  });
  return createHash('sha1').update(bytes).digest().readBigUInt64BE(0);
}

/** NODE_ID_MASK keeps the low 53 bits of a member id: the widest a JS number holds exactly. */
export const NODE_ID_MASK: bigint = (1n << 53n) - 1n;

/**
 * toNodeId maps a 64-bit etcd member id to the NodeId raftkit's core uses: its low 53
 * bits, since core ids are JS numbers (≤ 2^53 − 1). The full id stays the identity on the
 * etcd API; the NodeId names the member inside raft. Two ids that differ only in their
 * top 11 bits would collide — about a 1-in-9·10^15 chance per pair — so whoever builds a
 * membership checks for it. A result of 0 (NONE) is refused.
 */
export function toNodeId(memberId: bigint): NodeId {
  const nodeId = Number(BigInt.asUintN(64, memberId) & NODE_ID_MASK);
  if (nodeId === 0) {
    throw new RangeError(
      `member id ${formatMemberId(memberId)} has zero low 53 bits and cannot be a raft NodeId; change the cluster token or the member's peer URLs`,
    );
  }
  return nodeId;
}

/** formatMemberId renders an id as etcd prints it: lower-case hex without leading zeros. */
export function formatMemberId(id: bigint): string {
  return BigInt.asUintN(64, id).toString(16);
}

/** parseMemberId reads an id printed by etcd or `formatMemberId` (1 to 16 hex digits). */
export function parseMemberId(text: string): bigint {
  if (!/^[0-9a-fA-F]{1,16}$/.test(text)) {
    throw new RangeError(
      `"${text}" is not a member id (1 to 16 hex digits, e.g. 8e9e05c52164694d)`,
    );
  }
  return BigInt(`0x${text}`);
}
