import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  type BenchOptions,
  BenchUsageError,
  benchUsageText,
  DEFAULT_TOTAL,
  DEFAULT_WATCH_TOTAL,
  isBenchCommand,
  parseBenchArgs,
} from '../src/bench/args.js';
import { runCli } from '../src/cli/main.js';

function options(argv: string[]): BenchOptions {
  const parsed = parseBenchArgs(argv);
  if (parsed.help) throw new Error('unexpected help');
  return parsed;
}

function usageError(argv: string[]): string {
  try {
    parseBenchArgs(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(BenchUsageError);
    return (error as Error).message;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
}

describe('bench arguments', () => {
  it('has etcd benchmark-like defaults', () => {
    const parsed = options(['bench', 'put']);
    expect(parsed).toMatchObject({
      workload: 'put',
      conns: 1,
      clients: 1,
      total: DEFAULT_TOTAL,
      durationMs: undefined,
      warmupMs: 0,
      keySize: 8,
      valSize: 8,
      keySpaceSize: 1,
      sequentialKeys: false,
      serializable: false,
      prefill: false,
      txnOps: 1,
      requestTimeoutMs: 10_000,
      json: false,
      progress: 'auto',
    });
    expect(parsed.endpoints.map((e) => e.target)).toEqual(['127.0.0.1:2379']);
    expect(options(['bench', 'watch-latency']).total).toBe(DEFAULT_WATCH_TOTAL);
  });

  it('reads every flag', () => {
    const parsed = options([
      '--endpoints',
      'a:1,http://b:2',
      'bench',
      'range',
      '--conns=4',
      '--clients',
      '64',
      '--duration',
      '1m30s',
      '--warmup',
      '500ms',
      '--key-size',
      '16',
      '--val-size',
      '0',
      '--key-space-size',
      '100000',
      '--sequential-keys',
      '--consistency',
      's',
      '--prefill',
      '--request-timeout',
      '2s',
      '--json',
      '--no-progress',
    ]);
    expect(parsed).toMatchObject({
      workload: 'range',
      conns: 4,
      clients: 64,
      total: undefined,
      durationMs: 90_000,
      warmupMs: 500,
      keySize: 16,
      valSize: 0,
      keySpaceSize: 100_000,
      sequentialKeys: true,
      serializable: true,
      prefill: true,
      requestTimeoutMs: 2000,
      json: true,
      progress: 'never',
    });
    expect(parsed.endpoints.map((e) => e.target)).toEqual(['a:1', 'b:2']);
    expect(options(['bench', 'txn-put', '--txn-ops', '3', '--key-space-size', '10']).txnOps).toBe(
      3,
    );
    expect(options(['bench', 'watch-latency', '--watchers', '4', '--rate', '50'])).toMatchObject({
      watchers: 4,
      rate: 50,
    });
    expect(options(['bench', 'put', '--progress']).progress).toBe('always');
  });

  it('refuses bad command lines with a clear message', () => {
    expect(usageError(['bench'])).toMatch(/needs a workload/);
    expect(usageError(['bench', 'delete'])).toMatch(/unknown workload "delete"/);
    expect(usageError(['bench', 'put', 'extra'])).toMatch(/unexpected argument "extra"/);
    expect(usageError(['bench', 'put', '--nope'])).toBe('unknown flag: --nope');
    expect(usageError(['bench', 'put', '--clients', '0'])).toMatch(/--clients must be at least 1/);
    expect(usageError(['bench', 'put', '--clients', 'x'])).toMatch(/--clients must be an integer/);
    expect(usageError(['bench', 'put', '--total', '5', '--duration', '1s'])).toMatch(/not both/);
    expect(usageError(['bench', 'put', '--duration', 'soon'])).toMatch(
      /--duration: invalid duration/,
    );
    expect(usageError(['bench', 'range', '--consistency', 'x'])).toMatch(/l or s/);
    expect(usageError(['bench', 'put', '--consistency', 's'])).toMatch(/range only/);
    expect(usageError(['bench', 'put', '--prefill'])).toMatch(/range only/);
    expect(usageError(['bench', 'put', '--key-size', '2', '--key-space-size', '101'])).toMatch(
      /needs keys longer/,
    );
    expect(usageError(['bench', 'txn-put', '--txn-ops', '2'])).toMatch(/--txn-ops must not exceed/);
    expect(usageError(['bench', 'put', '--endpoints', 'nope'])).toMatch(/bad endpoint/);
    expect(usageError(['bench', 'put', '--progress', '--no-progress'])).toMatch(/not both/);
  });

  it('recognizes the bench command wherever global flags put it', () => {
    expect(isBenchCommand(['bench', 'put'])).toBe(true);
    expect(isBenchCommand(['--endpoints', 'a:1', 'bench', 'put'])).toBe(true);
    expect(isBenchCommand(['-w', 'json', 'bench'])).toBe(true);
    expect(isBenchCommand(['get', 'bench'])).toBe(false);
    expect(isBenchCommand(['put', 'k', 'v'])).toBe(false);
    expect(isBenchCommand([])).toBe(false);
  });

  it('is dispatched by raftkitctl, with help and exit codes', async () => {
    const run = async (argv: string[]) => {
      let stdout = '';
      let stderr = '';
      const code = await runCli(argv, {
        stdout: { write: (chunk) => (stdout += String(chunk)) },
        stderr: { write: (chunk) => (stderr += String(chunk)) },
        stdin: Readable.from([]),
      });
      return { code, stdout, stderr };
    };
    const help = await run(['bench', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toBe(benchUsageText());
    expect(help.stdout).toContain('--key-space-size');
    const bad = await run(['bench', 'put', '--clients', '0']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Error: --clients must be at least 1');
    const top = await run(['--help']);
    expect(top.stdout).toContain('raftkitctl bench <put|range|txn-put|watch-latency>');
  });
});
