#!/usr/bin/env node
// `pnpm chaos -- --time 60 --seed N --nodes 3|5 [--nemesis a,b] [--membership[=ops]]
//                [--target raftkit|etcd] [--lease-ops PCT] [--peer-tls]`
import { killAllChildren, type Target } from './cluster.js';
import { isMembershipOpName, MEMBERSHIP_OPS, type MembershipOpName } from './membership.js';
import { isNemesisName, NEMESES, type NemesisName } from './nemesis.js';
import { type ChaosOptions, passed, runChaos, summaryLine } from './run.js';
import { DEFAULT_LEASE_OPS } from './workload.js';

const USAGE = `usage: chaos [--time SEC] [--seed N] [--nodes 3|5] [--nemesis ${NEMESES.join(',')}|none]
             [--membership[=${MEMBERSHIP_OPS.join(',')}]]
             [--target raftkit|etcd] [--clients N] [--keys N] [--lease-ops PCT] [--results DIR]
             [--peer-tls]
  --membership alone turns on every membership operation, alongside the nemeses.
  --peer-tls runs the peer traffic over mutual TLS (https peer URLs, a throwaway CA).
  --lease-ops is the percentage of operations that are leasePuts and revokes (4:3),
  0 to 50, default ${Math.round(DEFAULT_LEASE_OPS * 100)}; 0 turns them off.
  Environment: CHAOS_MEMBER_ENV="K=V,..." is passed to every member (e.g. the planted bug
  RAFTKIT_UNSAFE_STALE_READS=1).`;

function fail(message: string): never {
  console.error(`chaos: ${message}\n${USAGE}`);
  process.exit(2);
}

function parse(argv: readonly string[]): ChaosOptions {
  const args = argv.filter((arg) => arg !== '--');
  const values = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    if (!arg.startsWith('--')) fail(`unexpected argument '${arg}'`);
    const [flag, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    // --membership takes no value unless one is given inline (--membership=a,b);
    // --peer-tls takes none.
    if (flag === 'peer-tls' && inline !== undefined) fail('--peer-tls takes no value');
    const value =
      inline ?? (flag === 'membership' ? 'all' : flag === 'peer-tls' ? 'on' : args[++i]);
    if (value === undefined) fail(`--${flag} needs a value`);
    values.set(flag, value);
  }
  const known = new Set([
    'time',
    'seed',
    'nodes',
    'nemesis',
    'membership',
    'target',
    'clients',
    'keys',
    'lease-ops',
    'results',
    'peer-tls',
  ]);
  for (const flag of values.keys()) if (!known.has(flag)) fail(`unknown flag --${flag}`);
  const int = (flag: string, fallback: number) => {
    const text = values.get(flag);
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0)
      fail(`--${flag} must be a non-negative integer, got '${text}'`);
    return n;
  };
  const nodes = int('nodes', 3);
  if (nodes !== 3 && nodes !== 5) fail('--nodes must be 3 or 5');
  const target = values.get('target') ?? 'raftkit';
  if (target !== 'raftkit' && target !== 'etcd') fail('--target must be raftkit or etcd');
  const nemesisText = values.get('nemesis') ?? 'all';
  let nemeses: NemesisName[];
  if (nemesisText === 'all') nemeses = [...NEMESES];
  else if (nemesisText === 'none') nemeses = [];
  else {
    nemeses = [];
    for (const name of nemesisText.split(',')) {
      if (!isNemesisName(name)) fail(`unknown nemesis '${name}'`);
      nemeses.push(name);
    }
  }
  const membershipText = values.get('membership');
  let membership: MembershipOpName[] = [];
  if (membershipText === 'all') membership = [...MEMBERSHIP_OPS];
  else if (membershipText !== undefined && membershipText !== 'none') {
    for (const name of membershipText.split(',')) {
      if (!isMembershipOpName(name)) fail(`unknown membership operation '${name}'`);
      membership.push(name);
    }
  }
  const leaseOps = int('lease-ops', Math.round(DEFAULT_LEASE_OPS * 100));
  if (leaseOps > 50) fail('--lease-ops must be a percentage from 0 to 50');
  const env: Record<string, string> = {};
  for (const pair of (process.env.CHAOS_MEMBER_ENV ?? '').split(',')) {
    const [key, value] = pair.split('=', 2);
    if (key !== undefined && key !== '' && value !== undefined) env[key] = value;
  }
  const results = values.get('results');
  return {
    timeSec: int('time', 60),
    seed: int('seed', Date.now() % 1_000_000),
    nodes,
    nemeses,
    membership,
    target: target as Target,
    clients: int('clients', 10),
    keys: int('keys', 5),
    leaseOps: leaseOps / 100,
    env,
    ...(values.has('peer-tls') ? { peerTls: true } : {}),
    ...(results !== undefined ? { resultsDir: results } : {}),
    log: (line) => console.log(`chaos: ${line}`),
  };
}

