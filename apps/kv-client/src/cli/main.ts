import { open, readFile, rename, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import {
  formatEtcdJson,
  type MemberAddResponse,
  type MemberListResponse,
  type TxnRequest,
} from '@raftkit/rpc/etcd';
import { BENCH_SUMMARY, isBenchCommand, runBench } from '../bench/main.js';
import { KvClient, type KvClientOptions } from '../client.js';
import { isKvClientError } from '../errors.js';
import {
  COMMANDS,
  EXIT_BAD_ARGS,
  EXIT_BAD_CONNECTION,
  EXIT_BAD_FEATURE,
  EXIT_ERROR,
  EXIT_INTERRUPTED,
  EXIT_SERVER_INTERRUPTED,
  type GlobalOptions,
  LEASE_COMMANDS,
  MEMBER_COMMANDS,
  type ParsedCommand,
  parseCommandLine,
  UsageError,
  usageText,
} from './args.js';
import {
  type EndpointStatus,
  formatCompaction,
  formatDelete,
  formatEndpointStatus,
  formatGet,
  formatLeaseGrant,
  formatLeaseKeepAlive,
  formatLeaseKeepAliveEnd,
  formatLeaseList,
  formatLeaseRevoke,
  formatLeaseTimeToLive,
  formatMemberAdd,
  formatMemberAddEnvironment,
  formatMemberList,
  formatMemberPromote,
  formatMemberRemove,
  formatMemberUpdate,
  formatMoveLeader,
  formatPut,
  formatTxn,
  writeOutput,
} from './format.js';
import {
  delCommand,
  getCommand,
  leaseGrantCommand,
  leaseIdCommand,
  memberAddCommand,
  memberIdCommand,
  memberUpdateCommand,
  moveLeaderCommand,
  parseTxnText,
  putCommand,
} from './requests.js';
import { watchCommand, watchUntilStopped } from './watch.js';

/** CliIO is where the CLI reads and writes (process streams, or buffers in tests). */
export interface CliIO {
  /** stdout receives command output. */
  readonly stdout: { write(chunk: string | Uint8Array): unknown };
  /** stderr receives error messages. */
  readonly stderr: { write(chunk: string | Uint8Array): unknown };
  /** stdin is read by `txn` and by `put` without a value. */
  readonly stdin: Readable;
}

/** ClientLike is the part of KvClient the CLI uses (tests substitute fakes). */
export type ClientLike = Pick<
  KvClient,
  | 'put'
  | 'get'
  | 'delete'
  | 'txnRequest'
  | 'compact'
  | 'memberList'
  | 'memberAdd'
  | 'memberRemove'
  | 'memberUpdate'
  | 'memberPromote'
  | 'moveLeader'
  | 'status'
  | 'hashKV'
  | 'snapshot'
  | 'leaseGrant'
  | 'leaseRevoke'
  | 'leaseTimeToLive'
  | 'leaseLeases'
  | 'leaseKeepAliveOnce'
  | 'leaseKeepAlive'
  | 'watch'
  | 'close'
>;

/** CliDeps lets tests replace how the client is made and how SIGINT arrives. */
export interface CliDeps {
  /** makeClient builds the client from the global options. */
  readonly makeClient?: (options: KvClientOptions) => ClientLike;
  /**
   * onInterrupt calls `handler` on the next SIGINT and returns a function that stops
   * listening; only `lease keep-alive` and `watch` listen. Default: the process's SIGINT.
   */
  readonly onInterrupt?: (handler: () => void) => () => void;
}

function onProcessInterrupt(handler: () => void): () => void {
  process.once('SIGINT', handler);
  return () => {
    process.off('SIGINT', handler);
  };
}

/** CommandError is a failed request reported with etcdctl's wording and exit code. */
class CommandError extends Error {
  override readonly name = 'CommandError';
  readonly exitCode: number;

  constructor(message: string, exitCode: number, cause: unknown) {
    super(message, { cause });
    this.exitCode = exitCode;
  }
}

function errorMessage(error: unknown): string {
  return isKvClientError(error) ? error.message : (error as Error).message;
}

// Runs a request; a failure becomes `Error: <wrap(message)>` with etcdctl's exit code.
async function reported<T>(
  request: Promise<T>,
  exitCode: number,
  wrap: (message: string) => string = (message) => message,
): Promise<T> {
  try {
    return await request;
  } catch (error) {
    throw new CommandError(wrap(errorMessage(error)), exitCode, error);
  }
}

/** CLI_VERSION is the version `raftkitctl version` prints. */
export const CLI_VERSION = '0.0.0';

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks).toString('utf8');
}

