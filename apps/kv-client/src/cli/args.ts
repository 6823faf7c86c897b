import { type ParseArgsConfig, parseArgs } from 'node:util';
import { type Endpoint, parseEndpointList } from '../endpoints.js';
import { parseDuration } from './duration.js';

type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

/** OutputFormat is the `-w` / `--write-out` choice. */
export type OutputFormat = 'simple' | 'json' | 'table';

/** GlobalOptions are the flags every command takes (etcdctl's global flags). */
export interface GlobalOptions {
  /** endpoints from `--endpoints` (default 127.0.0.1:2379). */
  readonly endpoints: Endpoint[];
  /** dialTimeoutMs from `--dial-timeout` (default 2s). */
  readonly dialTimeoutMs: number;
  /** commandTimeoutMs from `--command-timeout` (default 5s). */
  readonly commandTimeoutMs: number;
  /** output from `-w` (default simple). */
  readonly output: OutputFormat;
  /** cacert, cert and key are TLS file names. */
  readonly cacert?: string;
  /** cert is the client certificate file. */
  readonly cert?: string;
  /** key is the client key file. */
  readonly key?: string;
  /** insecureSkipTlsVerify skips server certificate checks. */
  readonly insecureSkipTlsVerify: boolean;
}

const GLOBAL_OPTIONS = {
  endpoints: { type: 'string' },
  'dial-timeout': { type: 'string' },
  'command-timeout': { type: 'string' },
  'write-out': { type: 'string', short: 'w' },
  cacert: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  'insecure-skip-tls-verify': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionSpecs;

const GET_OPTIONS = {
  prefix: { type: 'boolean' },
  'from-key': { type: 'boolean' },
  limit: { type: 'string' },
  'keys-only': { type: 'boolean' },
  'print-value-only': { type: 'boolean' },
  'count-only': { type: 'boolean' },
  rev: { type: 'string' },
  consistency: { type: 'string' },
  order: { type: 'string' },
  'sort-by': { type: 'string' },
} as const satisfies OptionSpecs;

const PUT_OPTIONS = {
  'prev-kv': { type: 'boolean' },
  lease: { type: 'string' },
  'ignore-value': { type: 'boolean' },
  'ignore-lease': { type: 'boolean' },
} as const satisfies OptionSpecs;

const DEL_OPTIONS = {
  prefix: { type: 'boolean' },
  'from-key': { type: 'boolean' },
  'prev-kv': { type: 'boolean' },
} as const satisfies OptionSpecs;

/** CommandSpec describes one command for parsing and help. */
export interface CommandSpec {
  /** usage is the synopsis line. */
  readonly usage: string;
  /** summary is one line of help. */
  readonly summary: string;
  /** options are the command's own flags. */
  readonly options: OptionSpecs;
  /** flags documents the command's own flags for `--help`. */
  readonly flags: readonly (readonly [string, string])[];
}

/** COMMANDS lists raftkitctl's commands by name (`member list` is `member`). */
export const COMMANDS: Record<string, CommandSpec> = {
  put: {
    usage: 'put <key> <value> [options]',
    summary: 'Puts the given key into the store (value from stdin when omitted)',
    options: PUT_OPTIONS,
    flags: [
      ['--prev-kv', 'return the previous key-value pair'],
      ['--lease <hex id>', 'attach the key to a lease'],
      ['--ignore-value', 'update the key using its current value'],
      ['--ignore-lease', 'update the key using its current lease'],
    ],
  },
  get: {
    usage: 'get <key> [range_end] [options]',
    summary: 'Gets the key or a range of keys',
    options: GET_OPTIONS,
    flags: [
      ['--prefix', 'get keys with matching prefix'],
      ['--from-key', 'get keys >= the given key (byte order)'],
      ['--limit N', 'maximum number of results'],
      ['--keys-only', 'get only the keys'],
      ['--print-value-only', 'only print values (simple output)'],
      ['--count-only', 'get only the count'],
      ['--rev N', 'read at this revision'],
      ['--consistency l|s', 'linearizable (l, default) or serializable (s)'],
      ['--order ASCEND|DESCEND', 'order of results'],
      ['--sort-by KEY|VERSION|CREATE|MODIFY|VALUE', 'sort target'],
    ],
  },
  del: {
    usage: 'del <key> [range_end] [options]',
    summary: 'Removes the key or a range of keys',
    options: DEL_OPTIONS,
    flags: [
      ['--prefix', 'delete keys with matching prefix'],
      ['--from-key', 'delete keys >= the given key (byte order)'],
      ['--prev-kv', 'return the deleted key-value pairs'],
    ],
  },
  txn: {
    usage: 'txn [options]  (reads compares, success ops, failure ops from stdin)',
    summary: 'Txn processes all the requests in one transaction',
    options: { interactive: { type: 'boolean', short: 'i' } },
    flags: [['-i, --interactive', 'prompt for each section']],
  },
  compaction: {
    usage: 'compaction <revision> [options]',
    summary: 'Compacts the event history in the store',
    options: { physical: { type: 'boolean' } },
    flags: [['--physical', 'wait until the compaction is physically applied']],
  },
  member: {
    usage: 'member list',
    summary: 'Lists all members in the cluster',
    options: {},
    flags: [],
  },
  endpoint: {
    usage: 'endpoint status',
    summary: 'Prints the status of each endpoint in --endpoints',
    options: {},
    flags: [],
  },
  version: {
    usage: 'version',
    summary: 'Prints the version of raftkitctl',
    options: {},
    flags: [],
  },
};

/** ParsedCommand is a command line after parsing: the command, its arguments and flags. */
export interface ParsedCommand {
  /** command is the command name, or undefined when only `--help` or nothing was given. */
  readonly command: string | undefined;
  /** args are the positional arguments after the command name. */
  readonly args: string[];
  /** flags are the command's own flags. */
  readonly flags: Record<string, string | boolean | undefined>;
  /** global are the global flags, validated. */
  readonly global: GlobalOptions;
  /** help is true when `--help` / `-h` was given. */
  readonly help: boolean;
}

/** UsageError is a bad command line: the CLI prints its message and exits 1. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const ALL_OPTIONS: OptionSpecs = Object.assign(
  {},
  GLOBAL_OPTIONS,
  ...Object.values(COMMANDS).map((spec) => spec.options),
);

/**
 * parseCommandLine parses raftkitctl's arguments with `util.parseArgs`: global flags may
 * appear anywhere; the command's own flags are checked strictly. It throws a
 * UsageError for unknown flags, missing values and bad global values.
 */
export function parseCommandLine(argv: readonly string[]): ParsedCommand {
  // Pass 1 finds the command: every known flag declared so values are not mistaken
  // for positionals. Pass 2 checks the flags against that command strictly.
  let first: ReturnType<typeof parseArgs>;
  try {
    first = parseArgs({
      args: [...argv],
      options: ALL_OPTIONS,
      strict: false,
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const command = first.positionals[0];
  const spec = command === undefined ? undefined : COMMANDS[command];
  if (command !== undefined && spec === undefined) {
    throw new UsageError(`unknown command "${command}" for "raftkitctl"`);
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { ...GLOBAL_OPTIONS, ...(spec?.options ?? {}) },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError(cleanParseError((error as Error).message));
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const flags: Record<string, string | boolean | undefined> = {};
  for (const name of Object.keys(spec?.options ?? {})) flags[name] = values[name];
  return {
    command,
    args: parsed.positionals.slice(1),
    flags,
    global: globalOptions(values),
    help: values.help === true,
  };
}

function cleanParseError(message: string): string {
  const unknown = /Unknown option '([^']+)'/.exec(message);
  if (unknown) return `unknown flag: ${unknown[1]}`;
  return message.replace(/\. To specify a positional argument.*$/s, '');
}

function globalOptions(values: Record<string, string | boolean | undefined>): GlobalOptions {
  const text = (name: string): string | undefined => {
    const value = values[name];
    return typeof value === 'string' ? value : undefined;
  };
  const output = text('write-out') ?? 'simple';
  if (output !== 'simple' && output !== 'json' && output !== 'table') {
    throw new UsageError(`unsupported output format "${output}" (use simple, json or table)`);
  }
  let endpoints: Endpoint[];
  let dialTimeoutMs: number;
  let commandTimeoutMs: number;
  try {
    endpoints = parseEndpointList(text('endpoints') ?? '127.0.0.1:2379');
    dialTimeoutMs = parseDuration(text('dial-timeout') ?? '2s');
    commandTimeoutMs = parseDuration(text('command-timeout') ?? '5s');
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const options: GlobalOptions = {
    endpoints,
    dialTimeoutMs,
    commandTimeoutMs,
    output,
    insecureSkipTlsVerify: values['insecure-skip-tls-verify'] === true,
    ...(text('cacert') === undefined ? {} : { cacert: text('cacert') as string }),
    ...(text('cert') === undefined ? {} : { cert: text('cert') as string }),
    ...(text('key') === undefined ? {} : { key: text('key') as string }),
  };
  return options;
}

/** GLOBAL_FLAG_HELP documents the global flags for `--help`. */
export const GLOBAL_FLAG_HELP: readonly (readonly [string, string])[] = [
  ['--endpoints a,b,c', 'gRPC endpoints (default 127.0.0.1:2379)'],
  ['--dial-timeout 2s', 'dial timeout for client connections'],
  ['--command-timeout 5s', 'timeout for a command (excluding dial timeout)'],
  ['-w, --write-out simple|json|table', 'output format'],
  ['--cacert, --cert, --key FILE', 'TLS: CA bundle, client certificate and key'],
  ['--insecure-skip-tls-verify', 'skip server certificate verification (testing only)'],
  ['-h, --help', 'help for raftkitctl or a command'],
];

function flagLines(flags: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(0, ...flags.map(([name]) => name.length));
  return flags.map(([name, text]) => `  ${name.padEnd(width)}  ${text}`);
}

/** usageText is the `--help` text, for all of raftkitctl or one command. */
export function usageText(command?: string): string {
  const spec = command === undefined ? undefined : COMMANDS[command];
  if (spec !== undefined) {
    const lines = [`raftkitctl ${spec.usage}`, '', spec.summary];
    if (spec.flags.length > 0) lines.push('', 'Options:', ...flagLines(spec.flags));
    lines.push('', 'Global options:', ...flagLines(GLOBAL_FLAG_HELP));
    return `${lines.join('\n')}\n`;
  }
  const width = Math.max(...Object.values(COMMANDS).map((c) => c.usage.length));
  return [
    'raftkitctl — an etcdctl-style client for raftkit kv-server and etcd (v3 API)',
    '',
    'Usage: raftkitctl [global options] <command> [args] [options]',
    '',
    'Commands:',
    ...Object.values(COMMANDS).map(
      (c) => `  ${c.usage.split('  ')[0]?.padEnd(width)}  ${c.summary}`,
    ),
    '',
    'Global options:',
    ...flagLines(GLOBAL_FLAG_HELP),
    '',
    'Exit codes: 0 success, 1 any error (message on stderr).',
    '',
  ].join('\n');
}
