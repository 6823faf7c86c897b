import { describe, expect, it } from 'vitest';
import type { HubEvent, HubResponse } from '../../src/watch/watch-hub.js';
import { fragmentResponse } from '../../src/watch/watch-service.js';

const event = (key: string, valueBytes: number): HubEvent => ({
  type: 0,
  kv: {
    key: Buffer.from(key),
    value: Buffer.alloc(valueBytes),
    createRevision: 2,
    modRevision: 2,
    version: 1,
    lease: 0n,
  },
});

const response = (events: HubEvent[], fragment: boolean): HubResponse => ({
  watchId: 1,
  revision: 9,
  events,
  ...(fragment ? { fragment: true } : {}),
});

describe('fragmentResponse (etcd FragmentWatchResponse)', () => {
  it('keeps a response whole when it fits, or when the watcher did not ask', () => {
    const big = [event('a', 900), event('b', 900)];
    expect(fragmentResponse(response(big, false), 1000)).toHaveLength(1);
    expect(fragmentResponse(response([event('a', 10), event('b', 10)], true), 1000)).toEqual([
      { response: response([event('a', 10), event('b', 10)], true), fragment: false },
    ]);
    // One event alone is never split, however large.
    expect(fragmentResponse(response([event('a', 5000)], true), 1000)).toHaveLength(1);
  });

  it('splits into parts within the limit, in order, all but the last marked', () => {
    const events = ['a', 'b', 'c', 'd', 'e'].map((key) => event(key, 400));
    const parts = fragmentResponse(response(events, true), 1000);
    expect(parts.map((p) => p.response.events.map((e) => e.kv.key.toString()))).toEqual([
      ['a', 'b'],
      ['c', 'd'],
      ['e'],
    ]);
    expect(parts.map((p) => p.fragment)).toEqual([true, true, false]);
    expect(parts.every((p) => p.response.watchId === 1 && p.response.revision === 9)).toBe(true);
  });
});