async function readTxnInteractive(io: CliIO): Promise<string> {
  const rl = createInterface({ input: io.stdin, terminal: false });
  const prompts = [
    'compares:',
    'success requests (get, put, del):',
    'failure requests (get, put, del):',
  ];
  const lines: string[] = [];
  let section = 0;
  io.stdout.write(`${prompts[0]}\n`);
  for await (const line of rl) {
    lines.push(line);
    if (line.trim() === '') {
      section++;
      if (section > 2) break;
      io.stdout.write(`${prompts[section]}\n`);
    }
  }
  rl.close();
  return lines.join('\n');
}

async function clientOptions(global: GlobalOptions): Promise<KvClientOptions> {
  const tlsFiles = [global.cacert, global.cert, global.key];
  const wantsTls = tlsFiles.some((file) => file !== undefined) || global.insecureSkipTlsVerify;
  const read = async (file: string | undefined): Promise<Buffer | undefined> =>
    file === undefined ? undefined : readFile(file);
  const [ca, cert, key] = await Promise.all(tlsFiles.map(read));
  return {
    endpoints: global.endpoints.map((endpoint) => endpoint.text),
    dialTimeoutMs: global.dialTimeoutMs,
    requestTimeoutMs: global.commandTimeoutMs,
    ...(wantsTls
      ? {
          tls: {
            ...(ca === undefined ? {} : { ca }),
            ...(cert === undefined ? {} : { cert }),
            ...(key === undefined ? {} : { key }),
            ...(global.insecureSkipTlsVerify ? { insecureSkipVerify: true } : {}),
          },
        }
      : {}),
  };
}

/**
 * membersAfterAdd lists the members as etcdctl does after a member add: from a member
 * that has applied the add. When the list comes from another member than the add's
 * answer, a linearizable read makes the member answering it catch up, and the list is
 * asked again (a few times at most).
 */
async function membersAfterAdd(
  client: ClientLike,
  added: MemberAddResponse,
): Promise<MemberListResponse> {
  let servedBy = added.header?.memberId;
  let list = await client.memberList();
  for (let round = 0; round < 5 && list.header?.memberId !== servedBy; round++) {
    servedBy = (await client.get('_', { countOnly: true })).header?.memberId;
    list = await client.memberList();
  }
  return list;
}

// Commands that change the cluster refuse `-w table` before sending anything (etcdctl
// makes the change, then fails to print it).
function refuseTable(command: string, format: string): void {
  if (format === 'table') {
    throw new UsageError(
      `table output is not supported for ${command} (use simple or json)`,
      EXIT_BAD_FEATURE,
    );
  }
}

async function executeMember(
  parsed: ParsedCommand,
  io: CliIO,
  client: ClientLike,
): Promise<number> {
  const [subcommand, ...args] = parsed.args;
  const { flags } = parsed;
  const format = parsed.global.output;
  switch (subcommand) {
    case 'list': {
      if (args.length > 0) throw new UsageError('member list takes no arguments');
      writeOutput(io, formatMemberList(await client.memberList(), format));
      return 0;
    }
    case 'add': {
      const add = memberAddCommand(args, flags);
      refuseTable('member add', format);
      const response = await client.memberAdd(add.peerUrls, { isLearner: add.isLearner });
      writeOutput(io, formatMemberAdd(response, format));
      if (format === 'simple') {
        const members = await membersAfterAdd(client, response);
        const newId = response.member?.ID ?? 0n;
        writeOutput(io, formatMemberAddEnvironment(add.name, add.peerUrlsText, newId, members));
      }
      return 0;
    }
    case 'remove': {
      const id = memberIdCommand(args);
      refuseTable('member remove', format);
      writeOutput(io, formatMemberRemove(id, await client.memberRemove(id), format));
      return 0;
    }
    case 'update': {
      const update = memberUpdateCommand(args, flags);
      refuseTable('member update', format);
      const response = await client.memberUpdate(update.id, update.peerUrls);
      writeOutput(io, formatMemberUpdate(update.id, response, format));
      return 0;
    }
    case 'promote': {
      const id = memberIdCommand(args);
      refuseTable('member promote', format);
      writeOutput(io, formatMemberPromote(id, await client.memberPromote(id), format));
      return 0;
    }
    default:
      throw new UsageError(
        `unknown command "${subcommand}" for "raftkitctl member" (use one of: ${Object.keys(MEMBER_COMMANDS).join(', ')})`,
      );
  }
}

