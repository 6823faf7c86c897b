#!/usr/bin/env node
// raftkitctl: etcdctl-style command line client for raftkit kv-server and etcd.
import { runCli } from './cli/main.js';

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
});
process.exitCode = code;
