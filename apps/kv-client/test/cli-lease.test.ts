import { Readable } from 'node:stream';
import { status } from '@grpc/grpc-js';
import type { ResponseHeader } from '@raftkit/rpc/etcd';
import { describe, expect, it } from 'vitest';
import {
  EXIT_BAD_ARGS,
  EXIT_BAD_CONNECTION,
  EXIT_BAD_FEATURE,
  EXIT_INTERRUPTED,
  parseCommandLine,
  UsageError,
  usageText,
} from '../src/cli/args.js';
import {
  formatLeaseGrant,
  formatLeaseId,
  formatLeaseKeepAlive,
  formatLeaseKeepAliveEnd,
  formatLeaseList,
  formatLeaseRevoke,
  formatLeaseTimeToLive,
  type Output,
} from '../src/cli/format.js';
import { type ClientLike, runCli } from '../src/cli/main.js';
import {
  leaseGrantCommand,
  leaseIdCommand,
  parseGoInt,
  parseLeaseId,
} from '../src/cli/requests.js';
import { ETCD_ERRORS, KvClientError } from '../src/errors.js';
import type { LeaseKeepAlive, LeaseKeepAliveEnd, LeaseKeepAliveOptions } from '../src/index.js';

const text = (output: Output): string =>
  output.map((line) => Buffer.from(line).toString()).join('\n');

// A single-member etcd 3.4.23 as it answered `etcdctl lease …` (ids as it printed them).
const header: ResponseHeader = {
  clusterId: 7801232528081817440n,
  memberId: 13458989633860879742n,
  revision: 3n,
  raftTerm: 2n,
};
const HEADER_JSON =
  '"cluster_id":7801232528081817440,"member_id":13458989633860879742,"revision":3,"raft_term":2';
const ID = 0x457ea21292e66612n;

function usage(run: () => unknown): [string, number] {
  try {
    run();
  } catch (error) {
    if (error instanceof UsageError) return [error.message, error.exitCode];
  }
  throw new Error('no UsageError');
}

describe('lease command lines', () => {
  it('reads ids and TTLs as Go’s strconv.ParseInt', () => {
    expect(parseLeaseId('457ea21292e66612')).toBe(ID);
    expect(parseLeaseId('+1a')).toBe(0x1an);
    expect(parseLeaseId('-1')).toBe(-1n);
    expect(parseLeaseId('7FFFFFFFFFFFFFFF')).toBe(0x7fffffffffffffffn);
    expect(parseLeaseId('-8000000000000000')).toBe(-(1n << 63n));
    expect(() => parseLeaseId('0x1')).toThrow('strconv.ParseInt: parsing "0x1": invalid syntax');
    expect(() => parseLeaseId('')).toThrow('strconv.ParseInt: parsing "": invalid syntax');
    expect(() => parseLeaseId('-')).toThrow('invalid syntax');
    expect(() => parseLeaseId('8000000000000000')).toThrow(
      'strconv.ParseInt: parsing "8000000000000000": value out of range',
    );
    // Go reports the overflow it meets first, before a later bad character.
    expect(() => parseLeaseId('fffffffffffffffffz')).toThrow('value out of range');
    expect(() => parseLeaseId('ffffffffffffffffz')).toThrow('invalid syntax');
    expect(parseGoInt('+7', 10)).toBe(7n);
    expect(() => parseGoInt('1.5', 10)).toThrow('parsing "1.5": invalid syntax');
    expect(() => parseGoInt('1a', 10)).toThrow('invalid syntax');
    expect(() => parseGoInt('9223372036854775808', 10)).toThrow('value out of range');
  });

  it('checks arguments with etcdctl’s messages and exit code 128', () => {
    expect(leaseGrantCommand(['10'])).toBe(10n);
    expect(usage(() => leaseGrantCommand([]))).toEqual([
      'lease grant command needs TTL argument',
      EXIT_BAD_ARGS,
    ]);
    expect(usage(() => leaseGrantCommand(['10', 'x']))[0]).toBe(
      'lease grant command needs TTL argument',
    );
    expect(usage(() => leaseGrantCommand(['x']))).toEqual([
      'bad TTL (strconv.ParseInt: parsing "x": invalid syntax)',
      EXIT_BAD_ARGS,
    ]);
    expect(leaseIdCommand(['ff'], 'missing')).toBe(255n);
    expect(usage(() => leaseIdCommand([], 'lease revoke command needs 1 argument'))).toEqual([
      'lease revoke command needs 1 argument',
      EXIT_BAD_ARGS,
    ]);
    expect(usage(() => leaseIdCommand(['1', '2'], 'missing'))[0]).toBe('missing');
    expect(usage(() => leaseIdCommand(['zz'], 'missing'))).toEqual([
      'bad lease ID arg (strconv.ParseInt: parsing "zz": invalid syntax), expecting ID in Hex',
      EXIT_BAD_ARGS,
    ]);
  });

  it('parses subcommands with their own flags, strictly', () => {
    expect(parseCommandLine(['lease', 'timetolive', 'ab', '--keys'])).toMatchObject({
      command: 'lease',
      args: ['timetolive', 'ab'],
      flags: { keys: true },
    });
    expect(parseCommandLine(['lease', 'keep-alive', '--once', 'ab']).flags).toEqual({
      once: true,
    });
    expect(parseCommandLine(['lease', 'timetolive', '--', '-1']).args).toEqual([
      'timetolive',
      '-1',
    ]);
    expect(() => parseCommandLine(['lease', 'list', '--keys'])).toThrow('unknown flag: --keys');
    expect(() => parseCommandLine(['lease', 'grant', '10', '--once'])).toThrow(
      'unknown flag: --once',
    );
    expect(() => parseCommandLine(['lease', 'frob'])).toThrow(
      'unknown command "frob" for "raftkitctl lease" (use one of: grant, keep-alive, list, revoke, timetolive)',
    );
  });

  it('has help for the group and each subcommand', () => {
    expect(usageText('lease')).toContain('lease keep-alive [--once] <leaseID>');
    expect(usageText('lease', 'timetolive')).toMatch(/^raftkitctl lease timetolive <leaseID>/);
    expect(usageText('lease', 'timetolive')).toContain('--keys');
    expect(usageText()).toContain('lease grant <ttl>');
  });
});

