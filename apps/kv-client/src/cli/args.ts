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

const WATCH_OPTIONS = {
  prefix: { type: 'boolean' },
  rev: { type: 'string' },
  'prev-kv': { type: 'boolean' },
} as const satisfies OptionSpecs;

const MEMBER_ADD_OPTIONS = {
  'peer-urls': { type: 'string' },
  learner: { type: 'boolean' },
} as const satisfies OptionSpecs;

const MEMBER_UPDATE_OPTIONS = {
  'peer-urls': { type: 'string' },
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
  /** subcommands, for a command group (`member add`, `member list`, …), by name. */
  readonly subcommands?: Record<string, CommandSpec>;
}

/** MEMBER_COMMANDS are the subcommands of `member`. */
export const MEMBER_COMMANDS: Record<string, CommandSpec> = {
  add: {
    usage: 'member add <name> --peer-urls=<url,...> [--learner]',
    summary: 'Adds a member into the cluster',
    options: MEMBER_ADD_OPTIONS,
    flags: [
      ['--peer-urls <url,...>', 'comma-separated peer URLs of the new member (required)'],
      ['--learner', 'add the member as a non-voting learner'],
    ],
  },
  list: {
    usage: 'member list',
    summary: 'Lists all members in the cluster',
    options: {},
    flags: [],
  },
  promote: {
    usage: 'member promote <memberID>',
    summary: 'Promotes a learner that is in sync with the leader to a voting member',
    options: {},
    flags: [],
  },
  remove: {
    usage: 'member remove <memberID>',
    summary: 'Removes a member from the cluster',
    options: {},
    flags: [],
  },
  update: {
    usage: 'member update <memberID> --peer-urls=<url,...>',
    summary: "Updates a member's peer URLs",
    options: MEMBER_UPDATE_OPTIONS,
    flags: [['--peer-urls <url,...>', 'comma-separated new peer URLs of the member (required)']],
  },
};

/** LEASE_COMMANDS are the subcommands of `lease` (lease ids in hex, as etcdctl prints them). */
export const LEASE_COMMANDS: Record<string, CommandSpec> = {
  grant: {
    usage: 'lease grant <ttl>',
    summary: 'Creates leases (TTL in seconds)',
    options: {},
    flags: [],
  },
  'keep-alive': {
    usage: 'lease keep-alive [--once] <leaseID>',
    summary: 'Keeps leases alive (renew), until the lease is gone or SIGINT',
    options: { once: { type: 'boolean' } },
    flags: [['--once', 'renew the lease once and exit']],
  },
  list: {
    usage: 'lease list',
    summary: 'List all active leases',
    options: {},
    flags: [],
  },
  revoke: {
    usage: 'lease revoke <leaseID>',
    summary: 'Revokes leases (and deletes their keys)',
    options: {},
    flags: [],
  },
  timetolive: {
    usage: 'lease timetolive <leaseID> [--keys]',
    summary: 'Get lease information',
    options: { keys: { type: 'boolean' } },
    flags: [['--keys', 'also list the keys attached to the lease']],
  },
};

/** COMMANDS lists raftkitctl's commands by name (`member list` is `member`, subcommand `list`). */
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
  watch: {
    usage: 'watch <key> [range_end] [--prefix] [--rev N] [--prev-kv]',
    summary: 'Watches events stream on keys or prefixes, until SIGINT',
    options: WATCH_OPTIONS,
    flags: [
      ['--prefix', 'watch on a prefix'],
      ['--rev N', 'revision to start watching (history from it is replayed)'],
      ['--prev-kv', 'print the previous key-value pair before each event'],
    ],
  },
  member: {
    usage: 'member <add|list|promote|remove|update>',
    summary: 'Membership related commands',
    options: {},
    flags: [],
    subcommands: MEMBER_COMMANDS,
  },
  lease: {
    usage: 'lease <grant|keep-alive|list|revoke|timetolive>',
    summary: 'Lease related commands',
    options: {},
    flags: [],
    subcommands: LEASE_COMMANDS,
  },
  endpoint: {
    usage: 'endpoint status | endpoint hashkv [--rev N]',
    summary: 'Prints the status, or the key-value history hash, of each endpoint in --endpoints',
    options: { rev: { type: 'string' } },
    flags: [['--rev N', 'hashkv: hash the history up to this revision (default: current)']],
  },
  snapshot: {
    usage: 'snapshot save <filename>',
    summary: "Stores a backup of one endpoint's state in a file (restore: --initial-snapshot-file)",
    options: {},
    flags: [],
  },
  'move-leader': {
    usage: 'move-leader <memberID>',
    summary: 'Transfers leadership to another member (sent to the leader among --endpoints)',
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

/** EXIT_ERROR is the exit code of any failure without a more specific one. */
export const EXIT_ERROR = 1;

/**
 * EXIT_BAD_CONNECTION is etcdctl's code for a failed request of `lease timetolive`,
 * `lease list` and `lease keep-alive`; raftkitctl uses it there too.
 */
export const EXIT_BAD_CONNECTION = 2;

/**
 * EXIT_INTERRUPTED is the code of `lease keep-alive` stopped by SIGINT: 128 + 2, what a
 * shell reports for etcdctl, which dies of the signal (so does raftkitctl's binary).
 */
export const EXIT_INTERRUPTED = 130;

/**
 * EXIT_SERVER_INTERRUPTED is etcdctl's `ExitInterrupted`: a watch canceled by the server
 * (e.g. its revision was compacted), a failed snapshot save.
 */
export const EXIT_SERVER_INTERRUPTED = 5;

/** EXIT_BAD_FEATURE is etcdctl's code for an output format a command does not support. */
export const EXIT_BAD_FEATURE = 4;

/**
 * EXIT_BAD_ARGS is etcdctl's code for bad arguments to a command; raftkitctl uses it
 * where etcdctl does for `member add/remove/update/promote`, `move-leader` and `lease`.
 */
export const EXIT_BAD_ARGS = 128;

/** UsageError is a bad command line: the CLI prints its message and exits with `exitCode` (1). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  /** exitCode is the process exit code for this error. */
  readonly exitCode: number;

  constructor(message: string, exitCode: number = EXIT_ERROR) {
    super(message);
    this.exitCode = exitCode;
  }
}

