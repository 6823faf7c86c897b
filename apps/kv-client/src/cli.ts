#!/usr/bin/env node
// raftkitctl: etcdctl-style command line client for raftkit kv-server and etcd.
import { EXIT_INTERRUPTED } from './cli/args.js';
import { runCli } from './cli/main.js';

// A reader that went away (`raftkitctl get --prefix '' | head`) ends the output quietly,
// as SIGPIPE ends etcdctl, instead of an unhandled EPIPE error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
});
process.exitCode = code;
// etcdctl dies of the SIGINT that stops `lease keep-alive` and `watch`; raftkitctl,
// having closed its stream, does the same (its SIGINT listener is gone by now).
if (code === EXIT_INTERRUPTED) process.kill(process.pid, 'SIGINT');