describe('lease output (captured from etcdctl 3.4.23)', () => {
  it('prints ids as Go’s %016x of an int64', () => {
    expect(formatLeaseId(ID)).toBe('457ea21292e66612');
    expect(formatLeaseId(0x1234n)).toBe('0000000000001234');
    expect(formatLeaseId(0n)).toBe('0000000000000000');
    expect(formatLeaseId(-1n)).toBe('-000000000000001');
    expect(formatLeaseId(-(1n << 63n))).toBe('-8000000000000000');
  });

  it('lease grant', () => {
    const response = { header, ID, TTL: 100n, error: '' };
    expect(text(formatLeaseGrant(response, 'simple'))).toBe(
      'lease 457ea21292e66612 granted with TTL(100s)',
    );
    expect(text(formatLeaseGrant(response, 'json'))).toBe(
      `{${HEADER_JSON},"ID":5007618036340254226,"TTL":100,"Error":""}`,
    );
    // Go's encoding/json escapes <, > and & in strings.
    expect(text(formatLeaseGrant({ ...response, header: null, error: '<a&b>' }, 'json'))).toBe(
      '{"ID":5007618036340254226,"TTL":100,"Error":"\\u003ca\\u0026b\\u003e"}',
    );
  });

  it('lease revoke', () => {
    expect(text(formatLeaseRevoke(ID, { header }, 'simple'))).toBe(
      'lease 457ea21292e66612 revoked',
    );
    expect(text(formatLeaseRevoke(ID, { header }, 'json'))).toBe(`{"header":{${HEADER_JSON}}}`);
  });

  it('lease timetolive, with and without keys, and for a lease that is gone', () => {
    const live = {
      header,
      ID,
      TTL: 99n,
      grantedTTL: 100n,
      keys: [Buffer.from('k1'), Buffer.from('k2')],
    };
    expect(text(formatLeaseTimeToLive(live, 'simple', false))).toBe(
      'lease 457ea21292e66612 granted with TTL(100s), remaining(99s)',
    );
    expect(text(formatLeaseTimeToLive(live, 'simple', true))).toBe(
      'lease 457ea21292e66612 granted with TTL(100s), remaining(99s), attached keys([k1 k2])',
    );
    expect(text(formatLeaseTimeToLive({ ...live, keys: [] }, 'simple', true))).toBe(
      'lease 457ea21292e66612 granted with TTL(100s), remaining(99s), attached keys([])',
    );
    expect(text(formatLeaseTimeToLive(live, 'json', true))).toBe(
      `{${HEADER_JSON},"id":5007618036340254226,"ttl":99,"granted-ttl":100,"keys":["azE=","azI="]}`,
    );
    expect(text(formatLeaseTimeToLive({ ...live, keys: [] }, 'json', false))).toBe(
      `{${HEADER_JSON},"id":5007618036340254226,"ttl":99,"granted-ttl":100,"keys":null}`,
    );
    const gone = { header, ID: 0x1234n, TTL: -1n, grantedTTL: 0n, keys: [] };
    expect(text(formatLeaseTimeToLive(gone, 'simple', true))).toBe(
      'lease 0000000000001234 already expired',
    );
    expect(text(formatLeaseTimeToLive(gone, 'json', false))).toBe(
      `{${HEADER_JSON},"id":4660,"ttl":-1,"granted-ttl":0,"keys":null}`,
    );
    // Keys are printed as raw bytes.
    const raw = formatLeaseTimeToLive(
      { ...live, keys: [Uint8Array.of(0xff, 0x61)] },
      'simple',
      true,
    );
    expect(Buffer.from(raw[0] as Uint8Array).subarray(-5)).toEqual(
      Buffer.from([0x5b, 0xff, 0x61, 0x5d, 0x29]),
    );
  });

  it('lease list', () => {
    const leases = { header, leases: [{ ID: 0x457ea21292e6660dn }, { ID: 0x457ea21292e66605n }] };
    expect(text(formatLeaseList(leases, 'simple'))).toBe(
      'found 2 leases\n457ea21292e6660d\n457ea21292e66605',
    );
    expect(text(formatLeaseList(leases, 'json'))).toBe(
      `{${HEADER_JSON},"leases":[{"id":5007618036340254221},{"id":5007618036340254213}]}`,
    );
    expect(text(formatLeaseList({ header, leases: [] }, 'simple'))).toBe('found 0 leases');
    expect(text(formatLeaseList({ header, leases: [] }, 'json'))).toBe(
      `{${HEADER_JSON},"leases":[]}`,
    );
  });

  it('lease keep-alive', () => {
    const response = { header, ID, TTL: 100n };
    expect(text(formatLeaseKeepAlive(response, 'simple'))).toBe(
      'lease 457ea21292e66612 keepalived with TTL(100)',
    );
    expect(text(formatLeaseKeepAlive(response, 'json'))).toBe(
      `{${HEADER_JSON},"ID":5007618036340254226,"TTL":100}`,
    );
    expect(text(formatLeaseKeepAliveEnd(0x1234n, 'simple'))).toBe(
      'lease 0000000000001234 expired or revoked.',
    );
    expect(formatLeaseKeepAliveEnd(0x1234n, 'json')).toEqual([]);
  });
});

