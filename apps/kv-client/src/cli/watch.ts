// `raftkitctl watch`: etcdctl 3.4's watch command without its exec-command and
// interactive modes — the same arguments, the same output, the same exit codes.
import { KvClientError, WatchCanceledError } from '../errors.js';
import type { WatchOptions } from '../watch-request.js';
import {
  EXIT_BAD_ARGS,
  EXIT_INTERRUPTED,
  EXIT_SERVER_INTERRUPTED,
  type OutputFormat,
  UsageError,
} from './args.js';
import { formatWatchFailure, formatWatchResponse, writeOutput } from './format.js';
import type { ClientLike, CliIO } from './main.js';
import { parseGoInt } from './requests.js';

type Flags = Record<string, string | boolean | undefined>;

/** WatchCommand is a parsed `watch`: the key and the KvClient.watch options. */
export interface WatchCommand {
  /** key is the key, or the prefix with --prefix. */
  readonly key: string;
  /** options are KvClient.watch options (always `requireLeader`, as etcdctl). */
  readonly options: WatchOptions;
}

/**
 * watchCommand checks `watch <key> [range_end] [--prefix] [--rev N] [--prev-kv]` as
 * etcdctl does: a key is required and `range_end` excludes `--prefix` (exit 128); `--rev`
 * is read as Go's `ParseInt(s, 10, 64)` (exit 1). etcdctl's `[--] exec-command` is not
 * supported: more than two arguments exit 128.
 */
export function watchCommand(args: string[], flags: Flags): WatchCommand {
  if (args.length === 0) throw new UsageError('bad number of arguments', EXIT_BAD_ARGS);
  if (args.length > 2) {
    throw new UsageError(
      'too many arguments (raftkitctl watch runs no exec-command)',
      EXIT_BAD_ARGS,
    );
  }
  if (args.length === 2 && flags.prefix === true) {
    throw new UsageError('`range_end` and `--prefix` are mutually exclusive', EXIT_BAD_ARGS);
  }
  let revision: bigint | undefined;
  if (typeof flags.rev === 'string') {
    try {
      revision = parseGoInt(flags.rev, 10);
    } catch (error) {
      throw new UsageError(
        `invalid argument ${JSON.stringify(flags.rev)} for "--rev" flag: ${(error as Error).message}`,
      );
    }
  }
  const options: WatchOptions = {
    requireLeader: true,
    ...(flags.prefix === true ? { prefix: true } : {}),
    ...(args[1] === undefined ? {} : { rangeEnd: args[1] }),
    ...(revision === undefined ? {} : { revision }),
    ...(flags['prev-kv'] === true ? { prevKv: true } : {}),
  };
  return { key: args[0] as string, options };
}

/**
 * watchUntilStopped runs `watch`: it prints every batch until SIGINT (exit 130, of
 * which the binary then dies, as etcdctl does) or until the watch ends otherwise. When
 * the server cancels it (e.g. a compacted `--rev`) or the stream fails for good, it
 * prints etcdctl's `watch was canceled (<reason>)` and `Error: watch is canceled by the
 * server` on stderr (with `-w json`, the cancel response on stdout) and exits 5.
 */
export async function watchUntilStopped(
  command: WatchCommand,
  format: OutputFormat,
  io: CliIO,
  client: Pick<ClientLike, 'watch'>,
  onInterrupt: (handler: () => void) => () => void,
): Promise<number> {
  const watch = client.watch(command.key, command.options);
  let interrupted = false;
  const stopListening = onInterrupt(() => {
    interrupted = true;
    watch.close();
  });
  try {
    for await (const batch of watch) writeOutput(io, formatWatchResponse(batch, format));
  } catch (error) {
    const details = error instanceof KvClientError ? error.details : (error as Error).message;
    io.stderr.write(`watch was canceled (${details})\n`);
    writeOutput(
      io,
      error instanceof WatchCanceledError
        ? formatWatchResponse(error.response, format)
        : formatWatchFailure(format),
    );
    io.stderr.write('Error: watch is canceled by the server\n');
    return EXIT_SERVER_INTERRUPTED;
  } finally {
    stopListening();
  }
  return interrupted ? EXIT_INTERRUPTED : 0;
}
