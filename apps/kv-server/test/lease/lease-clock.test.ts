import { ManualClock } from '@raftkit/timer';
import { describe, expect, it } from 'vitest';
import { LeaseClock, type LeaseClockOptions } from '../../src/lease/lease-clock.js';
import { LeaseTable } from '../../src/lease/lease-table.js';
import { refusal } from './helpers.js';

/** flush lets the promise callbacks already queued run (no time passes on the clock). */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * setup builds a LeaseClock on a ManualClock at time 0, checking every 500 ms, extending
 * by 1 s on promotion, retrying after 3 s. `proposals` records [time, id] of every
 * revocation proposed; `answer` decides what the proposal's promise does.
 */
function setup(
  options: Partial<LeaseClockOptions> = {},
  answer: (id: bigint) => Promise<unknown> = () => Promise.resolve(),
) {
  const clock = new ManualClock(0);
  const table = options.table ?? new LeaseTable();
  const proposals: [number, bigint][] = [];
  const errors: [bigint, unknown][] = [];
  const leaseClock = new LeaseClock({
    table,
    extendMs: 1000,
    checkIntervalMs: 500,
    retryMs: 3000,
    clock,
    revoke: (id) => {
      proposals.push([clock.now(), id]);
      return answer(id);
    },
    onError: (id, error) => errors.push([id, error]),
    ...options,
  });
  return { clock, table, leaseClock, proposals, errors };
}

describe('LeaseClock when not primary', () => {
  it('refuses renew with notFound, for a lease in the table too, and knows no deadline', () => {
    const { clock, table, leaseClock, proposals } = setup();
    table.grant(1n, 5);
    expect(leaseClock.isPrimary).toBe(false);
    expect(refusal(() => leaseClock.renew(1n))).toBe('notFound');
    expect(refusal(() => leaseClock.renew(2n))).toBe('notFound');
    expect(leaseClock.remainingSeconds(1n)).toBe(0);
    // Nothing is checked: no timer, no revocation however long it waits.
    expect(clock.pendingCount).toBe(0);
    clock.advance(60_000);
    expect(proposals).toEqual([]);
  });

  it('installs itself as the table listener but ignores its events', () => {
    const { clock, table, leaseClock } = setup();
    expect(table.listener).toBeDefined();
    table.grant(1n, 5);
    table.grant(2n, 5);
    table.revoke(2n);
    table.reset([[3n, 7]], () => {});
    expect(leaseClock.remainingSeconds(3n)).toBe(0);
    expect(clock.pendingCount).toBe(0);
  });
});

describe('LeaseClock.promote', () => {
  it('gives every lease its TTL plus extendMs from now', () => {
    const { clock, table, leaseClock, proposals } = setup();
    table.grant(1n, 2);
    table.grant(2n, 10);
    clock.advance(12_345);
    leaseClock.promote();
    expect(leaseClock.isPrimary).toBe(true);
    expect(leaseClock.remainingSeconds(1n)).toBe(3);
    expect(leaseClock.remainingSeconds(2n)).toBe(11);
    // Lease 1 expires at 12,345 + 3,000: the first check at or after it proposes it.
    clock.advanceTo(15_344);
    expect(proposals).toEqual([]);
    expect(leaseClock.renew(1n)).toBe(2); // still alive one millisecond before
  });

  it('first proposes a lease when its extended deadline has passed', () => {
    const { clock, table, leaseClock, proposals } = setup();
    table.grant(1n, 2);
    leaseClock.promote();
    clock.advanceTo(2999);
    expect(proposals).toEqual([]);
    clock.advanceTo(3000);
    expect(proposals).toEqual([[3000, 1n]]);
  });

  it('a second promote changes no deadline', () => {
    const { clock, table, leaseClock } = setup();
    table.grant(1n, 10);
    leaseClock.promote();
    clock.advance(4000);
    leaseClock.promote();
    expect(leaseClock.remainingSeconds(1n)).toBe(7);
    expect(clock.pendingCount).toBe(1);
  });

  it('checks every checkIntervalMs while primary (one timer at a time)', () => {
    const { clock, leaseClock } = setup();
    leaseClock.promote();
    expect(clock.pendingCount).toBe(1);
    expect(clock.nextDueAt()).toBe(500);
    expect(clock.advance(2000)).toBe(4);
    expect(clock.pendingCount).toBe(1);
    expect(clock.nextDueAt()).toBe(2500);
  });
});