/** FakeKeepAlive stands in for a LeaseKeepAlive the test drives by hand. */
interface FakeKeepAlive {
  readonly options: LeaseKeepAliveOptions;
  closed: boolean;
  renew(ttl: bigint): void;
  end(end: LeaseKeepAliveEnd): void;
}

function fakeClient(calls: unknown[][], keepAlives: FakeKeepAlive[], fail?: KvClientError) {
  const answer = <T>(name: string, args: unknown[], value: T): Promise<T> => {
    calls.push([name, ...args]);
    return fail ? Promise.reject(fail) : Promise.resolve(value);
  };
  const client: Partial<ClientLike> = {
    leaseGrant: (...args) => answer('leaseGrant', args, { header, ID, TTL: 10n, error: '' }),
    leaseRevoke: (...args) => answer('leaseRevoke', args, { header }),
    leaseTimeToLive: (...args) =>
      answer('leaseTimeToLive', args, { header, ID, TTL: 9n, grantedTTL: 10n, keys: [] }),
    leaseLeases: (...args) => answer('leaseLeases', args, { header, leases: [{ ID }] }),
    leaseKeepAliveOnce: (...args) => answer('leaseKeepAliveOnce', args, { header, ID, TTL: 10n }),
    leaseKeepAlive: (id, options = {}) => {
      calls.push(['leaseKeepAlive', id]);
      let resolve: (end: LeaseKeepAliveEnd) => void = () => {};
      const done = new Promise<LeaseKeepAliveEnd>((r) => {
        resolve = r;
      });
      const fake: FakeKeepAlive = {
        options,
        closed: false,
        renew: (ttl) => options.onResponse?.({ header, ID: id as bigint, TTL: ttl }),
        end: resolve,
      };
      keepAlives.push(fake);
      return {
        done,
        close: () => {
          fake.closed = true;
          resolve({ reason: 'closed' });
        },
      } as unknown as LeaseKeepAlive;
    },
    close: () => {
      calls.push(['close']);
    },
  };
  return client as ClientLike;
}

