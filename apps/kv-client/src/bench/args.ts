// Command line of `raftkitctl bench`: parsed with util.parseArgs, validated into
// BenchOptions. Pure (no I/O), so the tests check it directly.
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { parseDuration } from '../cli/duration.js';
import { type Endpoint, parseEndpointList } from '../endpoints.js';

type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

/** WORKLOADS are the workloads `raftkitctl bench` runs. */
export const WORKLOADS = ['put', 'range', 'txn-put', 'watch-latency'] as const;

/** Workload is one of WORKLOADS. */
export type Workload = (typeof WORKLOADS)[number];

/** BenchOptions is a validated `raftkitctl bench` command line. */
export interface BenchOptions {
  /** workload is what each request does. */
  readonly workload: Workload;
  /** endpoints are the members to load; connection i goes to endpoint i mod n. */
  readonly endpoints: readonly Endpoint[];
  /** conns is the number of gRPC connections (HTTP/2 transports), used round-robin. */
  readonly conns: number;
  /** clients is the number of concurrent in-flight requests (closed loop, one each). */
  readonly clients: number;
  /** total is the number of measured requests, or undefined when running for a duration. */
  readonly total: number | undefined;
  /** durationMs is how long to measure, or undefined when running a total. */
  readonly durationMs: number | undefined;
  /** warmupMs is run before measuring; its requests are not recorded. */
  readonly warmupMs: number;
  /** keySize is the key length in bytes. */
  readonly keySize: number;
  /** valSize is the value length in bytes. */
  readonly valSize: number;
  /** keySpaceSize is how many distinct keys are used (keys 0 … n-1). */
  readonly keySpaceSize: number;
  /** sequentialKeys walks the key space in order instead of picking keys at random. */
  readonly sequentialKeys: boolean;
  /** serializable is `--consistency s` (range only). */
  readonly serializable: boolean;
  /** prefill writes every key of the key space once before a range run. */
  readonly prefill: boolean;
  /** txnOps is the number of puts in one txn-put transaction. */
  readonly txnOps: number;
  /** watchers is the number of watch streams (watch-latency). */
  readonly watchers: number;
  /** rate is the put rate per second (watch-latency). */
  readonly rate: number;
  /** requestTimeoutMs is the deadline of one request. */
  readonly requestTimeoutMs: number;
  /** json prints the result as one JSON object instead of a table. */
  readonly json: boolean;
  /** progress draws a progress bar on stderr: 'auto' (when it is a terminal), or forced. */
  readonly progress: 'auto' | 'always' | 'never';
}

/** BenchUsageError is a bad `bench` command line (exit 1 with the message). */
export class BenchUsageError extends Error {
  override readonly name = 'BenchUsageError';
}

