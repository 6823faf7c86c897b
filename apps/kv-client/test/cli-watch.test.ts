import { Readable } from 'node:stream';
import { status } from '@grpc/grpc-js';
import { EventType, type KeyValue, type WatchResponse } from '@raftkit/rpc/etcd';
import { describe, expect, it } from 'vitest';
import {
  EXIT_BAD_ARGS,
  EXIT_BAD_FEATURE,
  EXIT_INTERRUPTED,
  EXIT_SERVER_INTERRUPTED,
  parseCommandLine,
  UsageError,
  usageText,
} from '../src/cli/args.js';
import { formatWatchFailure, formatWatchResponse, type Output } from '../src/cli/format.js';
import { type ClientLike, runCli } from '../src/cli/main.js';
import { watchCommand } from '../src/cli/watch.js';
import {
  type KeyInput,
  KvClientError,
  type Watch,
  type WatchBatch,
  WatchCanceledError,
  type WatchOptions,
} from '../src/index.js';
import { watchResponse } from './fake-server.js';

const text = (output: Output): string =>
  output.map((line) => `${Buffer.from(line).toString()}\n`).join('');

// A single-member etcd 3.4.23, as `etcdctl watch w/ --prefix --rev 1 [--prev-kv]`
// printed it after `put w/a 1`, `put w/b 2`, `del w/a`, `put w/b 3`.
const header = {
  clusterId: 15118495548433857066n,
  memberId: 13668033151171901709n,
  revision: 5n,
  raftTerm: 2n,
};
const HEADER_JSON =
  '"cluster_id":15118495548433857066,"member_id":13668033151171901709,"revision":5,"raft_term":2';

function kv(key: string, value: string, create: bigint, mod: bigint, version: bigint): KeyValue {
  return {
    key: Buffer.from(key),
    createRevision: create,
    modRevision: mod,
    version,
    value: Buffer.from(value),
    lease: 0n,
  };
}

function batch(fields: Partial<WatchResponse>): WatchBatch {
  return { progressNotify: false, ...watchResponse({ header, ...fields }) };
}

const replay = batch({
  events: [
    { type: EventType.PUT, kv: kv('w/a', '1', 2n, 2n, 1n), prevKv: null },
    { type: EventType.PUT, kv: kv('w/b', '2', 3n, 3n, 1n), prevKv: null },
    { type: EventType.DELETE, kv: kv('w/a', '', 0n, 4n, 0n), prevKv: kv('w/a', '1', 2n, 2n, 1n) },
    { type: EventType.PUT, kv: kv('w/b', '3', 3n, 5n, 2n), prevKv: kv('w/b', '2', 3n, 3n, 1n) },
  ],
});
const withoutPrev = batch({ events: replay.events.map((event) => ({ ...event, prevKv: null })) });

function usage(run: () => unknown): [string, number] {
  try {
    run();
  } catch (error) {
    if (error instanceof UsageError) return [error.message, error.exitCode];
  }
  throw new Error('no UsageError');
}

describe('watch command line', () => {
  it('turns etcdctl’s arguments into watch options (always requireLeader, as etcdctl)', () => {
    const parsed = parseCommandLine(['watch', 'w/', '--prefix', '--rev', '3', '--prev-kv']);
    expect(parsed).toMatchObject({ command: 'watch', args: ['w/'] });
    expect(watchCommand(parsed.args, parsed.flags)).toEqual({
      key: 'w/',
      options: { requireLeader: true, prefix: true, revision: 3n, prevKv: true },
    });
    expect(watchCommand(['a', 'c'], {})).toEqual({
      key: 'a',
      options: { requireLeader: true, rangeEnd: 'c' },
    });
    expect(() => parseCommandLine(['watch', 'k', '--from-key'])).toThrow(
      'unknown flag: --from-key',
    );
  });

  it('refuses what etcdctl refuses, with its messages and exit codes', () => {
    expect(usage(() => watchCommand([], {}))).toEqual(['bad number of arguments', EXIT_BAD_ARGS]);
    expect(usage(() => watchCommand(['a', 'b'], { prefix: true }))).toEqual([
      '`range_end` and `--prefix` are mutually exclusive',
      EXIT_BAD_ARGS,
    ]);
    expect(usage(() => watchCommand(['a'], { rev: 'x' }))).toEqual([
      'invalid argument "x" for "--rev" flag: strconv.ParseInt: parsing "x": invalid syntax',
      1,
    ]);
    expect(usage(() => watchCommand(['a', 'b', 'c'], {}))[1]).toBe(EXIT_BAD_ARGS);
  });

  it('has help', () => {
    expect(usageText('watch')).toMatch(/^raftkitctl watch <key> \[range_end\] \[--prefix\]/);
    expect(usageText()).toContain('watch <key> [range_end]');
  });
});

