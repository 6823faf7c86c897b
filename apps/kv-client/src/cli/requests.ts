import { parseArgs } from 'node:util';
import type { RequestOp, TxnRequest } from '@raftkit/rpc/etcd';
import {
  type CompareField,
  type CompareOperator,
  compare,
  type DeleteOptions,
  type GetOptions,
  Op,
  type PutOptions,
  type SortOrderName,
  type SortTargetName,
} from '../ops.js';
import { MAX_MEMBER_ID } from '../peer-urls.js';
import { COMMANDS, EXIT_BAD_ARGS, UsageError } from './args.js';
import { quoteGo, splitArgs, unquoteGo } from './go-quote.js';

type Flags = Record<string, string | boolean | undefined>;

function integer(text: string | boolean | undefined, flag: string): bigint | undefined {
  if (typeof text !== 'string') return undefined;
  if (!/^-?\d+$/.test(text.trim()))
    throw new UsageError(`bad ${flag} value "${text}" (want an integer)`);
  return BigInt(text.trim());
}

function checkRange(command: string, args: string[], flags: Flags): void {
  if (args.length === 0)
    throw new UsageError(
      `${command} command needs one argument as key and an optional argument as range_end`,
    );
  if (args.length > 2) throw new UsageError(`too many arguments for ${command}`);
  if (flags.prefix === true && flags['from-key'] === true) {
    throw new UsageError('`--prefix` and `--from-key` cannot be set at the same time, choose one');
  }
  if (args.length === 2 && (flags.prefix === true || flags['from-key'] === true)) {
    throw new UsageError(
      'too many arguments, only accept one argument when `--prefix` or `--from-key` is set',
    );
  }
}

const SORT_TARGETS: Record<string, SortTargetName> = {
  KEY: 'key',
  VERSION: 'version',
  CREATE: 'create',
  MODIFY: 'modify',
  VALUE: 'value',
};

/** GetCommand is a parsed `get`: key, options and print switches. */
export interface GetCommand {
  /** key is the first key. */
  readonly key: string;
  /** options are KvClient.get options. */
  readonly options: GetOptions;
  /** printValueOnly and countOnly shape the simple output. */
  readonly printValueOnly: boolean;
  /** countOnly prints the count only. */
  readonly countOnly: boolean;
}

/** getCommand turns `get` arguments and flags into a KvClient.get call, as etcdctl does. */
export function getCommand(args: string[], flags: Flags): GetCommand {
  checkRange('get', args, flags);
  const consistency = (flags.consistency as string | undefined) ?? 'l';
  if (consistency !== 'l' && consistency !== 's') {
    throw new UsageError(`unknown consistency flag "${consistency}" (use l or s)`);
  }
  const orderText = ((flags.order as string | undefined) ?? '').toUpperCase();
  if (!['', 'ASCEND', 'DESCEND'].includes(orderText)) {
    throw new UsageError(`bad sort order "${flags.order}" (use ASCEND or DESCEND)`);
  }
  const sortText = ((flags['sort-by'] as string | undefined) ?? '').toUpperCase();
  const sortTarget = sortText === '' ? undefined : SORT_TARGETS[sortText];
  if (sortText !== '' && sortTarget === undefined) {
    throw new UsageError(
      `bad sort target "${flags['sort-by']}" (use CREATE, KEY, MODIFY, VALUE or VERSION)`,
    );
  }
  const limit = integer(flags.limit, '--limit');
  const revision = integer(flags.rev, '--rev');
  const options: GetOptions = {
    ...(flags.prefix === true ? { prefix: true } : {}),
    ...(flags['from-key'] === true ? { fromKey: true } : {}),
    ...(args[1] === undefined ? {} : { rangeEnd: args[1] }),
    ...(limit === undefined ? {} : { limit }),
    ...(revision === undefined ? {} : { revision }),
    ...(flags['keys-only'] === true ? { keysOnly: true } : {}),
    ...(flags['count-only'] === true ? { countOnly: true } : {}),
    ...(consistency === 's' ? { serializable: true } : {}),
    ...(orderText === '' ? {} : { sortOrder: orderText.toLowerCase() as SortOrderName }),
    ...(sortTarget === undefined ? {} : { sortTarget }),
  };
  return {
    key: args[0] as string,
    options,
    printValueOnly: flags['print-value-only'] === true,
    countOnly: flags['count-only'] === true,
  };
}

