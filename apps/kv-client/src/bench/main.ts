// `raftkitctl bench`: parse, run, print. Dispatched from the CLI's runCli.
import { BenchUsageError, benchUsageText, parseBenchArgs } from './args.js';
import { formatJson, formatReport } from './report.js';
import { runWorkload } from './runner.js';

export { BENCH_SUMMARY, isBenchCommand } from './args.js';

/** BenchIO is where `raftkitctl bench` writes; a TTY stderr gets the progress bar. */
export interface BenchIO {
  readonly stdout: { write(chunk: string): unknown };
  readonly stderr: { write(chunk: string): unknown; readonly isTTY?: boolean };
}

/**
 * runBench runs `raftkitctl bench …` and returns the exit code: 0 when the run finished
 * (request errors are reported, not fatal) or the workload is unsupported by the
 * server (reported as such); 1 for a bad command line, unreachable endpoints, or a
 * run in which every request failed.
 */
export async function runBench(argv: readonly string[], io: BenchIO): Promise<number> {
  let command: ReturnType<typeof parseBenchArgs>;
  try {
    command = parseBenchArgs(argv);
  } catch (error) {
    io.stderr.write(`Error: ${(error as Error).message}\n`);
    if (error instanceof BenchUsageError) {
      io.stderr.write('Run "raftkitctl bench --help" for usage.\n');
    }
    return 1;
  }
  if (command.help) {
    io.stdout.write(benchUsageText());
    return 0;
  }
  const showProgress =
    command.progress === 'always' || (command.progress === 'auto' && io.stderr.isTTY === true);
  try {
    const result = await runWorkload(command, showProgress ? io.stderr : undefined);
    io.stdout.write(command.json ? formatJson(result) : formatReport(result));
    return result.status === 'ok' && result.requests === 0 && result.errors > 0 ? 1 : 0;
  } catch (error) {
    io.stderr.write(`Error: ${(error as Error).message}\n`);
    return 1;
  }
}
