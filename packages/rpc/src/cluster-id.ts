import { MAX_CLUSTER_ID } from './codec.js';
import { RpcConfigError } from './errors.js';

// Cluster ids are uint64 on the wire, like etcd's (derived there from the initial
// cluster and its token). JavaScript numbers cannot hold 64 bits, so raftkit keeps them
// as bigint and prints them in hex, as etcd does.

/** validClusterId returns `clusterId` if it fits the wire's uint64, else throws RpcConfigError. */
export function validClusterId(clusterId: bigint): bigint {
  if (typeof clusterId !== 'bigint' || clusterId < 0n || clusterId > MAX_CLUSTER_ID) {
    throw new RpcConfigError(`clusterId must be a uint64 bigint, got ${String(clusterId)}`);
  }
  return clusterId;
}

/** formatClusterId prints a cluster id as etcd does: lowercase hex without prefix. */
export function formatClusterId(clusterId: bigint): string {
  return clusterId.toString(16);
}

/** parseClusterId reads a cluster id printed by formatClusterId (hex, optional `0x`). */
export function parseClusterId(text: string): bigint {
  const digits = text.trim().replace(/^0x/i, '');
  if (!/^[0-9a-f]{1,16}$/i.test(digits)) {
    throw new RpcConfigError(`cluster id "${text}" is not 1 to 16 hex digits`);
  }
  return BigInt(`0x${digits}`);
}