describe('LeaseClock.renew', () => {
  it('resets the deadline to the TTL from now and returns the TTL', () => {
    const { clock, table, leaseClock, proposals } = setup();
    table.grant(1n, 2);
    leaseClock.promote(); // deadline 3000
    clock.advanceTo(2500);
    expect(leaseClock.renew(1n)).toBe(2); // deadline 4500, no extension this time
    expect(leaseClock.remainingSeconds(1n)).toBe(2);
    clock.advanceTo(4499);
    expect(proposals).toEqual([]);
    expect(leaseClock.remainingSeconds(1n)).toBe(0);
    clock.advanceTo(4500);
    expect(proposals).toEqual([[4500, 1n]]);
  });

  it('keeps a lease alive as long as it is renewed in time', () => {
    const { clock, table, leaseClock, proposals } = setup();
    table.grant(1n, 1);
    leaseClock.promote();
    for (let i = 0; i < 20; i++) {
      clock.advance(900);
      expect(leaseClock.renew(1n)).toBe(1);
    }
    expect(proposals).toEqual([]);
  });

  it('refuses an expired lease with notFound, even before a check proposed its revocation', () => {
    const { clock, table, leaseClock, proposals } = setup({ checkIntervalMs: 60_000 });
    table.grant(1n, 1);
    leaseClock.promote(); // deadline 2000
    clock.advanceTo(2000);
    expect(refusal(() => leaseClock.renew(1n))).toBe('notFound');
    expect(proposals).toEqual([]);
    // And it is not brought back by the refused renew: the check revokes it.
    clock.advanceTo(60_000);
    expect(proposals).toEqual([[60_000, 1n]]);
    expect(refusal(() => leaseClock.renew(1n))).toBe('notFound');
  });

  it('refuses an unknown lease with notFound', () => {
    const { leaseClock } = setup();
    leaseClock.promote();
    expect(refusal(() => leaseClock.renew(42n))).toBe('notFound');
  });

  it('uses the TTL of the lease in the table', () => {
    const { clock, table, leaseClock } = setup();
    table.grant(1n, 30);
    leaseClock.promote();
    clock.advance(25_000);
    expect(leaseClock.renew(1n)).toBe(30);
    expect(leaseClock.remainingSeconds(1n)).toBe(30);
  });
});