/** PutCommand is a parsed `put`. */
export interface PutCommand {
  /** key is the key to write. */
  readonly key: string;
  /** value is the value, or undefined when it is to be read from stdin. */
  readonly value: string | undefined;
  /** options are KvClient.put options. */
  readonly options: PutOptions;
}

/** putCommand turns `put` arguments and flags into a KvClient.put call, as etcdctl does. */
export function putCommand(args: string[], flags: Flags): PutCommand {
  const ignoreValue = flags['ignore-value'] === true;
  if (args.length === 0 || args.length > 2 || (ignoreValue && args.length !== 1)) {
    throw new UsageError(
      ignoreValue
        ? 'put command needs only 1 argument when --ignore-value is set'
        : 'put command needs 1 argument and input from stdin or 2 arguments',
    );
  }
  let lease: bigint | undefined;
  if (typeof flags.lease === 'string') {
    if (!/^[0-9a-fA-F]{1,16}$/.test(flags.lease)) {
      throw new UsageError(`bad lease ID "${flags.lease}" (want a hex id)`);
    }
    lease = BigInt.asIntN(64, BigInt(`0x${flags.lease}`));
  }
  const options: PutOptions = {
    ...(flags['prev-kv'] === true ? { prevKv: true } : {}),
    ...(lease === undefined ? {} : { lease }),
    ...(ignoreValue ? { ignoreValue: true } : {}),
    ...(flags['ignore-lease'] === true ? { ignoreLease: true } : {}),
  };
  return { key: args[0] as string, value: ignoreValue ? '' : args[1], options };
}

/** DelCommand is a parsed `del`. */
export interface DelCommand {
  /** key is the first key. */
  readonly key: string;
  /** options are KvClient.delete options. */
  readonly options: DeleteOptions;
}

/** delCommand turns `del` arguments and flags into a KvClient.delete call, as etcdctl does. */
export function delCommand(args: string[], flags: Flags): DelCommand {
  checkRange('del', args, flags);
  const options: DeleteOptions = {
    ...(flags.prefix === true ? { prefix: true } : {}),
    ...(flags['from-key'] === true ? { fromKey: true } : {}),
    ...(args[1] === undefined ? {} : { rangeEnd: args[1] }),
    ...(flags['prev-kv'] === true ? { prevKv: true } : {}),
  };
  return { key: args[0] as string, options };
}

function parseOpLine(line: string): RequestOp {
  const [name, ...rest] = splitArgs(line);
  const kind = name === 'delete' ? 'del' : name;
  if (kind !== 'get' && kind !== 'put' && kind !== 'del') {
    throw new UsageError(`invalid txn request "${line}" (use get, put or del)`);
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: rest,
      options: COMMANDS[kind]?.options ?? {},
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError(
      `invalid txn request "${line}": ${(error as Error).message.split('.')[0]}`,
    );
  }
  const flags = parsed.values as Flags;
  if (kind === 'get') {
    const get = getCommand(parsed.positionals, flags);
    return Op.get(get.key, get.options);
  }
  if (kind === 'put') {
    const put = putCommand(parsed.positionals, flags);
    if (put.value === undefined)
      throw new UsageError(`put in a txn needs a key and a value: "${line}"`);
    return Op.put(put.key, put.value, put.options);
  }
  const del = delCommand(parsed.positionals, flags);
  return Op.delete(del.key, del.options);
}

const COMPARE_FIELDS: Record<string, CompareField> = {
  ver: 'version',
  version: 'version',
  c: 'createRevision',
  create: 'createRevision',
  m: 'modRevision',
  mod: 'modRevision',
  val: 'value',
  value: 'value',
  lease: 'lease',
};

const QUOTED = String.raw`"(?:[^"\\]|\\.)*"`;
const COMPARE_LINE = new RegExp(`^\\s*(\\w+)\\((${QUOTED})\\)\\s*(=|!=|>|<)\\s*(${QUOTED})\\s*$`);

