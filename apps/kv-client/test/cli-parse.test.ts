import { CompareResult, CompareTarget } from '@raftkit/rpc/etcd';
import { describe, expect, it } from 'vitest';
import { parseCommandLine, UsageError, usageText } from '../src/cli/args.js';
import { parseDuration } from '../src/cli/duration.js';
import { splitArgs, unquoteGo } from '../src/cli/go-quote.js';
import {
  delCommand,
  getCommand,
  parseCompareLine,
  parseTxnText,
  putCommand,
} from '../src/cli/requests.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('command line', () => {
  it('takes global flags anywhere and the command’s own flags strictly', () => {
    const parsed = parseCommandLine([
      'get',
      'foo',
      '--endpoints',
      'a:1,b:2',
      '--prefix',
      '-w',
      'json',
      '--limit=3',
    ]);
    expect(parsed.command).toBe('get');
    expect(parsed.args).toEqual(['foo']);
    expect(parsed.flags).toMatchObject({ prefix: true, limit: '3' });
    expect(parsed.global.endpoints.map((e) => e.target)).toEqual(['a:1', 'b:2']);
    expect(parsed.global.output).toBe('json');
    const early = parseCommandLine([
      '--endpoints=x:1',
      '--dial-timeout',
      '500ms',
      'member',
      'list',
    ]);
    expect(early.command).toBe('member');
    expect(early.args).toEqual(['list']);
    expect(early.global.dialTimeoutMs).toBe(500);
  });

  it('uses etcdctl’s defaults', () => {
    const parsed = parseCommandLine(['get', 'k']);
    expect(parsed.global).toMatchObject({
      dialTimeoutMs: 2000,
      commandTimeoutMs: 5000,
      output: 'simple',
    });
    expect(parsed.global.endpoints[0]?.target).toBe('127.0.0.1:2379');
  });

  it('rejects unknown flags, commands and formats with a UsageError', () => {
    expect(() => parseCommandLine(['get', 'k', '--bogus'])).toThrow(
      new UsageError('unknown flag: --bogus'),
    );
    expect(() => parseCommandLine(['put', 'k', 'v', '--prefix'])).toThrow(/unknown flag: --prefix/);
    expect(() => parseCommandLine(['frob'])).toThrow(/unknown command "frob"/);
    expect(() => parseCommandLine(['get', 'k', '-w', 'yaml'])).toThrow(/unsupported output format/);
    expect(() => parseCommandLine(['get', 'k', '--dial-timeout', 'soon'])).toThrow(
      /invalid duration/,
    );
    expect(() => parseCommandLine(['get', 'k', '--endpoints', 'nohost'])).toThrow(/bad endpoint/);
  });

  it('notices --help and prints usage', () => {
    expect(parseCommandLine(['--help']).help).toBe(true);
    expect(parseCommandLine(['get', '-h'])).toMatchObject({ help: true, command: 'get' });
    expect(usageText()).toContain('endpoint status');
    expect(usageText('get')).toContain('--print-value-only');
  });

  it('parses Go durations', () => {
    expect(parseDuration('2s')).toBe(2000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('3')).toBe(3000);
    expect(() => parseDuration('2 s')).toThrow(TypeError);
  });
});