interface RunOptions {
  fail?: KvClientError;
  /** drive runs against the keep-alives once the command has started one. */
  drive?: (keepAlive: FakeKeepAlive, interrupt: () => void) => void;
}

async function run(argv: string[], options: RunOptions = {}) {
  let stdout = '';
  let stderr = '';
  const calls: unknown[][] = [];
  const keepAlives: FakeKeepAlive[] = [];
  let interruptHandler: (() => void) | undefined;
  let listening = false;
  const io = {
    stdout: { write: (chunk: string | Uint8Array) => (stdout += Buffer.from(chunk).toString()) },
    stderr: { write: (chunk: string | Uint8Array) => (stderr += Buffer.from(chunk).toString()) },
    stdin: Readable.from([]),
  };
  const pending = runCli(argv, io, {
    makeClient: () => fakeClient(calls, keepAlives, options.fail),
    onInterrupt: (handler) => {
      interruptHandler = handler;
      listening = true;
      return () => {
        listening = false;
      };
    },
  });
  if (options.drive !== undefined) {
    for (let i = 0; i < 100 && keepAlives.length === 0; i++) await Promise.resolve();
    const keepAlive = keepAlives[0];
    if (keepAlive === undefined) throw new Error('no keep-alive started');
    options.drive(keepAlive, () => interruptHandler?.());
  }
  const code = await pending;
  return { code, stdout, stderr, calls, keepAlives, listening };
}

