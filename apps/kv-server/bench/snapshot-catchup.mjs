#!/usr/bin/env node
// Snapshot figures (by hand, not a test):
//   node apps/kv-server/bench/snapshot-catchup.mjs [--writes 100000] [--snapshot-count 10000]
// Starts 3 members (fsync on), stops one follower, writes N puts of 256 B through the
// leader with `raftkitctl bench put`, restarts the follower and measures how long it
// takes to apply everything (it must be caught up by InstallSnapshot: the leader keeps
// only --experimental-snapshot-catchup-entries behind its snapshot), the snapshot size,
// and the data dir sizes. Always kills everything and removes the temp dirs.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, initialClusterOf, memberFlags } from './member-flags.mjs';

const { values } = parseArgs({
  options: {
    writes: { type: 'string', default: '100000' },
    'snapshot-count': { type: 'string', default: '10000' },
    'catchup-entries': { type: 'string', default: '5000' },
  },
});
const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const cli = fileURLToPath(new URL('../../kv-client/dist/cli.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'raftkit-snapbench-'));
const dirSize = (dir) => {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? dirSize(path) : statSync(path).size;
  }
  return total;
};
const members = [];
for (let i = 1; i <= 3; i++)
  members.push({
    name: `m${i}`,
    client: await freePort(),
    peer: await freePort(),
    dir: join(root, `m${i}`),
  });
const initialCluster = initialClusterOf(members);
function start(member) {
  member.logs = '';
  member.proc = spawn(
    process.execPath,
    [
      main,
      ...memberFlags({
        name: member.name,
        dataDir: member.dir,
        client: member.client,
        peer: member.peer,
        initialCluster,
        token: 'snapbench',
      }),
      '--snapshot-count',
      values['snapshot-count'],
      '--experimental-snapshot-catchup-entries',
      values['catchup-entries'],
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  member.proc.stderr.on('data', (chunk) => {
    member.logs += chunk;
  });
}
const ctl = (...args) =>
  JSON.parse(execFileSync(process.execPath, [cli, ...args, '-w', 'json'], { encoding: 'utf8' }));
const status = (member) => {
  try {
    return ctl('--endpoints', `127.0.0.1:${member.client}`, 'endpoint', 'status')[0].Status;
  } catch {
    return undefined;
  }
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
try {
  members.forEach(start);
  let leader;
  for (let i = 0; i < 200 && !leader; i++) {
    await sleep(100);
    leader = members.find((m) => {
      const s = status(m);
      return s && String(s.leader) === String(s.header.member_id);
    });
  }
  const follower = members.find((m) => m !== leader);
  follower.proc.kill('SIGTERM');
  await new Promise((r) => follower.proc.once('exit', r));
  const started = Date.now();
  const bench = JSON.parse(
    execFileSync(
      process.execPath,
      [
        cli,
        'bench',
        'put',
        '--endpoints',
        `127.0.0.1:${leader.client}`,
        '--clients',
        '64',
        '--conns',
        '8',
        '--total',
        values.writes,
        '--val-size',
        '256',
        '--key-space-size',
        '100000',
        '--json',
        '--no-progress',
      ],
      { encoding: 'utf8', maxBuffer: 64 << 20 },
    ),
  );
  const writeSeconds = (Date.now() - started) / 1000;
  const leaderStatus = status(leader);
  const snapFiles = readdirSync(join(leader.dir, 'snap')).filter((f) => !f.startsWith('.'));
  const snapBytes = snapFiles.reduce(
    (sum, f) => sum + statSync(join(leader.dir, 'snap', f)).size,
    0,
  );
  const restartAt = Date.now();
  start(follower);
  let caughtUp;
  for (let i = 0; i < 6000 && caughtUp === undefined; i++) {
    await sleep(50);
    const s = status(follower);
    if (s && Number(s.raftAppliedIndex) >= Number(leaderStatus.raftIndex))
      caughtUp = (Date.now() - restartAt) / 1000;
  }
  const installed =
    /restored from a received snapshot|restored snapshot|log restored from snapshot/.test(
      follower.logs,
    );
  const report = {
    writes: Number(values.writes),
    writeSeconds,
    putOpsPerSecond: bench.throughput ?? bench.opsPerSecond,
    putP99Ms: bench.latencyMs?.p99,
    leaderRaftIndex: Number(leaderStatus.raftIndex),
    snapshotFiles: snapFiles.length,
    snapshotBytes: snapBytes,
    followerCatchUpSeconds: caughtUp,
    followerInstalledSnapshot: installed,
    dataDirBytes: Object.fromEntries(members.map((m) => [m.name, dirSize(m.dir)])),
  };
  console.log(JSON.stringify(report));
} finally {
  for (const m of members) m.proc?.kill('SIGKILL');
  await sleep(300);
  rmSync(root, { recursive: true, force: true });
}