describe('LeaseClock expiry', () => {
  it('proposes the revocation of an expired lease once, then again after retryMs while it exists', () => {
    const { clock, table, leaseClock, proposals } = setup();
    leaseClock.promote();
    table.grant(1n, 1); // granted while primary: deadline 1000, no extension
    clock.advanceTo(1000);
    expect(proposals).toEqual([[1000, 1n]]);
    clock.advanceTo(3999);
    expect(proposals).toEqual([[1000, 1n]]);
    clock.advanceTo(4000);
    expect(proposals).toEqual([
      [1000, 1n],
      [4000, 1n],
    ]);
    clock.advanceTo(7000);
    expect(proposals.map(([at]) => at)).toEqual([1000, 4000, 7000]);
  });

  it('stops proposing once the revocation was applied', () => {
    const { clock, table, leaseClock, proposals } = setup();
    leaseClock.promote();
    table.grant(1n, 1);
    clock.advanceTo(1000);
    table.revoke(1n); // the proposal committed and was applied
    clock.advance(20_000);
    expect(proposals).toEqual([[1000, 1n]]);
    expect(leaseClock.remainingSeconds(1n)).toBe(0);
  });

  it('reports a failed proposal to onError and retries it after retryMs', async () => {
    const failure = new Error('proposal dropped');
    const { clock, table, leaseClock, proposals, errors } = setup({}, () =>
      Promise.reject(failure),
    );
    leaseClock.promote();
    table.grant(7n, 1);
    clock.advanceTo(1000);
    await flush();
    expect(errors).toEqual([[7n, failure]]);
    clock.advanceTo(3500);
    expect(proposals).toHaveLength(1);
    clock.advanceTo(4000);
    await flush();
    expect(proposals).toEqual([
      [1000, 7n],
      [4000, 7n],
    ]);
    expect(errors).toHaveLength(2);
  });

  it('proposes at most maxRevokesPerCheck revocations per check; the rest at the next checks', () => {
    const { clock, table, leaseClock, proposals } = setup({ maxRevokesPerCheck: 2 });
    leaseClock.promote();
    for (let id = 1n; id <= 5n; id++) table.grant(id, 1);
    clock.advanceTo(1000);
    expect(proposals).toEqual([
      [1000, 1n],
      [1000, 2n],
    ]);
    clock.advanceTo(1500);
    expect(proposals.slice(2)).toEqual([
      [1500, 3n],
      [1500, 4n],
    ]);
    clock.advanceTo(2000);
    expect(proposals.slice(4)).toEqual([[2000, 5n]]);
    // Every lease proposed once so far; the retries come retryMs after each first proposal,
    // still at most two per check.
    clock.advanceTo(3999);
    expect(proposals).toHaveLength(5);
    clock.advanceTo(4000);
    expect(proposals.slice(5)).toEqual([
      [4000, 1n],
      [4000, 2n],
    ]);
  });

  it('does not propose leases that have not expired, however many expire', () => {
    const { clock, table, leaseClock, proposals } = setup({ maxRevokesPerCheck: 1 });
    leaseClock.promote();
    table.grant(1n, 100);
    table.grant(2n, 1);
    clock.advanceTo(1000);
    expect(proposals).toEqual([[1000, 2n]]);
  });

  it('uses the defaults: a check every 500 ms, a retry after 3 s', () => {
    const clock = new ManualClock(0);
    const table = new LeaseTable();
    const proposals: [number, bigint][] = [];
    const leaseClock = new LeaseClock({
      table,
      extendMs: 0,
      clock,
      revoke: (id) => {
        proposals.push([clock.now(), id]);
        return Promise.resolve();
      },
    });
    leaseClock.promote();
    expect(clock.nextDueAt()).toBe(500);
    table.grant(1n, 1);
    clock.advanceTo(4000);
    expect(proposals).toEqual([
      [1000, 1n],
      [4000, 1n],
    ]);
  });
});

describe('LeaseClock table events while primary', () => {
  it('granted: the new lease gets its TTL from now, with no extension', () => {
    const { clock, table, leaseClock } = setup();
    leaseClock.promote();
    clock.advance(10_000);
    table.grant(1n, 5);
    expect(leaseClock.remainingSeconds(1n)).toBe(5);
    expect(leaseClock.renew(1n)).toBe(5);
  });

  it('revoked: the deadline is forgotten and renew refuses', () => {
    const { table, leaseClock } = setup();
    table.grant(1n, 5);
    leaseClock.promote();
    table.revoke(1n);
    expect(leaseClock.remainingSeconds(1n)).toBe(0);
    expect(refusal(() => leaseClock.renew(1n))).toBe('notFound');
  });

  it('revoked then granted again: the new lease starts afresh and is proposed again when it expires', () => {
    const { clock, table, leaseClock, proposals } = setup();
    leaseClock.promote();
    table.grant(1n, 1);
    clock.advanceTo(1000);
    table.revoke(1n);
    table.grant(1n, 1); // deadline 2000
    clock.advanceTo(1500);
    expect(proposals).toEqual([[1000, 1n]]);
    clock.advanceTo(2000);
    expect(proposals).toEqual([
      [1000, 1n],
      [2000, 1n],
    ]);
  });

  it('reset: leases gone are forgotten, new ones get TTL plus extendMs, kept ones keep their deadline', () => {
    const { clock, table, leaseClock, proposals } = setup();
    table.grant(1n, 10);
    table.grant(2n, 10);
    leaseClock.promote(); // deadlines 11,000
    clock.advanceTo(5000);
    table.reset(
      [
        [2n, 10],
        [3n, 4],
      ],
      () => {},
    );
    expect(leaseClock.remainingSeconds(1n)).toBe(0);
    expect(refusal(() => leaseClock.renew(1n))).toBe('notFound');
    expect(leaseClock.remainingSeconds(2n)).toBe(6); // still 11,000
    expect(leaseClock.remainingSeconds(3n)).toBe(5); // 5000 + 4000 + 1000
    clock.advanceTo(10_000);
    expect(proposals).toEqual([[10_000, 3n]]);
    clock.advanceTo(11_000);
    expect(proposals).toEqual([
      [10_000, 3n],
      [11_000, 2n],
    ]);
  });
});

