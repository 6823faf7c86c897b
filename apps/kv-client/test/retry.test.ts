import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { KvClientError } from '../src/errors.js';
import { backoffMs, classifyFailure, decideRetry } from '../src/retry.js';

describe('retry rules', () => {
  it('classifies connection failures as not sent', () => {
    expect(
      classifyFailure(
        status.UNAVAILABLE,
        'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1',
      ),
    ).toBe('not-sent');
    expect(classifyFailure(status.UNAVAILABLE, 'etcdserver: no leader')).toBe('not-sent');
    expect(classifyFailure(status.RESOURCE_EXHAUSTED, 'etcdserver: too many requests')).toBe(
      'not-sent',
    );
  });

  it('treats other unavailability as possibly applied and the rest as final', () => {
    expect(classifyFailure(status.UNAVAILABLE, 'etcdserver: leader changed')).toBe('maybe-applied');
    expect(classifyFailure(status.UNAVAILABLE, 'Connection dropped')).toBe('maybe-applied');
    expect(
      classifyFailure(
        status.OUT_OF_RANGE,
        'etcdserver: mvcc: required revision has been compacted',
      ),
    ).toBe('final');
    expect(classifyFailure(status.DEADLINE_EXCEEDED, 'Deadline exceeded')).toBe('final');
    expect(classifyFailure(status.INVALID_ARGUMENT, 'etcdserver: key is not provided')).toBe(
      'final',
    );
  });

  it('retries writes that may have been applied only when the server deduplicates', () => {
    const write = { idempotent: false, deduplicated: false };
    expect(decideRetry('not-sent', write)).toEqual({ retry: true, nextEndpoint: true });
    expect(decideRetry('maybe-applied', write)).toEqual({ retry: false, nextEndpoint: false });
    expect(decideRetry('maybe-applied', { idempotent: false, deduplicated: true }).retry).toBe(
      true,
    );
    expect(decideRetry('maybe-applied', { idempotent: true, deduplicated: false }).retry).toBe(
      true,
    );
    expect(decideRetry('final', { idempotent: true, deduplicated: true }).retry).toBe(false);
  });

  it('backs off only after every endpoint was tried, exponentially with a cap', () => {
    const max = () => 1;
    expect(backoffMs(1, 3, max)).toBe(0);
    expect(backoffMs(2, 3, max)).toBe(0);
    expect(backoffMs(3, 3, max)).toBe(50);
    expect(backoffMs(6, 3, max)).toBe(100);
    expect(backoffMs(100, 1, max)).toBe(1000);
    expect(backoffMs(3, 1, () => 0)).toBe(100);
  });

  it('KvClientError names the gRPC code and keeps etcd’s message', () => {
    const error = new KvClientError(
      status.OUT_OF_RANGE,
      'etcdserver: mvcc: required revision is a future revision',
      {
        endpoint: 'a:1',
        attempts: 2,
      },
    );
    expect(error).toBeInstanceOf(Error);
    expect(error.codeName).toBe('OUT_OF_RANGE');
    expect(error.message).toBe('etcdserver: mvcc: required revision is a future revision');
    expect(error.attempts).toBe(2);
  });
});