/** BENCH_OPTIONS are the flags `raftkitctl bench` takes. */
export const BENCH_OPTIONS = {
  endpoints: { type: 'string' },
  conns: { type: 'string' },
  clients: { type: 'string' },
  total: { type: 'string' },
  duration: { type: 'string' },
  warmup: { type: 'string' },
  'key-size': { type: 'string' },
  'val-size': { type: 'string' },
  'key-space-size': { type: 'string' },
  'sequential-keys': { type: 'boolean' },
  consistency: { type: 'string' },
  prefill: { type: 'boolean' },
  'txn-ops': { type: 'string' },
  watchers: { type: 'string' },
  rate: { type: 'string' },
  'request-timeout': { type: 'string' },
  json: { type: 'boolean' },
  progress: { type: 'boolean' },
  'no-progress': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionSpecs;

/** DEFAULT_TOTAL is the request count when neither --total nor --duration is given. */
export const DEFAULT_TOTAL = 10_000;

/** DEFAULT_WATCH_TOTAL is the put count of watch-latency without --total/--duration. */
export const DEFAULT_WATCH_TOTAL = 1000;

/** BENCH_SUMMARY is the one-line description in raftkitctl's help. */
export const BENCH_SUMMARY =
  'bench <put|range|txn-put|watch-latency> [options]  Load generator (see "raftkitctl bench --help")';

/** benchUsageText is `raftkitctl bench --help`. */
export function benchUsageText(): string {
  const flags: [string, string][] = [
    [
      '--endpoints a,b,c',
      'gRPC endpoints (default 127.0.0.1:2379); connection i uses endpoint i mod n',
    ],
    ['--conns N', 'gRPC connections, used round-robin by the clients (default 1)'],
    ['--clients N', 'concurrent clients, one request in flight each (default 1)'],
    [
      '--total N',
      `measured requests (default ${DEFAULT_TOTAL}; watch-latency: puts, default ${DEFAULT_WATCH_TOTAL})`,
    ],
    ['--duration 10s', 'measure for this long instead of --total'],
    ['--warmup 1s', 'run this long first without recording (default 0)'],
    ['--key-size N', 'key size in bytes (default 8)'],
    ['--val-size N', 'value size in bytes (default 8)'],
    ['--key-space-size N', 'number of distinct keys (default 1)'],
    ['--sequential-keys', 'use keys in order instead of at random'],
    ['--consistency l|s', 'range: linearizable (default) or serializable'],
    ['--prefill', 'range: write every key of the key space first (not measured)'],
    ['--txn-ops N', 'txn-put: puts per transaction (default 1)'],
    ['--watchers N', 'watch-latency: watch streams on the key (default 10)'],
    ['--rate N', 'watch-latency: puts per second (default 100)'],
    ['--request-timeout 10s', 'deadline of one request'],
    ['--json', 'print the result as JSON'],
    [
      '--progress / --no-progress',
      'force the progress bar on stderr on/off (default: on a terminal)',
    ],
  ];
  const width = Math.max(...flags.map(([name]) => name.length));
  return [
    'raftkitctl bench <put|range|txn-put|watch-latency> [options]',
    '',
    'An etcd v3 API load generator: closed-loop clients over raw gRPC (no retries),',
    'HDR-histogram latencies (p50/p90/p99/p99.9/max), throughput and errors by code.',
    '',
    '  put            KV.Put of a random (or sequential) key from the key space',
    '  range          KV.Range of one key from the key space',
    '  txn-put        KV.Txn without compares, --txn-ops puts on distinct keys',
    '  watch-latency  puts one key at --rate; latency from sending the put to each watcher',
    '                 receiving the event (needs the Watch service)',
    '',
    'Options:',
    ...flags.map(([name, text]) => `  ${name.padEnd(width)}  ${text}`),
    '',
  ].join('\n');
}

function positiveInt(name: string, text: string | undefined, fallback: number, min = 1): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text.trim())) {
    throw new BenchUsageError(`--${name} must be an integer, got "${text}"`);
  }
  const value = Number(text.trim());
  if (!Number.isSafeInteger(value) || value < min) {
    throw new BenchUsageError(`--${name} must be at least ${min}, got "${text}"`);
  }
  return value;
}

function duration(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  try {
    return parseDuration(text);
  } catch (error) {
    throw new BenchUsageError(`--${name}: ${(error as Error).message}`);
  }
}

/** BenchCommandLine is a parsed command line: options, or a request for help. */
export type BenchCommandLine = { readonly help: true } | ({ readonly help: false } & BenchOptions);

/**
 * parseBenchArgs parses `bench <workload> [options]` (the word `bench` first or after
 * flags). It throws BenchUsageError for unknown flags, bad values and contradictions.
 */