describe('LeaseClock.demote', () => {
  it('forgets every deadline, stops checking and proposing', () => {
    const { clock, table, leaseClock, proposals } = setup();
    table.grant(1n, 1);
    table.grant(2n, 100);
    leaseClock.promote();
    clock.advanceTo(2000);
    expect(proposals).toEqual([[2000, 1n]]);
    leaseClock.demote();
    expect(leaseClock.isPrimary).toBe(false);
    expect(clock.pendingCount).toBe(0);
    expect(leaseClock.remainingSeconds(2n)).toBe(0);
    expect(refusal(() => leaseClock.renew(2n))).toBe('notFound');
    clock.advance(1_000_000);
    expect(proposals).toEqual([[2000, 1n]]);
    // Grants heard while not primary set no deadline either.
    table.grant(3n, 1);
    clock.advance(10_000);
    expect(proposals).toEqual([[2000, 1n]]);
  });

  it('promoted again, gives every lease its whole TTL plus extendMs again and proposes afresh', () => {
    const { clock, table, leaseClock, proposals } = setup();
    table.grant(1n, 1);
    leaseClock.promote();
    clock.advanceTo(2000);
    expect(proposals).toEqual([[2000, 1n]]);
    leaseClock.demote();
    clock.advanceTo(10_000);
    table.grant(2n, 3); // granted under another leader
    leaseClock.promote();
    expect(leaseClock.remainingSeconds(1n)).toBe(2);
    expect(leaseClock.remainingSeconds(2n)).toBe(4);
    expect(leaseClock.renew(1n)).toBe(1);
    clock.advanceTo(11_000);
    // The earlier proposal was forgotten: lease 1 is proposed as soon as it expires again.
    expect(proposals).toEqual([
      [2000, 1n],
      [11_000, 1n],
    ]);
  });

  it('is harmless when not primary', () => {
    const { clock, leaseClock } = setup();
    leaseClock.demote();
    expect(leaseClock.isPrimary).toBe(false);
    expect(clock.pendingCount).toBe(0);
  });
});

describe('LeaseClock.remainingSeconds', () => {
  it('counts whole seconds left, rounding down, and 0 once expired', () => {
    const { clock, table, leaseClock } = setup({ checkIntervalMs: 100_000 });
    leaseClock.promote();
    table.grant(1n, 5); // deadline 5000
    expect(leaseClock.remainingSeconds(1n)).toBe(5);
    clock.advanceTo(1);
    expect(leaseClock.remainingSeconds(1n)).toBe(4);
    clock.advanceTo(4000);
    expect(leaseClock.remainingSeconds(1n)).toBe(1);
    clock.advanceTo(4001);
    expect(leaseClock.remainingSeconds(1n)).toBe(0);
    clock.advanceTo(5000);
    expect(leaseClock.remainingSeconds(1n)).toBe(0);
    clock.advanceTo(9000);
    expect(leaseClock.remainingSeconds(1n)).toBe(0);
  });

  it('is 0 for a lease it does not know', () => {
    const { leaseClock } = setup();
    leaseClock.promote();
    expect(leaseClock.remainingSeconds(99n)).toBe(0);
  });
});