describe('raftkitctl lease (no server)', () => {
  it('grant, revoke, timetolive, list and keep-alive --once call the client and print', async () => {
    const grant = await run(['lease', 'grant', '10']);
    expect(grant).toMatchObject({
      code: 0,
      stdout: 'lease 457ea21292e66612 granted with TTL(10s)\n',
    });
    expect(grant.calls).toEqual([['leaseGrant', 10n], ['close']]);
    const revoke = await run(['lease', 'revoke', '457ea21292e66612']);
    expect(revoke.stdout).toBe('lease 457ea21292e66612 revoked\n');
    expect(revoke.calls[0]).toEqual(['leaseRevoke', ID]);
    const ttl = await run(['lease', 'timetolive', '457ea21292e66612', '--keys']);
    expect(ttl.calls[0]).toEqual(['leaseTimeToLive', ID, { keys: true }]);
    expect(ttl.stdout).toBe(
      'lease 457ea21292e66612 granted with TTL(10s), remaining(9s), attached keys([])\n',
    );
    expect((await run(['lease', 'list'])).stdout).toBe('found 1 leases\n457ea21292e66612\n');
    const once = await run(['lease', 'keep-alive', '--once', '457ea21292e66612', '-w', 'json']);
    expect(once.calls[0]).toEqual(['leaseKeepAliveOnce', ID]);
    expect(once.stdout).toBe(`{${HEADER_JSON},"ID":5007618036340254226,"TTL":10}\n`);
  });

  it('exits as etcdctl on failures: 1 for grant and revoke, 2 for the others', async () => {
    const notFound = new KvClientError(status.NOT_FOUND, ETCD_ERRORS.leaseNotFound);
    expect(await run(['lease', 'revoke', '1234'], { fail: notFound })).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'Error: failed to revoke lease (etcdserver: requested lease not found)\n',
    });
    const tooLarge = new KvClientError(status.OUT_OF_RANGE, ETCD_ERRORS.leaseTtlTooLarge);
    expect(await run(['lease', 'grant', '99999999999'], { fail: tooLarge })).toMatchObject({
      code: 1,
      stderr: 'Error: failed to grant lease (etcdserver: too large lease TTL)\n',
    });
    expect(await run(['lease', 'keep-alive', '--once', '1234'], { fail: notFound })).toMatchObject({
      code: EXIT_BAD_CONNECTION,
      stderr: 'Error: etcdserver: requested lease not found\n',
    });
    const down = new KvClientError(status.UNAVAILABLE, 'connection refused');
    expect((await run(['lease', 'timetolive', '1'], { fail: down })).code).toBe(
      EXIT_BAD_CONNECTION,
    );
    expect((await run(['lease', 'list'], { fail: down })).code).toBe(EXIT_BAD_CONNECTION);
  });

  it('refuses bad arguments (128) and -w table (4) before sending anything', async () => {
    const bad = await run(['lease', 'timetolive', 'zz']);
    expect(bad).toMatchObject({
      code: EXIT_BAD_ARGS,
      stderr:
        'Error: bad lease ID arg (strconv.ParseInt: parsing "zz": invalid syntax), expecting ID in Hex\n',
    });
    expect(bad.calls).toEqual([['close']]);
    expect((await run(['lease', 'grant'])).code).toBe(EXIT_BAD_ARGS);
    expect((await run(['lease', 'keep-alive'])).code).toBe(EXIT_BAD_ARGS);
    const table = await run(['lease', 'grant', '10', '-w', 'table']);
    expect(table.code).toBe(EXIT_BAD_FEATURE);
    expect(table.calls).toEqual([['close']]);
    expect((await run(['lease', 'list', '-w', 'table'])).code).toBe(EXIT_BAD_FEATURE);
    expect(await run(['lease', 'list', 'x'])).toMatchObject({ code: 1, stdout: '' });
    const help = await run(['lease']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('lease timetolive <leaseID> [--keys]');
  });

  it('keep-alive prints each renewal, then etcdctl’s line when the lease is gone', async () => {
    const result = await run(['lease', 'keep-alive', '1234'], {
      drive: (keepAlive) => {
        keepAlive.renew(3n);
        keepAlive.renew(3n);
        keepAlive.end({ reason: 'leaseNotFound' });
      },
    });
    expect(result).toMatchObject({
      code: 0,
      stdout:
        'lease 0000000000001234 keepalived with TTL(3)\n'.repeat(2) +
        'lease 0000000000001234 expired or revoked.\n',
      listening: false,
    });
    expect(result.calls).toEqual([['leaseKeepAlive', 0x1234n], ['close']]);
    const json = await run(['lease', 'keep-alive', '-w', 'json', '1234'], {
      drive: (keepAlive) => {
        keepAlive.renew(3n);
        keepAlive.end({ reason: 'expired' });
      },
    });
    expect(json).toMatchObject({
      code: 0,
      stdout: `{${HEADER_JSON},"ID":4660,"TTL":3}\n`,
    });
  });

  it('keep-alive stops on SIGINT (130) and exits 2 when the stream fails for good', async () => {
    const interrupted = await run(['lease', 'keep-alive', '1234'], {
      drive: (keepAlive, interrupt) => {
        keepAlive.renew(3n);
        interrupt();
      },
    });
    expect(interrupted).toMatchObject({
      code: EXIT_INTERRUPTED,
      stdout: 'lease 0000000000001234 keepalived with TTL(3)\n',
      stderr: '',
      listening: false,
    });
    expect(interrupted.keepAlives[0]?.closed).toBe(true);
    const error = new KvClientError(status.PERMISSION_DENIED, ETCD_ERRORS.permissionDenied);
    const failed = await run(['lease', 'keep-alive', '1234'], {
      drive: (keepAlive) => keepAlive.end({ reason: 'failed', error }),
    });
    expect(failed).toMatchObject({
      code: EXIT_BAD_CONNECTION,
      stdout: '',
      stderr: 'Error: etcdserver: permission denied\n',
    });
  });
});