export function parseBenchArgs(argv: readonly string[]): BenchCommandLine {
  let parsed: ReturnType<
    typeof parseArgs<{ options: typeof BENCH_OPTIONS; allowPositionals: true }>
  >;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: BENCH_OPTIONS,
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    const message = (error as Error).message;
    const unknown = /Unknown option '([^']+)'/.exec(message);
    throw new BenchUsageError(
      unknown
        ? `unknown flag: ${unknown[1]}`
        : message.replace(/\. To specify a positional.*$/s, ''),
    );
  }
  const values = parsed.values;
  const positionals =
    parsed.positionals[0] === 'bench' ? parsed.positionals.slice(1) : parsed.positionals;
  if (values.help === true) return { help: true };
  const [workload, ...extra] = positionals;
  if (workload === undefined) {
    throw new BenchUsageError(`bench needs a workload: ${WORKLOADS.join(', ')}`);
  }
  if (!(WORKLOADS as readonly string[]).includes(workload)) {
    throw new BenchUsageError(`unknown workload "${workload}" (use ${WORKLOADS.join(', ')})`);
  }
  if (extra.length > 0) throw new BenchUsageError(`unexpected argument "${extra[0]}"`);
  const kind = workload as Workload;

  let endpoints: Endpoint[];
  try {
    endpoints = parseEndpointList(values.endpoints ?? '127.0.0.1:2379');
  } catch (error) {
    throw new BenchUsageError((error as Error).message);
  }
  if (values.total !== undefined && values.duration !== undefined) {
    throw new BenchUsageError('give --total or --duration, not both');
  }
  const durationMs = duration('duration', values.duration);
  if (durationMs !== undefined && durationMs <= 0) {
    throw new BenchUsageError('--duration must be positive');
  }
  const defaultTotal = kind === 'watch-latency' ? DEFAULT_WATCH_TOTAL : DEFAULT_TOTAL;
  const total =
    durationMs === undefined ? positiveInt('total', values.total, defaultTotal) : undefined;
  const keySize = positiveInt('key-size', values['key-size'], 8);
  const keySpaceSize = positiveInt('key-space-size', values['key-space-size'], 1);
  // Keys are zero-padded decimal numbers, so the key space must fit in --key-size digits.
  if (keySize < 16 && keySpaceSize > 10 ** keySize) {
    throw new BenchUsageError(
      `--key-space-size ${keySpaceSize} needs keys longer than --key-size ${keySize}`,
    );
  }
  const consistency = values.consistency ?? 'l';
  if (consistency !== 'l' && consistency !== 's') {
    throw new BenchUsageError(`--consistency must be l or s, got "${consistency}"`);
  }
  if (values.consistency !== undefined && kind !== 'range') {
    throw new BenchUsageError('--consistency applies to range only');
  }
  if (values.prefill === true && kind !== 'range') {
    throw new BenchUsageError('--prefill applies to range only');
  }
  if (values.progress === true && values['no-progress'] === true) {
    throw new BenchUsageError('give --progress or --no-progress, not both');
  }
  const txnOps = positiveInt('txn-ops', values['txn-ops'], 1);
  if (txnOps > keySpaceSize && kind === 'txn-put') {
    throw new BenchUsageError(
      '--txn-ops must not exceed --key-space-size (keys in a txn are distinct)',
    );
  }
  const warmupMs = duration('warmup', values.warmup) ?? 0;
  const requestTimeoutMs = duration('request-timeout', values['request-timeout']) ?? 10_000;
  if (requestTimeoutMs <= 0) throw new BenchUsageError('--request-timeout must be positive');
  return {
    help: false,
    workload: kind,
    endpoints,
    conns: positiveInt('conns', values.conns, 1),
    clients: positiveInt('clients', values.clients, 1),
    total,
    durationMs,
    warmupMs,
    keySize,
    valSize: positiveInt('val-size', values['val-size'], 8, 0),
    keySpaceSize,
    sequentialKeys: values['sequential-keys'] === true,
    serializable: consistency === 's',
    prefill: values.prefill === true,
    txnOps,
    watchers: positiveInt('watchers', values.watchers, 10),
    rate: positiveInt('rate', values.rate, 100),
    requestTimeoutMs,
    json: values.json === true,
    progress:
      values.progress === true ? 'always' : values['no-progress'] === true ? 'never' : 'auto',
  };
}

/**
 * isBenchCommand says whether a raftkitctl command line is `bench …` (global-style
 * flags may come first, as for every command).
 */
export function isBenchCommand(argv: readonly string[]): boolean {
  try {
    const { positionals } = parseArgs({
      args: [...argv],
      options: {
        ...BENCH_OPTIONS,
        'write-out': { type: 'string', short: 'w' },
        'dial-timeout': { type: 'string' },
        'command-timeout': { type: 'string' },
      },
      strict: false,
      allowPositionals: true,
    });
    return positionals[0] === 'bench';
  } catch {
    return false;
  }
}
