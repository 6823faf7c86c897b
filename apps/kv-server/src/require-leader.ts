import type { Metadata } from '@grpc/grpc-js';
import { type Clock, realClock, type TimerHandle } from '@raftkit/timer';

/** REQUIRE_LEADER_KEY is the metadata key of etcd's `clientv3.WithRequireLeader`. */
export const REQUIRE_LEADER_KEY = 'hasleader';

/** requiresLeader tells whether a call asked to be served only while a leader is known. */
export function requiresLeader(metadata: Metadata): boolean {
  return metadata.get(REQUIRE_LEADER_KEY)[0] === 'true';
}

/**
 * RequireLeader is etcd's leader monitor for streams opened with `WithRequireLeader`
 * (metadata `hasleader: true`): such a stream is refused when this member knows no
 * leader, and an open one is ended with `etcdserver: no leader` once the member has
 * known none for three checks in a row, one election timeout apart (etcd's
 * `monitorLeader`) — so a client watching through a member cut off from the majority
 * learns it and moves to another member instead of waiting for events that never come.
 */
export class RequireLeader {
  private readonly streams = new Set<() => void>();
  private timer: TimerHandle | undefined;
  private leaderless = 0;
  private closed = false;

  constructor(
    private readonly hasLeader: () => boolean,
    private readonly intervalMs: number,
    private readonly clock: Clock = realClock,
    /** checks is how many leaderless checks in a row end the streams (etcd: 3). */
    private readonly checks = 3,
  ) {}

  /** leaderKnown tells whether a leader is known now (a stream may be opened). */
  leaderKnown(): boolean {
    return this.hasLeader();
  }

  /**
   * watch registers a stream's `end` (called at most once, when it must end for lack of
   * a leader) and returns the function that unregisters it.
   */
  watch(end: () => void): () => void {
    // Leaderless checks counted while no stream was monitored do not count for this one.
    if (this.streams.size === 0) this.leaderless = 0;
    this.streams.add(end);
    this.schedule();
    return () => {
      this.streams.delete(end);
    };
  }

  /** size is the number of streams monitored. */
  get size(): number {
    return this.streams.size;
  }

  /** close stops monitoring (the server is stopping; its streams end anyway). */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.streams.clear();
  }

  private schedule(): void {
    if (this.closed || this.timer !== undefined || this.streams.size === 0) return;
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.check();
        this.schedule();
      },
      this.intervalMs,
      { unref: true },
    );
  }

  private check(): void {
    if (this.hasLeader()) {
      this.leaderless = 0;
      return;
    }
    this.leaderless++;
    if (this.leaderless < this.checks) return;
    this.leaderless = 0;
    const ends = [...this.streams];
    this.streams.clear();
    for (const end of ends) end();
  }
}