/**
 * parseCompareLine reads one etcdctl txn guard: `value("key") = "v"`,
 * `version("key") > "0"`, `mod("k") < "7"`, `create("k") = "0"`, `lease("k") = "0"`
 * (short forms `ver`, `c`, `m`, `val` too). Numbers are decimal, quoted as etcdctl wants.
 */
export function parseCompareLine(line: string) {
  const match = COMPARE_LINE.exec(line);
  if (match === null) throw new UsageError(`malformed comparison: ${line}`);
  const [, target, keyLiteral, operator, valueLiteral] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
  ];
  const field = COMPARE_FIELDS[target];
  if (field === undefined)
    throw new UsageError(`malformed comparison: ${line} (unknown target "${target}")`);
  const key = unquoteGo(keyLiteral);
  const value = unquoteGo(valueLiteral);
  if (field === 'value') return compare(key, field, operator as CompareOperator, value);
  const text = Buffer.from(value).toString('utf8');
  if (!/^-?\d+$/.test(text))
    throw new UsageError(`malformed comparison: ${line} ("${text}" is not an integer)`);
  return compare(key, field, operator as CompareOperator, BigInt(text));
}

/**
 * parseTxnText reads etcdctl's txn input: comparisons, a blank line, success
 * operations, a blank line, failure operations (ending at a blank line or the end of
 * input — etcdctl insists on the final blank line; raftkitctl accepts either).
 */
export function parseTxnText(text: string): TxnRequest {
  const sections: string[][] = [[], [], []];
  let section = 0;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') {
      section++;
      if (section > 2) break;
      continue;
    }
    sections[section]?.push(line);
  }
  return {
    compare: (sections[0] ?? []).map(parseCompareLine),
    success: (sections[1] ?? []).map(parseOpLine),
    failure: (sections[2] ?? []).map(parseOpLine),
  };
}

/**
 * parseHexId reads a member id as etcdctl does (Go's `strconv.ParseUint(text, 16, 64)`:
 * hex digits only, no `0x`, at most 2^64 − 1). It throws an Error worded as Go's.
 */
export function parseHexId(text: string): bigint {
  if (!/^[0-9a-fA-F]+$/.test(text)) {
    throw new Error(`strconv.ParseUint: parsing ${quoteGo(text)}: invalid syntax`);
  }
  const id = BigInt(`0x${text}`);
  if (id > MAX_MEMBER_ID) {
    throw new Error(`strconv.ParseUint: parsing ${quoteGo(text)}: value out of range`);
  }
  return id;
}

function memberIdArg(text: string): bigint {
  try {
    return parseHexId(text);
  } catch (error) {
    throw new UsageError(
      `bad member ID arg (${(error as Error).message}), expecting ID in Hex`,
      EXIT_BAD_ARGS,
    );
  }
}

function peerUrlsFlag(flags: Flags): string {
  const text = flags['peer-urls'];
  if (typeof text !== 'string' || text === '') {
    throw new UsageError('member peer urls not provided', EXIT_BAD_ARGS);
  }
  return text;
}

/** MemberAddCommand is a parsed `member add`. */
export interface MemberAddCommand {
  /** name is the new member's name (it is not sent; it goes into the printed environment). */
  readonly name: string;
  /** peerUrls are the `--peer-urls` split at commas. */
  readonly peerUrls: string[];
  /** peerUrlsText is `--peer-urls` as given (etcdctl prints it in ETCD_INITIAL_ADVERTISE_PEER_URLS). */
  readonly peerUrlsText: string;
  /** isLearner is `--learner`. */
  readonly isLearner: boolean;
}

/**
 * memberAddCommand checks `member add <name> --peer-urls=a,b [--learner]` (args after
 * `add`) as etcdctl does: one name, non-empty `--peer-urls`, else a UsageError exiting 128.
 */
export function memberAddCommand(args: string[], flags: Flags): MemberAddCommand {
  if (args.length === 0) throw new UsageError('member name not provided', EXIT_BAD_ARGS);
  if (args.length > 1) {
    const hints = args
      .filter((arg) => arg.toLowerCase().startsWith('http'))
      .map((arg) => `, did you mean --peer-urls=${arg}`);
    throw new UsageError(`too many arguments${hints.join('')}`, EXIT_BAD_ARGS);
  }
  const peerUrlsText = peerUrlsFlag(flags);
  return {
    name: args[0] as string,
    peerUrls: peerUrlsText.split(','),
    peerUrlsText,
    isLearner: flags.learner === true,
  };
}