const options = parse(process.argv.slice(2));
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAllChildren();
    process.exit(130);
  });
}
console.log(
  `chaos: target=${options.target} nodes=${options.nodes} time=${options.timeSec}s seed=${options.seed} nemeses=${options.nemeses.join(',') || 'none'} membership=${options.membership?.join(',') || 'off'} lease-ops=${Math.round((options.leaseOps ?? DEFAULT_LEASE_OPS) * 100)}%${options.peerTls === true ? ' peer-tls' : ''}`,
);
try {
  const report = await runChaos(options);
  for (const phase of report.availability) {
    if (phase.name === 'none') continue;
    console.log(
      `chaos: phase ${phase.name.padEnd(16)} ${(phase.start / 1000).toFixed(1).padStart(6)}s-${(phase.end / 1000).toFixed(1).padStart(5)}s ok ${phase.ok}/${phase.ops} (${(phase.availability * 100).toFixed(0)}%) ${phase.detail ?? ''}`,
    );
  }
  for (const [name, a] of Object.entries(report.availabilityByNemesis)) {
    console.log(
      `chaos: availability ${name.padEnd(16)} ${(a.availability * 100).toFixed(1)}% (${a.ok}/${a.ops} in ${a.phases} phases)`,
    );
  }
  for (const key of report.nonLinearizableKeys) {
    const stuck = key.stuck;
    console.log(
      `chaos: VIOLATION key ${key.key}: cannot linearize ${stuck === undefined ? '?' : JSON.stringify(stuck.op)} (possible states before it: ${JSON.stringify(stuck?.states ?? [])})`,
    );
  }
  for (const lost of report.lostWrites) {
    console.log(
      `chaos: LOST WRITE key ${lost.key}: final ${JSON.stringify(lost.finalValue)}, acknowledged ${JSON.stringify(lost.op)}`,
    );
  }
  if (report.inconclusiveKeys.length > 0) {
    console.log(
      `chaos: INCONCLUSIVE keys (checker timed out): ${report.inconclusiveKeys.join(' ')}`,
    );
  }
  const membership = report.membership;
  if (membership !== undefined) {
    for (const [kind, counts] of Object.entries(membership.summary)) {
      console.log(
        `chaos: membership ${kind.padEnd(12)} acknowledged ${counts.ok}, failed ${counts.fail}, unknown ${counts.unknown}`,
      );
    }
    console.log(
      `chaos: membership final members ${membership.finalMembers.map((m) => `${m.name}${m.isLearner ? '(learner)' : ''}`).join(',')}; removed ${membership.removed.map((r) => `${r.name}${r.exitedAfterMs === undefined ? (r.wasDown ? '(was down)' : '(still running)') : `(exited after ${(r.exitedAfterMs / 1000).toFixed(1)}s)`}`).join(',') || 'none'}`,
    );
    for (const violation of membership.violations) {
      console.log(`chaos: MEMBERSHIP VIOLATION ${violation}`);
    }
  }
  if (report.finalReadsMissing.length > 0) {
    console.log(`chaos: final read failed for ${report.finalReadsMissing.join(' ')}`);
  }
  console.log(`chaos: history and report in ${report.dir} (check ${report.checkMs} ms)`);
  console.log(summaryLine(report));
  process.exit(passed(report) ? 0 : 1);
} catch (error) {
  console.error(`chaos: run failed: ${error instanceof Error ? error.stack : String(error)}`);
  killAllChildren();
  process.exit(1);
}