/**
 * keepAliveUntilGone runs `lease keep-alive` without `--once`: it prints every renewal
 * until the lease is gone (then etcdctl's `expired or revoked.` line, exit 0) or SIGINT
 * (exit 130). A stream error that retrying cannot cure exits 2.
 */
async function keepAliveUntilGone(
  id: bigint,
  format: ParsedCommand['global']['output'],
  io: CliIO,
  client: ClientLike,
  deps: CliDeps,
): Promise<number> {
  const keepAlive = client.leaseKeepAlive(id, {
    onResponse: (response) => writeOutput(io, formatLeaseKeepAlive(response, format)),
  });
  let interrupted = false;
  const stopListening = (deps.onInterrupt ?? onProcessInterrupt)(() => {
    interrupted = true;
    keepAlive.close();
  });
  let end: Awaited<typeof keepAlive.done>;
  try {
    end = await keepAlive.done;
  } finally {
    stopListening();
  }
  switch (end.reason) {
    case 'closed':
      return interrupted ? EXIT_INTERRUPTED : 0;
    case 'leaseNotFound':
    case 'expired':
      writeOutput(io, formatLeaseKeepAliveEnd(id, format));
      return 0;
    case 'failed':
      throw new CommandError(end.error.message, EXIT_BAD_CONNECTION, end.error);
  }
}

async function executeLease(
  parsed: ParsedCommand,
  io: CliIO,
  client: ClientLike,
  deps: CliDeps,
): Promise<number> {
  const [subcommand, ...args] = parsed.args;
  const { flags } = parsed;
  const format = parsed.global.output;
  switch (subcommand) {
    case 'grant': {
      const ttl = leaseGrantCommand(args);
      refuseTable('lease grant', format);
      const response = await reported(
        client.leaseGrant(ttl),
        EXIT_ERROR,
        (message) => `failed to grant lease (${message})`,
      );
      writeOutput(io, formatLeaseGrant(response, format));
      return 0;
    }
    case 'revoke': {
      const id = leaseIdCommand(args, 'lease revoke command needs 1 argument');
      refuseTable('lease revoke', format);
      const response = await reported(
        client.leaseRevoke(id),
        EXIT_ERROR,
        (message) => `failed to revoke lease (${message})`,
      );
      writeOutput(io, formatLeaseRevoke(id, response, format));
      return 0;
    }
    case 'timetolive': {
      const id = leaseIdCommand(args, 'lease timetolive command needs lease ID as argument');
      refuseTable('lease timetolive', format);
      const keys = flags.keys === true;
      const response = await reported(client.leaseTimeToLive(id, { keys }), EXIT_BAD_CONNECTION);
      writeOutput(io, formatLeaseTimeToLive(response, format, keys));
      return 0;
    }
    case 'list': {
      if (args.length > 0) throw new UsageError('lease list takes no arguments');
      refuseTable('lease list', format);
      writeOutput(
        io,
        formatLeaseList(await reported(client.leaseLeases(), EXIT_BAD_CONNECTION), format),
      );
      return 0;
    }
    case 'keep-alive': {
      const id = leaseIdCommand(args, 'lease keep-alive command needs lease ID as argument');
      refuseTable('lease keep-alive', format);
      if (flags.once !== true) return keepAliveUntilGone(id, format, io, client, deps);
      const response = await reported(client.leaseKeepAliveOnce(id), EXIT_BAD_CONNECTION);
      writeOutput(io, formatLeaseKeepAlive(response, format));
      return 0;
    }
    default:
      throw new UsageError(
        `unknown command "${subcommand}" for "raftkitctl lease" (use one of: ${Object.keys(LEASE_COMMANDS).join(', ')})`,
      );
  }
}

