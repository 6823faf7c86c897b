#!/usr/bin/env node
// `pnpm start`: three kv-server members on 127.0.0.1 (client/peer ports 2379/2380,
// 22379/22380, 32379/32380), data kept under ./data between runs, logs prefixed by
// member name. Ctrl-C stops all three (SIGTERM, then SIGKILL after 5 s).
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const main = fileURLToPath(new URL('../apps/kv-server/dist/main.js', import.meta.url));
const cli = 'node apps/kv-client/dist/cli.js';
const members = [
  { name: 'infra1', client: 2379, peer: 2380 },
  { name: 'infra2', client: 22379, peer: 22380 },
  { name: 'infra3', client: 32379, peer: 32380 },
];
const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
const colors = ['\x1b[36m', '\x1b[35m', '\x1b[33m'];
const reset = process.stdout.isTTY ? '\x1b[0m' : '';

function format(line) {
  try {
    const record = JSON.parse(line);
    const { level, time, member, msg, pid, hostname, ...rest } = record;
    const name =
      { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }[level] ??
      level;
    const fields = Object.entries(rest)
      .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
      .join(' ');
    return `${name.padEnd(5)} ${msg}${fields ? `  ${fields}` : ''}`;
  } catch {
    return line;
  }
}

mkdirSync(`${root}/data`, { recursive: true });
const children = members.map((member, i) => {
  const child = spawn(
    process.execPath,
    [
      main,
      '--name',
      member.name,
      '--data-dir',
      `${root}/data/${member.name}`,
      '--listen-client-urls',
      `http://127.0.0.1:${member.client}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${member.client}`,
      '--listen-peer-urls',
      `http://127.0.0.1:${member.peer}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${member.peer}`,
      '--initial-cluster',
      initialCluster,
      '--initial-cluster-token',
      'raftkit-local',
      '--initial-cluster-state',
      'new',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const prefix = `${process.stdout.isTTY ? colors[i] : ''}[${member.name}]${reset} `;
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => console.log(prefix + format(line)));
  }
  child.on('exit', (code, signal) => console.log(`${prefix}exited (${signal ?? code})`));
  return child;
});

const endpoints = members.map((m) => `127.0.0.1:${m.client}`).join(',');
console.log(`raftkit: 3-member cluster starting, data in ${root}data/`);
console.log(`  client endpoints: ${endpoints}`);
console.log('  try:');
console.log(`    ${cli} --endpoints ${endpoints} put greeting hello`);
console.log(`    ${cli} --endpoints ${endpoints} get greeting`);
console.log(`    ${cli} --endpoints ${endpoints} endpoint status -w table`);
console.log('  (stock etcdctl works too: ETCDCTL_API=3 etcdctl --endpoints ... get greeting)');
console.log('  Ctrl-C stops all three.');

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  for (const child of children) child.kill('SIGTERM');
  setTimeout(() => {
    for (const child of children) child.kill('SIGKILL');
    process.exit(0);
  }, 5000).unref();
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
let exited = 0;
for (const child of children) {
  child.on('exit', () => {
    exited++;
    if (exited === children.length) process.exit(0);
  });
}