describe('watch output (captured from etcdctl 3.4.23)', () => {
  it('simple: the event type, the previous pair with --prev-kv, then the key and value', () => {
    expect(text(formatWatchResponse(withoutPrev, 'simple'))).toBe(
      'PUT\nw/a\n1\nPUT\nw/b\n2\nDELETE\nw/a\n\nPUT\nw/b\n3\n',
    );
    expect(text(formatWatchResponse(replay, 'simple'))).toBe(
      'PUT\nw/a\n1\nPUT\nw/b\n2\nDELETE\nw/a\n1\nw/a\n\nPUT\nw/b\n2\nw/b\n3\n',
    );
    // Raw bytes, not UTF-8 text.
    const binary = batch({
      events: [
        {
          type: EventType.PUT,
          kv: { ...kv('k', '', 1n, 1n, 1n), value: Uint8Array.of(0xff) },
          prevKv: null,
        },
      ],
    });
    expect(Buffer.from(formatWatchResponse(binary, 'simple')[2] as Uint8Array)).toEqual(
      Buffer.from([0xff]),
    );
    expect(() => formatWatchResponse(replay, 'table')).toThrow('table output is not supported');
  });

  it('json: clientv3’s WatchResponse, one line per batch', () => {
    expect(text(formatWatchResponse(withoutPrev, 'json'))).toBe(
      `{"Header":{${HEADER_JSON}},"Events":[` +
        '{"kv":{"key":"dy9h","create_revision":2,"mod_revision":2,"version":1,"value":"MQ=="}},' +
        '{"kv":{"key":"dy9i","create_revision":3,"mod_revision":3,"version":1,"value":"Mg=="}},' +
        '{"type":1,"kv":{"key":"dy9h","mod_revision":4}},' +
        '{"kv":{"key":"dy9i","create_revision":3,"mod_revision":5,"version":2,"value":"Mw=="}}' +
        '],"CompactRevision":0,"Canceled":false,"Created":false}\n',
    );
    const compacted = batch({
      header: { ...header, revision: 0n },
      canceled: true,
      compactRevision: 4n,
    });
    expect(text(formatWatchResponse(compacted, 'json'))).toBe(
      '{"Header":{"cluster_id":15118495548433857066,"member_id":13668033151171901709,"raft_term":2},' +
        '"Events":[],"CompactRevision":4,"Canceled":true,"Created":false}\n',
    );
    expect(formatWatchResponse(compacted, 'simple')).toEqual([]);
    expect(text(formatWatchFailure('json'))).toBe(
      '{"Header":{},"Events":null,"CompactRevision":0,"Canceled":true,"Created":false}\n',
    );
    expect(formatWatchFailure('simple')).toEqual([]);
  });
});

/** FakeWatch stands in for a Watch the test drives by hand. */
class FakeWatch {
  closed = false;
  readonly #queue: WatchBatch[] = [];
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  push(item: WatchBatch): void {
    this.#queue.push(item);
    this.#wake?.();
  }

  fail(error: Error): void {
    this.#error = error;
    this.#wake?.();
  }