function allSpecs(specs: Record<string, CommandSpec>): CommandSpec[] {
  return Object.values(specs).flatMap((spec) => [
    spec,
    ...(spec.subcommands === undefined ? [] : allSpecs(spec.subcommands)),
  ]);
}

const ALL_OPTIONS: OptionSpecs = Object.assign(
  {},
  GLOBAL_OPTIONS,
  ...allSpecs(COMMANDS).map((spec) => spec.options),
);

/**
 * commandSpec finds the spec that parses a command line: the command's, or for a group
 * (`member`) its subcommand's. It throws a UsageError for an unknown (sub)command.
 */
export function commandSpec(
  command: string | undefined,
  subcommand: string | undefined,
): CommandSpec | undefined {
  if (command === undefined) return undefined;
  const spec = COMMANDS[command];
  if (spec === undefined) throw new UsageError(`unknown command "${command}" for "raftkitctl"`);
  if (spec.subcommands === undefined || subcommand === undefined) return spec;
  const sub = spec.subcommands[subcommand];
  if (sub === undefined) {
    const names = Object.keys(spec.subcommands).join(', ');
    throw new UsageError(
      `unknown command "${subcommand}" for "raftkitctl ${command}" (use one of: ${names})`,
    );
  }
  return sub;
}

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
  const spec = commandSpec(command, first.positionals[1]);
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

function commandLines(specs: readonly CommandSpec[]): string[] {
  const synopsis = (c: CommandSpec): string => c.usage.split('  ')[0] as string;
  const width = Math.max(...specs.map((c) => synopsis(c).length));
  return specs.map((c) => `  ${synopsis(c).padEnd(width)}  ${c.summary}`);
}

// Commands as the overview lists them: a group by its subcommands.
function leafCommands(): CommandSpec[] {
  return Object.values(COMMANDS).flatMap((spec) =>
    spec.subcommands === undefined ? [spec] : Object.values(spec.subcommands),
  );
}

/**
 * usageText is the `--help` text: for all of raftkitctl, one command, one command group
 * (`member`), or one subcommand (`member add`). Unknown names get the overview.
 */
export function usageText(command?: string, subcommand?: string): string {
  const group = command === undefined ? undefined : COMMANDS[command];
  const spec = group?.subcommands?.[subcommand ?? ''] ?? group;
  if (spec !== undefined) {
    const lines = [`raftkitctl ${spec.usage}`, '', spec.summary];
    if (spec.subcommands !== undefined) {
      lines.push('', 'Commands:', ...commandLines(Object.values(spec.subcommands)));
    }
    if (spec.flags.length > 0) lines.push('', 'Options:', ...flagLines(spec.flags));
    lines.push('', 'Global options:', ...flagLines(GLOBAL_FLAG_HELP));
    return `${lines.join('\n')}\n`;
  }
  return [
    'raftkitctl — an etcdctl-style client for raftkit kv-server and etcd (v3 API)',
    '',
    'Usage: raftkitctl [global options] <command> [args] [options]',
    '',
    'Commands:',
    ...commandLines(leafCommands()),
    '',
    'Global options:',
    ...flagLines(GLOBAL_FLAG_HELP),
    '',
    'Exit codes: 0 success, 1 any error (message on stderr); member add/remove/update/',
    'promote, move-leader and lease exit 128 on bad arguments and 4 on an unsupported -w,',
    'and lease timetolive/list/keep-alive 2 when the request fails, as etcdctl; watch',
    'exits 5 when the server cancels it (e.g. its revision was compacted).',
    '',
  ].join('\n');
}