describe('LeaseClock.close', () => {
  it('stops the checks for good: promote does nothing afterwards', () => {
    const { clock, table, leaseClock, proposals } = setup();
    table.grant(1n, 1);
    leaseClock.promote();
    leaseClock.close();
    expect(leaseClock.isPrimary).toBe(false);
    expect(clock.pendingCount).toBe(0);
    leaseClock.promote();
    expect(leaseClock.isPrimary).toBe(false);
    expect(clock.pendingCount).toBe(0);
    expect(refusal(() => leaseClock.renew(1n))).toBe('notFound');
    table.grant(2n, 1);
    clock.advance(100_000);
    expect(proposals).toEqual([]);
  });

  it('can be called before any promote and twice', () => {
    const { clock, leaseClock } = setup();
    leaseClock.close();
    leaseClock.close();
    leaseClock.promote();
    expect(clock.pendingCount).toBe(0);
  });
});

/**
 * stalled is a LeaseClock (checks every 500 ms, no extension) on a clock whose one pending
 * timeout fires only when the test says — at any time, as after a stall of the member.
 */
function stalled() {
  let now = 0;
  let pending: (() => void) | undefined;
  const clock = {
    now: () => now,
    setTimeout: (callback: () => void) => {
      pending = callback;
      return { clock } as never;
    },
    clearTimeout: () => {
      pending = undefined;
    },
  };
  /** fireAt moves the time to `time` and runs the pending timeout (the next check). */
  const fireAt = (time: number) => {
    now = time;
    const callback = pending;
    pending = undefined;
    callback?.();
  };
  const table = new LeaseTable();
  const proposals: bigint[] = [];
  const stalls: number[] = [];
  const leaseClock = new LeaseClock({
    table,
    extendMs: 0,
    checkIntervalMs: 500,
    clock,
    revoke: (id) => {
      proposals.push(id);
      return Promise.resolve();
    },
    onStall: (late) => stalls.push(late),
  });
  return {
    table,
    leaseClock,
    proposals,
    stalls,
    fireAt,
    setNow: (time: number) => {
      now = time;
    },
  };
}

describe('LeaseClock after a stall of its own member', () => {
  it('moves every deadline by the stall instead of expiring leases kept alive in time', () => {
    const { table, leaseClock, proposals, stalls, fireAt } = stalled();
    table.grant(1n, 2);
    leaseClock.promote(); // deadline 2,000
    fireAt(500);
    fireAt(1000);
    // The member stalls from 1,000 to 6,000: the check due at 1,500 runs at 6,000.
    fireAt(6000);
    expect(stalls).toEqual([4500]);
    expect(proposals).toEqual([]);
    // The keep-alive that waited through the stall renews it.
    expect(leaseClock.renew(1n)).toBe(2);
    // Without further keep-alives it expires on time, measured from then.
    fireAt(6500);
    fireAt(7000);
    fireAt(7500);
    expect(proposals).toEqual([]);
    fireAt(8000);
    expect(proposals).toEqual([1n]);
  });

  it('a check on time moves nothing', () => {
    const { table, leaseClock, proposals, stalls, fireAt } = stalled();
    table.grant(1n, 1);
    leaseClock.promote();
    fireAt(500);
    fireAt(1000);
    expect(stalls).toEqual([]);
    expect(proposals).toEqual([1n]);
  });

  it('renews a lease whose keep-alive is read before the overdue check runs', () => {
    const { table, leaseClock, proposals, stalls, fireAt, setNow } = stalled();
    table.grant(1n, 2);
    leaseClock.promote(); // deadline 2,000; the first check is due at 500
    setNow(5000); // stalled: the check never ran
    expect(leaseClock.renew(1n)).toBe(2);
    expect(stalls).toEqual([4500]);
    // The overdue check then runs and finds nothing expired, and no second stall.
    fireAt(5000);
    expect(proposals).toEqual([]);
    expect(stalls).toEqual([4500]);
  });
});