  close(): void {
    this.closed = true;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<WatchBatch> {
    for (;;) {
      const next = this.#queue.shift();
      if (next !== undefined) yield next;
      else if (this.#error !== undefined) throw this.#error;
      else if (this.closed) return;
      else await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }
}

async function run(argv: string[], drive?: (watch: FakeWatch, interrupt: () => void) => void) {
  let stdout = '';
  let stderr = '';
  const calls: unknown[][] = [];
  const watches: FakeWatch[] = [];
  let interrupt: (() => void) | undefined;
  let listening = false;
  const client: Partial<ClientLike> = {
    watch: (key: KeyInput, options?: WatchOptions) => {
      calls.push(['watch', key, options]);
      const watch = new FakeWatch();
      watches.push(watch);
      return watch as unknown as Watch;
    },
    close: () => {
      calls.push(['close']);
    },
  };
  const io = {
    stdout: { write: (chunk: string | Uint8Array) => (stdout += Buffer.from(chunk).toString()) },
    stderr: { write: (chunk: string | Uint8Array) => (stderr += Buffer.from(chunk).toString()) },
    stdin: Readable.from([]),
  };
  const pending = runCli(argv, io, {
    makeClient: () => client as ClientLike,
    onInterrupt: (handler) => {
      interrupt = handler;
      listening = true;
      return () => {
        listening = false;
      };
    },
  });
  if (drive !== undefined) {
    for (let i = 0; i < 100 && watches.length === 0; i++) await Promise.resolve();
    const watch = watches[0];
    if (watch === undefined) throw new Error('no watch started');
    drive(watch, () => interrupt?.());
  }
  const code = await pending;
  return { code, stdout, stderr, calls, watches, listening };
}

describe('raftkitctl watch (no server)', () => {
  it('prints every batch until SIGINT, then exits 130 with the watch closed', async () => {
    const result = await run(['watch', 'w/', '--prefix', '--prev-kv'], (watch, interrupt) => {
      watch.push(replay);
      setTimeout(interrupt, 10);
    });
    expect(result).toMatchObject({
      code: EXIT_INTERRUPTED,
      stdout: text(formatWatchResponse(replay, 'simple')),
      stderr: '',
      listening: false,
    });
    expect(result.watches[0]?.closed).toBe(true);
    expect(result.calls).toEqual([
      ['watch', 'w/', { requireLeader: true, prefix: true, prevKv: true }],
      ['close'],
    ]);
  });

  it('a server cancel prints etcdctl’s lines and exits 5 (JSON: the cancel response too)', async () => {
    const response = batch({
      canceled: true,
      compactRevision: 4n,
      header: { ...header, revision: 0n },
    });
    const compacted = new WatchCanceledError(response, 'e:1');
    for (const format of ['simple', 'json'] as const) {
      const result = await run(['watch', 'k', '--rev', '2', '-w', format], (watch) => {
        watch.push(withoutPrev);
        watch.fail(compacted);
      });
      expect(result).toMatchObject({
        code: EXIT_SERVER_INTERRUPTED,
        stdout: text([
          ...formatWatchResponse(withoutPrev, format),
          ...formatWatchResponse(response, format),
        ]),
        stderr:
          'watch was canceled (etcdserver: mvcc: required revision has been compacted)\n' +
          'Error: watch is canceled by the server\n',
        listening: false,
      });
    }
    const denied = new KvClientError(status.PERMISSION_DENIED, 'etcdserver: permission denied');
    const failed = await run(['watch', 'k', '-w', 'json'], (watch) => watch.fail(denied));
    expect(failed).toMatchObject({
      code: EXIT_SERVER_INTERRUPTED,
      stdout: text(formatWatchFailure('json')),
      stderr:
        'watch was canceled (etcdserver: permission denied)\nError: watch is canceled by the server\n',
    });
  });

  it('refuses bad arguments (128) and -w table (4) before watching', async () => {
    const bad = await run(['watch']);
    expect(bad).toMatchObject({ code: EXIT_BAD_ARGS, stderr: 'Error: bad number of arguments\n' });
    expect(bad.calls).toEqual([['close']]);
    const table = await run(['watch', 'k', '-w', 'table']);
    expect(table.code).toBe(EXIT_BAD_FEATURE);
    expect(table.calls).toEqual([['close']]);
  });
});
