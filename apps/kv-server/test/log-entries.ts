// Log entries and snapshots for state machine tests: what the services propose, built
// the way they build it.
import type { Entry, Snapshot } from '@raftkit/core';
import { emptyConfState } from '@raftkit/core';
import { encodeEtcdMessage } from '@raftkit/rpc/etcd';
import { encodeKvCommand } from '../src/kv-command.js';

/** bytes is the UTF-8 encoding of `text`. */
export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

let index = 0;

/** entry is a normal entry at the next index (term 1) carrying `data`. */
export const entry = (data: Uint8Array): Entry => ({
  term: 1,
  index: ++index,
  type: 'normal',
  data,
});

/** put is a Put of `key`=`value`, with a lease and a request id if given. */
export const put = (key: string, value: string, lease = 0n, requestId?: string): Entry =>
  entry(
    encodeKvCommand(
      'put',
      requestId,
      encodeEtcdMessage('PutRequest', { key: bytes(key), value: bytes(value), lease }),
    ),
  );

/** grant is a LeaseGrant of lease `id` with `ttl` seconds, as the proposer writes it. */
export const grant = (id: bigint, ttl: number, requestId?: string): Entry =>
  entry(
    encodeKvCommand(
      'leaseGrant',
      requestId,
      encodeEtcdMessage('LeaseGrantRequest', { ID: id, TTL: BigInt(ttl) }),
    ),
  );

/** snapshotAt is a snapshot at `at` (term 1) of a state machine image `data`. */
export const snapshotAt = (at: number, data: Uint8Array): Snapshot => ({
  metadata: { index: at, term: 1, confState: emptyConfState() },
  data,
});