describe('get / put / del arguments', () => {
  it('get maps flags like etcdctl', () => {
    const get = getCommand(['a', 'c'], {
      limit: '2',
      rev: '7',
      consistency: 's',
      order: 'descend',
      'sort-by': 'VALUE',
    });
    expect(get.options).toEqual({
      rangeEnd: 'c',
      limit: 2n,
      revision: 7n,
      serializable: true,
      sortOrder: 'descend',
      sortTarget: 'value',
    });
    expect(getCommand(['a'], { 'print-value-only': true, 'count-only': true })).toMatchObject({
      printValueOnly: true,
      countOnly: true,
    });
    expect(() => getCommand([], {})).toThrow(UsageError);
    expect(() => getCommand(['a', 'b'], { prefix: true })).toThrow(/only accept one argument/);
    expect(() => getCommand(['a'], { prefix: true, 'from-key': true })).toThrow(
      /cannot be set at the same time/,
    );
    expect(() => getCommand(['a'], { consistency: 'x' })).toThrow(/unknown consistency/);
    expect(() => getCommand(['a'], { 'sort-by': 'SIZE' })).toThrow(/bad sort target/);
    expect(() => getCommand(['a'], { rev: 'x' })).toThrow(/bad --rev/);
  });

  it('put reads a hex lease and leaves the value to stdin when absent', () => {
    expect(putCommand(['k', 'v'], { lease: '694d77aa9e38260f', 'prev-kv': true })).toEqual({
      key: 'k',
      value: 'v',
      options: { lease: 0x694d77aa9e38260fn, prevKv: true },
    });
    expect(putCommand(['k'], {}).value).toBeUndefined();
    expect(putCommand(['k'], { 'ignore-value': true }).options).toEqual({ ignoreValue: true });
    expect(() => putCommand([], {})).toThrow(/put command needs/);
    expect(() => putCommand(['k', 'v'], { lease: 'zz' })).toThrow(/bad lease/);
  });

  it('del takes ranges and prev-kv', () => {
    expect(delCommand(['a'], { prefix: true, 'prev-kv': true }).options).toEqual({
      prefix: true,
      prevKv: true,
    });
    expect(delCommand(['a', 'b'], {}).options).toEqual({ rangeEnd: 'b' });
  });
});

describe('txn input (etcdctl format)', () => {
  it('decodes Go-quoted strings', () => {
    expect([...unquoteGo('"a\\x00\\n\\"é"')]).toEqual([0x61, 0, 10, 0x22, 0xc3, 0xa9]);
    expect([...unquoteGo('"\\101\\u00e9"')]).toEqual([0x41, 0xc3, 0xa9]);
    expect(() => unquoteGo('abc')).toThrow(SyntaxError);
    expect(() => unquoteGo('"\\q"')).toThrow(SyntaxError);
    expect(splitArgs('put "a b" "c\\"d" --prev-kv')).toEqual(['put', 'a b', 'c"d', '--prev-kv']);
  });

  it('reads each comparison form', () => {
    expect(parseCompareLine('value("k") = "v"')).toEqual({
      key: bytes('k'),
      result: CompareResult.EQUAL,
      target: CompareTarget.VALUE,
      value: bytes('v'),
    });
    expect(parseCompareLine('mod("k") > "0"')).toMatchObject({
      target: CompareTarget.MOD,
      modRevision: 0n,
    });
    expect(parseCompareLine('c("k") < "5"')).toMatchObject({
      target: CompareTarget.CREATE,
      createRevision: 5n,
    });
    expect(parseCompareLine('ver("k") != "2"')).toMatchObject({
      target: CompareTarget.VERSION,
      result: CompareResult.NOT_EQUAL,
      version: 2n,
    });
    expect(parseCompareLine('lease("k") = "0"')).toMatchObject({
      target: CompareTarget.LEASE,
      lease: 0n,
    });
    expect(() => parseCompareLine('version("k") = "x"')).toThrow(/not an integer/);
    expect(() => parseCompareLine('size("k") = "1"')).toThrow(/unknown target/);
    expect(() => parseCompareLine('value(k) = v')).toThrow(/malformed comparison/);
  });

  it('splits the three sections at blank lines', () => {
    const request = parseTxnText(
      'mod("key1") > "0"\nvalue("key2") = "x"\n\nput key1 "overwrote-key1"\nget key2 --prefix\n\nput key1 "created-key1"\ndel key3 --prev-kv\n\n',
    );
    expect(request.compare).toHaveLength(2);
    expect(request.success?.map(Object.keys)).toEqual([['requestPut'], ['requestRange']]);
    expect(request.failure?.map(Object.keys)).toEqual([['requestPut'], ['requestDeleteRange']]);
    const withoutFinalBlank = parseTxnText('\nput a 1\n\nput b 2');
    expect(withoutFinalBlank.compare).toEqual([]);
    expect(withoutFinalBlank.failure).toHaveLength(1);
  });

  it('refuses unknown operations and bad flags inside ops', () => {
    expect(() => parseTxnText('\nwatch k\n\n')).toThrow(/invalid txn request/);
    expect(() => parseTxnText('\nget k --bogus\n\n')).toThrow(/invalid txn request/);
    expect(() => parseTxnText('\nput k\n\n')).toThrow(/needs a key and a value/);
  });
});