async function execute(
  parsed: ParsedCommand,
  io: CliIO,
  client: ClientLike,
  deps: CliDeps,
): Promise<number> {
  const { command, args, flags, global } = parsed;
  const format = global.output;
  switch (command) {
    case 'put': {
      const put = putCommand(args, flags);
      const value = put.value ?? (await readAll(io.stdin));
      writeOutput(io, formatPut(await client.put(put.key, value, put.options), format));
      return 0;
    }
    case 'get': {
      const get = getCommand(args, flags);
      const response = await client.get(get.key, get.options);
      writeOutput(io, formatGet(response, format, get));
      return 0;
    }
    case 'del': {
      const del = delCommand(args, flags);
      writeOutput(io, formatDelete(await client.delete(del.key, del.options), format));
      return 0;
    }
    case 'txn': {
      if (args.length > 0)
        throw new UsageError('txn command does not accept arguments (it reads stdin)');
      const text =
        flags.interactive === true ? await readTxnInteractive(io) : await readAll(io.stdin);
      const request: TxnRequest = parseTxnText(text);
      writeOutput(io, formatTxn(await client.txnRequest(request), format));
      return 0;
    }
    case 'compaction': {
      if (args.length !== 1 || !/^\d+$/.test(args[0] as string)) {
        throw new UsageError('compaction command needs 1 argument: the revision (an integer)');
      }
      const revision = BigInt(args[0] as string);
      const response = await client.compact(revision, { physical: flags.physical === true });
      writeOutput(io, formatCompaction(response, revision, format));
      return 0;
    }
    case 'watch': {
      const watch = watchCommand(args, flags);
      refuseTable('watch', format);
      return watchUntilStopped(watch, format, io, client, deps.onInterrupt ?? onProcessInterrupt);
    }
    case 'member':
      return executeMember(parsed, io, client);
    case 'lease':
      return executeLease(parsed, io, client, deps);
    case 'move-leader': {
      const target = moveLeaderCommand(args);
      refuseTable('move-leader', format);
      const result = await client.moveLeader(target);
      writeOutput(io, formatMoveLeader(result.previousLeader, target, result, format));
      return 0;
    }
    case 'endpoint': {
      if (args[0] === 'hashkv' && args.length === 1) {
        return endpointHashKV(parsed, io, client);
      }
      if (args[0] !== 'status' || args.length !== 1) {
        throw new UsageError(
          'endpoint: only "endpoint status" and "endpoint hashkv" are supported',
        );
      }
      const statuses: EndpointStatus[] = [];
      let failed = 0;
      for (const endpoint of global.endpoints) {
        try {
          statuses.push({ endpoint: endpoint.text, status: await client.status(endpoint.text) });
        } catch (error) {
          failed++;
          io.stderr.write(
            `Failed to get the status of endpoint ${endpoint.text} (${(error as Error).message})\n`,
          );
        }
      }
      if (statuses.length > 0) writeOutput(io, formatEndpointStatus(statuses, format));
      return failed === 0 ? 0 : 1;
    }
    case 'snapshot':
      return snapshotSave(parsed, io, client);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

/**
 * endpointHashKV is `endpoint hashkv [--rev N]`: each endpoint's HashKV, one line
 * `<endpoint>, <hash>` each as etcdctl prints them (JSON with `-w json`); a failed
 * endpoint is reported on stderr and the exit code is 1.
 */
async function endpointHashKV(
  parsed: ParsedCommand,
  io: CliIO,
  client: ClientLike,
): Promise<number> {
  const rev = parsed.flags.rev;
  let revision = 0n;
  if (typeof rev === 'string') {
    if (!/^\d+$/.test(rev)) throw new UsageError(`invalid --rev "${rev}"`);
    revision = BigInt(rev);
  }
  const format = parsed.global.output;
  const results: { endpoint: string; response: Awaited<ReturnType<ClientLike['hashKV']>> }[] = [];
  let failed = 0;
  for (const endpoint of parsed.global.endpoints) {
    try {
      results.push({
        endpoint: endpoint.text,
        response: await client.hashKV(endpoint.text, revision),
      });
    } catch (error) {
      failed++;
      io.stderr.write(
        `Failed to get the hash of endpoint ${endpoint.text} (${(error as Error).message})\n`,
      );
    }
  }
  if (format === 'json') {
    const items = results.map(
      ({ endpoint, response }) =>
        `{"Endpoint":${JSON.stringify(endpoint)},"HashKV":${formatEtcdJson('HashKVResponse', response)}}`,
    );
    io.stdout.write(`[${items.join(',')}]\n`);
  } else {
    for (const { endpoint, response } of results)
      io.stdout.write(`${endpoint}, ${response.hash}\n`);
  }
  return failed === 0 ? 0 : EXIT_ERROR;
}

/**
 * snapshotSave is `snapshot save <file>`: one endpoint's backup (Maintenance.Snapshot)
 * written to `<file>.part`, synced, then renamed to `<file>`, as etcdctl does.
 */
async function snapshotSave(parsed: ParsedCommand, io: CliIO, client: ClientLike): Promise<number> {
  const [sub, path, ...rest] = parsed.args;
  if (sub !== 'save')
    throw new UsageError('snapshot: only "snapshot save <filename>" is supported');
  if (path === undefined || rest.length > 0) {
    throw new UsageError('snapshot save expects one argument', EXIT_BAD_ARGS);
  }
  const endpoints = parsed.global.endpoints.map((e) => e.text);
  if (endpoints.length !== 1) {
    throw new UsageError(
      `snapshot must be requested to one selected node, not multiple [${endpoints.join(' ')}]`,
      EXIT_BAD_FEATURE,
    );
  }
  const partial = `${path}.part`;
  const file = await open(partial, 'w', 0o600);
  try {
    for await (const blob of client.snapshot(endpoints[0]!)) await file.write(blob);
    await file.sync();
  } catch (error) {
    await file.close();
    await rm(partial, { force: true });
    throw new CommandError(errorMessage(error), EXIT_SERVER_INTERRUPTED, error);
  }
  await file.close();
  await rename(partial, path);
  io.stdout.write(`Snapshot saved at ${path}\n`);
  return 0;
}

/** exitCode is the exit code for an error, as etcdctl would exit on it. */
function exitCode(error: unknown): number {
  if (error instanceof UsageError || error instanceof CommandError) return error.exitCode;
  // etcdctl's move-leader exits "bad args" when no given endpoint is the leader.
  if (isKvClientError(error, 'noLeaderEndpoint') && error.codeName === 'FAILED_PRECONDITION') {
    return EXIT_BAD_ARGS;
  }
  return EXIT_ERROR;
}

/**
 * runCli runs raftkitctl with the given arguments and returns its exit code: 0 on
 * success, 1 on any error (bad flags, bad input, server or connection errors), with
 * `Error: <message>` on stderr as etcdctl prints it; the membership, move-leader,
 * lease and watch commands exit 128 on bad arguments and 4 on `-w table`, `lease
 * timetolive`, `list` and `keep-alive` 2 when their request fails, `watch` 5 when the
 * server cancels it, and `lease keep-alive` and `watch` 130 when SIGINT stopped them,
 * as etcdctl does.
 */
export async function runCli(
  argv: readonly string[],
  io: CliIO,
  deps: CliDeps = {},
): Promise<number> {
  if (isBenchCommand(argv)) return runBench(argv, io);
  let parsed: ParsedCommand;
  try {
    parsed = parseCommandLine(argv);
  } catch (error) {
    io.stderr.write(`Error: ${(error as Error).message}\n`);
    io.stderr.write('Run "raftkitctl --help" for usage.\n');
    return 1;
  }
  const group = parsed.command !== undefined && COMMANDS[parsed.command]?.subcommands;
  if (parsed.help || parsed.command === undefined || (group && parsed.args.length === 0)) {
    io.stdout.write(usageText(parsed.command, parsed.args[0]));
    if (parsed.command === undefined) io.stdout.write(`\nAlso: raftkitctl ${BENCH_SUMMARY}\n`);
    return 0;
  }
  if (parsed.command === 'version') {
    io.stdout.write(`raftkitctl version: ${CLI_VERSION}\nAPI version: 3.4\n`);
    return 0;
  }
  let client: ClientLike | undefined;
  try {
    const options = await clientOptions(parsed.global);
    client = (deps.makeClient ?? ((o) => new KvClient(o)))(options);
    return await execute(parsed, io, client, deps);
  } catch (error) {
    io.stderr.write(`Error: ${errorMessage(error)}\n`);
    return exitCode(error);
  } finally {
    client?.close();
  }
}
