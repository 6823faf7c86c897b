import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { deadlineMsOf, LeaderWait } from '../src/leader-wait.js';

describe('LeaderWait (requests wait for a leader, as etcd does)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const settled = (promise: Promise<void>) => {
    let done = false;
    void promise.then(() => {
      done = true;
    });
    return () => done;
  };

  it('resolves at once when a leader is known', async () => {
    const wait = new LeaderWait(() => true, 2000);
    const done = settled(wait.wait());
    await vi.advanceTimersByTimeAsync(0);
    expect(done()).toBe(true);
    expect(wait.waiting).toBe(0);
  });

  it('holds a request until a leader is elected', async () => {
    let leader = false;
    const wait = new LeaderWait(() => leader, 2000);
    const done = settled(wait.wait());
    await vi.advanceTimersByTimeAsync(500);
    wait.notify(); // a soft-state change without a leader wakes nobody
    await vi.advanceTimersByTimeAsync(0);
    expect(done()).toBe(false);
    leader = true;
    wait.notify();
    await vi.advanceTimersByTimeAsync(0);
    expect(done()).toBe(true);
    expect(wait.waiting).toBe(0);
  });

  it('gives up after maxWaitMs, or just before the deadline if that comes first', async () => {
    const wait = new LeaderWait(() => false, 2000);
    const bounded = settled(wait.wait());
    const early = settled(wait.wait(Date.now() + 1000));
    await vi.advanceTimersByTimeAsync(949);
    expect(early()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(early()).toBe(true);
    expect(bounded()).toBe(false);
    await vi.advanceTimersByTimeAsync(1050);
    expect(bounded()).toBe(true);
    expect(wait.waiting).toBe(0);
    // A deadline already (nearly) past does not wait at all.
    const late = settled(wait.wait(Date.now() + 10));
    await vi.advanceTimersByTimeAsync(0);
    expect(late()).toBe(true);
  });

  it('releases every waiter on close, and waits no more afterwards', async () => {
    const wait = new LeaderWait(() => false, 2000);
    const first = settled(wait.wait());
    wait.close();
    await vi.advanceTimersByTimeAsync(0);
    expect(first()).toBe(true);
    const second = settled(wait.wait());
    await vi.advanceTimersByTimeAsync(0);
    expect(second()).toBe(true);
  });

  it('reads gRPC deadlines as epoch milliseconds', () => {
    expect(deadlineMsOf(undefined)).toBe(Number.POSITIVE_INFINITY);
    expect(deadlineMsOf(Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
    expect(deadlineMsOf(new Date(1234))).toBe(1234);
    expect(deadlineMsOf(5678)).toBe(5678);
  });
});
