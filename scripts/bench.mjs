#!/usr/bin/env node
// `pnpm bench`: the benchmarks that exist today, one after the other.
import { spawnSync } from 'node:child_process';

const suites = [['--filter', '@raftkit/core', 'bench']];
for (const args of suites) {
  const result = spawnSync('pnpm', args, { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
console.log('raftkit: the side-by-side etcd comparison comes with the benchmarks issue.');