/** memberIdCommand checks `member remove|promote <hex id>` (args after the subcommand). */
export function memberIdCommand(args: string[]): bigint {
  if (args.length !== 1) throw new UsageError('member ID is not provided', EXIT_BAD_ARGS);
  return memberIdArg(args[0] as string);
}

/** MemberUpdateCommand is a parsed `member update`. */
export interface MemberUpdateCommand {
  /** id is the member to update. */
  readonly id: bigint;
  /** peerUrls are its new peer URLs. */
  readonly peerUrls: string[];
}

/** memberUpdateCommand checks `member update <hex id> --peer-urls=a,b` as etcdctl does. */
export function memberUpdateCommand(args: string[], flags: Flags): MemberUpdateCommand {
  const id = memberIdCommand(args);
  return { id, peerUrls: peerUrlsFlag(flags).split(',') };
}

/** moveLeaderCommand checks `move-leader <hex id>` as etcdctl does. */
export function moveLeaderCommand(args: string[]): bigint {
  if (args.length !== 1) {
    throw new UsageError('move-leader command needs 1 argument', EXIT_BAD_ARGS);
  }
  return memberIdArg(args[0] as string);
}

const MAX_UINT64 = (1n << 64n) - 1n;

/**
 * parseGoInt reads a signed 64-bit integer as Go's `strconv.ParseInt(text, base, 64)`
 * does (base 10 or 16): an optional sign, then digits only (no `0x`, no spaces). It
 * throws an Error worded as Go's: `strconv.ParseInt: parsing "0x1": invalid syntax` or
 * `… value out of range`.
 */
export function parseGoInt(text: string, base: 10 | 16): bigint {
  const fail = (what: string): Error =>
    new Error(`strconv.ParseInt: parsing ${quoteGo(text)}: ${what}`);
  const negative = text.startsWith('-');
  const digits = text.startsWith('+') || negative ? text.slice(1) : text;
  if (digits === '') throw fail('invalid syntax');
  let value = 0n;
  // Digit by digit, as Go does: an overflow is reported before a later bad character.
  for (const char of digits) {
    const digit = '0123456789abcdef'.indexOf(char.toLowerCase());
    if (digit < 0 || digit >= base) throw fail('invalid syntax');
    value = value * BigInt(base) + BigInt(digit);
    if (value > MAX_UINT64) throw fail('value out of range');
  }
  if (negative ? value > 1n << 63n : value > (1n << 63n) - 1n) throw fail('value out of range');
  return negative ? -value : value;
}

/**
 * parseLeaseId reads a lease id as etcdctl does (Go's `strconv.ParseInt(text, 16, 64)`:
 * hex digits with an optional sign, no `0x`). It throws an Error worded as Go's.
 */
export function parseLeaseId(text: string): bigint {
  return parseGoInt(text, 16);
}

/**
 * leaseIdCommand checks `lease revoke|timetolive|keep-alive <hex id>` (args after the
 * subcommand) as etcdctl does: exactly one argument, else `missing` (exit 128); an id
 * that is not hex is `bad lease ID arg (…), expecting ID in Hex` (exit 128).
 */
export function leaseIdCommand(args: string[], missing: string): bigint {
  if (args.length !== 1) throw new UsageError(missing, EXIT_BAD_ARGS);
  try {
    return parseLeaseId(args[0] as string);
  } catch (error) {
    throw new UsageError(
      `bad lease ID arg (${(error as Error).message}), expecting ID in Hex`,
      EXIT_BAD_ARGS,
    );
  }
}

/** leaseGrantCommand checks `lease grant <ttl>` as etcdctl does and returns the TTL in seconds. */
export function leaseGrantCommand(args: string[]): bigint {
  if (args.length !== 1) {
    throw new UsageError('lease grant command needs TTL argument', EXIT_BAD_ARGS);
  }
  try {
    return parseGoInt(args[0] as string, 10);
  } catch (error) {
    throw new UsageError(`bad TTL (${(error as Error).message})`, EXIT_BAD_ARGS);
  }
}
