// Lease requests as etcd's client builds them: lease ids are signed 64-bit (etcd's
// `int64 ID`, 0 meaning "no lease"), TTLs are seconds.
import type {
  LeaseGrantRequest,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
} from '@raftkit/rpc/etcd';
import { type IntInput, toInt64 } from './ops.js';

/** MAX_LEASE_ID is the largest lease id: lease ids are signed 64-bit integers. */
export const MAX_LEASE_ID: bigint = (1n << 63n) - 1n;

/** MIN_LEASE_ID is the smallest lease id (−2^63). */
export const MIN_LEASE_ID: bigint = -(1n << 63n);

/**
 * toLeaseId checks a lease id (a bigint, or a safe-integer number) is a signed 64-bit
 * value and returns it as a bigint; it throws a TypeError or RangeError otherwise.
 */
export function toLeaseId(value: IntInput, what = 'lease id'): bigint {
  const id = toInt64(value, what);
  if (id < MIN_LEASE_ID || id > MAX_LEASE_ID) {
    throw new RangeError(`${what} must be a signed 64-bit integer, got ${id}`);
  }
  return id;
}

/** LeaseGrantOptions shape a Lease.LeaseGrant. */
export interface LeaseGrantOptions {
  /** id asks for this lease id (0 or unset: the server picks one). */
  readonly id?: IntInput;
}

/** LeaseTimeToLiveOptions shape a Lease.LeaseTimeToLive. */
export interface LeaseTimeToLiveOptions {
  /** keys also returns the keys attached to the lease. */
  readonly keys?: boolean;
}

/** leaseGrantRequest builds the LeaseGrantRequest for `leaseGrant(ttlSeconds, options)`. */
export function leaseGrantRequest(
  ttlSeconds: IntInput,
  options: LeaseGrantOptions = {},
): LeaseGrantRequest {
  const request: LeaseGrantRequest = { TTL: toLeaseId(ttlSeconds, 'lease TTL') };
  if (options.id !== undefined) request.ID = toLeaseId(options.id);
  return request;
}

/** leaseTimeToLiveRequest builds the LeaseTimeToLiveRequest for `leaseTimeToLive(id, options)`. */
export function leaseTimeToLiveRequest(
  id: IntInput,
  options: LeaseTimeToLiveOptions = {},
): LeaseTimeToLiveRequest {
  const request: LeaseTimeToLiveRequest = { ID: toLeaseId(id) };
  if (options.keys === true) request.keys = true;
  return request;
}

/**
 * leaseNotFoundTimeToLive is etcd's answer to a TimeToLive for a lease it does not know
 * (expired, revoked or never granted): TTL −1, granted TTL 0, no keys. The client returns
 * it when a server reports the lease as an error instead.
 */
export function leaseNotFoundTimeToLive(id: bigint): LeaseTimeToLiveResponse {
  return { header: null, ID: id, TTL: -1n, grantedTTL: 0n, keys: [] };
}
