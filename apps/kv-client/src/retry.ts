import { status } from '@grpc/grpc-js';

/**
 * RetryClass says what a failed attempt proves. `not-sent`: the request never reached a
 * server (no connection), so any request may be retried. `maybe-applied`: the server
 * may have executed it (e.g. the connection broke mid-call, leader changed, timed out
 * waiting for commit); only idempotent requests — or writes carrying a request id to a
 * server that deduplicates — may be retried. `final`: the answer stands.
 */
export type RetryClass = 'not-sent' | 'maybe-applied' | 'final';

// grpc-js words for "the call never left": no transport could be established.
const NOT_SENT_PATTERNS = [
  /No connection established/i,
  /ECONNREFUSED/,
  /ENOTFOUND|EAI_AGAIN|Name resolution failed/i,
  /EHOSTUNREACH|ENETUNREACH/,
  /failed to connect/i,
];

// etcd refuses these before proposing anything (UNAVAILABLE and RESOURCE_EXHAUSTED).
const NOT_EXECUTED_DETAILS = ['etcdserver: no leader', 'etcdserver: too many requests'];

/** classifyFailure decides what a gRPC status from one attempt proves (see RetryClass). */
export function classifyFailure(code: number, details: string): RetryClass {
  if (code === status.UNAVAILABLE) {
    if (NOT_EXECUTED_DETAILS.includes(details)) return 'not-sent';
    if (NOT_SENT_PATTERNS.some((pattern) => pattern.test(details))) return 'not-sent';
    return 'maybe-applied';
  }
  if (code === status.RESOURCE_EXHAUSTED && NOT_EXECUTED_DETAILS.includes(details)) {
    return 'not-sent';
  }
  return 'final';
}

/** RetryDecision is what the client does after a failed attempt. */
export interface RetryDecision {
  /** retry is true when another attempt may be made. */
  readonly retry: boolean;
  /** nextEndpoint is true when the next attempt should go to the next endpoint. */
  readonly nextEndpoint: boolean;
}

/**
 * decideRetry applies raftkit's retry rules: reads retry on any unavailability; writes
 * retry when the request provably was not sent, or when the endpoint is a raftkit
 * server that deduplicates the `raftkit-request-id` the write carries. Stock etcd
 * ignores that header, so a write that may have been applied is never resent there.
 */
export function decideRetry(
  kind: RetryClass,
  request: { idempotent: boolean; deduplicated: boolean },
): RetryDecision {
  if (kind === 'final') return { retry: false, nextEndpoint: false };
  if (kind === 'not-sent') return { retry: true, nextEndpoint: true };
  const retry = request.idempotent || request.deduplicated;
  return { retry, nextEndpoint: retry };
}

/**
 * backoffMs is the pause before retry number `attempt` (1-based): none while there are
 * untried endpoints in this round, then exponential from 50 ms, capped at 1 s, with
 * jitter in [50 %, 100 %] so that many clients do not retry in step.
 */
export function backoffMs(
  attempt: number,
  endpoints: number,
  random: () => number = Math.random,
): number {
  if (attempt < endpoints) return 0;
  const round = Math.floor(attempt / Math.max(1, endpoints));
  const ceiling = Math.min(1000, 50 * 2 ** (round - 1));
  return Math.round(ceiling * (0.5 + random() / 2));
}
