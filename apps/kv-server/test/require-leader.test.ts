import { Metadata } from '@grpc/grpc-js';
import { ManualClock } from '@raftkit/timer';
import { describe, expect, it } from 'vitest';
import { RequireLeader, requiresLeader } from '../src/require-leader.js';

describe('RequireLeader (etcd WithRequireLeader)', () => {
  it('reads the hasleader metadata', () => {
    const metadata = new Metadata();
    expect(requiresLeader(metadata)).toBe(false);
    metadata.set('hasleader', 'true');
    expect(requiresLeader(metadata)).toBe(true);
  });

  it('ends the streams after three leaderless checks in a row, one interval apart', () => {
    const clock = new ManualClock(0);
    let leader = true;
    const monitor = new RequireLeader(() => leader, 500, clock);
    const ended: string[] = [];
    monitor.watch(() => ended.push('a'));
    const unwatch = monitor.watch(() => ended.push('b'));
    unwatch();
    clock.advance(1000);
    expect(ended).toEqual([]);
    leader = false;
    clock.advance(1000); // two leaderless checks
    leader = true;
    clock.advance(500); // a leader again: the count starts over
    leader = false;
    clock.advance(1000);
    expect(ended).toEqual([]);
    clock.advance(500);
    expect(ended).toEqual(['a']);
    expect(monitor.size).toBe(0);
    // Nothing is monitored: no timer is left running.
    expect(clock.pendingCount).toBe(0);
  });

  it('does not carry leaderless checks over to a stream opened later', () => {
    const clock = new ManualClock(0);
    const leader = false;
    const monitor = new RequireLeader(() => leader, 500, clock);
    const unwatch = monitor.watch(() => {});
    clock.advance(500); // one leaderless check
    unwatch();
    clock.advance(500); // the timer's last check (two), then no stream is left
    expect(clock.pendingCount).toBe(0);
    const ended: string[] = [];
    monitor.watch(() => ended.push('late'));
    clock.advance(1000);
    expect(ended).toEqual([]); // two checks for this stream, not three
    clock.advance(500);
    expect(ended).toEqual(['late']);
  });

  it('knows whether a stream may be opened, and close stops everything', () => {
    const clock = new ManualClock(0);
    let leader = false;
    const monitor = new RequireLeader(() => leader, 500, clock);
    expect(monitor.leaderKnown()).toBe(false);
    leader = true;
    expect(monitor.leaderKnown()).toBe(true);
    const ended: string[] = [];
    monitor.watch(() => ended.push('a'));
    monitor.close();
    leader = false;
    clock.advance(5000);
    expect(ended).toEqual([]);
    expect(clock.pendingCount).toBe(0);
  });
});
