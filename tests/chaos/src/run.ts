// One chaos run end to end: start the cluster behind the proxies, run the workload
// under the nemesis schedule, heal, read the final state, check, and write the history
// and the report.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  availabilityByNemesis,
  availabilityByPhase,
  type PhaseAvailability,
} from './availability.js';
import { Clock } from './clock.js';
import { Cluster, type MemberSpec, type Target } from './cluster.js';
import { checkFinalState, type LostWrite } from './final-state.js';
import { countOutcomes, historyToJsonl, type OutcomeCounts } from './history.js';
import { checkLinearizable, type KeyResult, type Verdict } from './linearizability.js';
import {
  type ChangeCounts,
  type MembershipChangeKind,
  type MembershipOpName,
  summarizeChanges,
} from './membership.js';
import { MembershipNemesis, type MembershipResult } from './membership-nemesis.js';
import { Nemesis, type NemesisName } from './nemesis.js';
import { Network } from './network.js';
import { freePorts } from './ports.js';
import { Random } from './random.js';
import {
  compareReplicaHashes,
  compareStateHashes,
  type ReplicaHashes,
  type StateHashes,
} from './replica-hash.js';
import { DEFAULT_LEASE_OPS, DEFAULT_LEASE_TTL_SEC, Workload } from './workload.js';

/** DEFAULT_RESULTS_DIR is tests/chaos/results (gitignored). */
export const DEFAULT_RESULTS_DIR = fileURLToPath(new URL('../results', import.meta.url));

/** ChaosOptions configures one run. */
export interface ChaosOptions {
  /** timeSec is how long the workload runs under faults. */
  readonly timeSec: number;
  readonly seed: number;
  readonly nodes: number;
  readonly nemeses: readonly NemesisName[];
  /**
   * membership turns the membership nemesis on with these operations (off when absent
   * or empty); it runs alongside the other nemeses' schedule.
   */
  readonly membership?: readonly MembershipOpName[];
  readonly target: Target;
  readonly clients?: number;
  readonly keys?: number;
  readonly opsPerKey?: number;
  /**
   * leaseOps is the share of lease operations (leasePut and revoke, 4:3), 0 to 0.5;
   * DEFAULT_LEASE_OPS when absent, 0 turns them off.
   */
  readonly leaseOps?: number;
  readonly requestTimeoutMs?: number;
  readonly checkTimeoutMs?: number;
  readonly resultsDir?: string;
  /** env is passed to every member (e.g. RAFTKIT_UNSAFE_STALE_READS=1). */
  readonly env?: Readonly<Record<string, string>>;
  /** peerTls runs the members' peer traffic over mutual TLS (see ClusterOptions). */
  readonly peerTls?: boolean;
  readonly log?: (line: string) => void;
}

/** ChaosReport is what a run found; `report.json` holds it. */
export interface ChaosReport {
  readonly target: Target;
  readonly seed: number;
  readonly nodes: number;
  readonly timeSec: number;
  readonly nemeses: readonly NemesisName[];
  readonly dir: string;
  readonly ops: number;
  readonly ok: number;
  readonly fail: number;
  readonly unknown: number;
  /** leases counts the lease operations by outcome (they are also in ops/ok/...). */
  readonly leases: { readonly leasePut: OutcomeCounts; readonly revoke: OutcomeCounts };
  /**
   * violations counts non-linearizable keys, lost acknowledged writes and membership
   * violations (an acknowledged change missing from the member list, a removed member
   * still running, a crash, a member that never caught up).
   */
  readonly violations: number;
  readonly linearizability: Verdict;
  readonly nonLinearizableKeys: readonly KeyResult[];
  readonly inconclusiveKeys: readonly string[];
  readonly lostWrites: readonly LostWrite[];
  /** finalReadsMissing lists keys whose final read never succeeded. */
  readonly finalReadsMissing: readonly string[];
  readonly availability: readonly PhaseAvailability[];
  readonly availabilityByNemesis: ReturnType<typeof availabilityByNemesis>;
  readonly unidentifiedPeerConnections: number;
  /**
   * replicas is every running member's HashKV at the lowest revision they all reached
   * after healing; `diverged` counts as a violation.
   */
  readonly replicas: ReplicaHashes;
  /**
   * states is every running member's Maintenance.Hash (the whole applied state: data,
   * leases, membership) at one applied index, raftkit only; `diverged` is a violation.
   */
  readonly states?: StateHashes;
  readonly checkMs: number;
  /** membership is what the membership nemesis did and found (when it was on). */
  readonly membership?: MembershipResult & {
    readonly summary: Record<MembershipChangeKind | 'total', ChangeCounts>;
  };
}

/** passed is true when a report shows no violation and nothing inconclusive. */
export function passed(report: ChaosReport): boolean {
  return (
    report.violations === 0 &&
    report.linearizability === 'ok' &&
    report.finalReadsMissing.length === 0
  );
}

/**
 * summaryLine is the final line a run prints: operation counts, verdicts, then the lease
 * operations as `leases=<ok>/<fail>/<unknown>` (leasePuts) and
 * `revokes=<ok>/<fail>/<unknown>`; with the membership nemesis on it ends with
 * `changes=<acknowledged>/<failed>/<unknown>` (membership changes).
 */
export function summaryLine(report: ChaosReport): string {
  const total = report.membership?.summary.total;
  const counts = (c: OutcomeCounts) => `${c.ok}/${c.fail}/${c.unknown}`;
  return (
    `ops=${report.ops} ok=${report.ok} unknown=${report.unknown} violations=${report.violations}` +
    ` fail=${report.fail} lost=${report.lostWrites.length} check=${report.linearizability}` +
    ` leases=${counts(report.leases.leasePut)} revokes=${counts(report.leases.revoke)}` +
    ` replicas=${replicasText(report)}` +
    (total === undefined ? '' : ` changes=${total.ok}/${total.fail}/${total.unknown}`)
  );
}

/**
 * replicasText is the summary's replica verdict: `same@R` (HashKV at revision R; with
 * `,state@I` when raftkit's whole-state hashes also matched at applied index I),
 * `same-except-<members>@R`, or `diverged@R` / `state-diverged@I`.
 */
function replicasText(report: ChaosReport): string {
  const { replicas, states } = report;
  if (replicas.diverged) return `diverged@${replicas.revision}`;
  if (states?.diverged === true) return `state-diverged@${states.appliedIndex}`;
  const same =
    replicas.unanswered.length === 0 ? 'same' : `same-except-${replicas.unanswered.join(',')}`;
  const state =
    states !== undefined && states.appliedIndex > 0 ? `,state@${states.appliedIndex}` : '';
  return `${same}@${replicas.revision}${state}`;
}

/** runChaos performs one run and writes `history.jsonl` and `report.json` into its dir. */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => {});
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = join(
    options.resultsDir ?? DEFAULT_RESULTS_DIR,
    `${stamp}-${options.target}-n${options.nodes}-seed${options.seed}`,
  );
  const logDir = join(dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const names = Array.from({ length: options.nodes }, (_, i) => `n${i + 1}`);
  const ports = await freePorts(names.length * 3);
  const members: MemberSpec[] = names.map((name, i) => ({
    name,
    clientPort: ports[i * 3] as number,
    peerPort: ports[i * 3 + 1] as number,
    proxyPort: ports[i * 3 + 2] as number,
  }));
  const cluster = new Cluster({
    target: options.target,
    members,
    logDir,
    ...(options.env !== undefined ? { env: options.env } : {}),
    ...(options.peerTls === true ? { peerTls: true } : {}),
  });
  const network = new Network(members, () => cluster.pids());
  const random = new Random(options.seed);
  const clock = new Clock();
  const workload = new Workload({
    endpoint: (name) => cluster.endpoint(name),
    members: () => cluster.names(),
    clients: options.clients ?? 10,
    keys: options.keys ?? 5,
    opsPerKey: options.opsPerKey ?? 200,
    timeoutMs: options.requestTimeoutMs ?? 1500,
    keyPrefix: `chaos/${options.seed}/k`,
    random: new Random(options.seed ^ 0x5eed),
    clock,
    leaseOps: options.leaseOps ?? DEFAULT_LEASE_OPS,
    // Nothing may expire during the run (the checker's model has no expiry).
    leaseTtlSec: Math.max(DEFAULT_LEASE_TTL_SEC, 2 * options.timeSec + 600),
  });
  const nemesis = new Nemesis({
    cluster,
    network,
    random,
    clock,
    nemeses: options.nemeses,
    log,
  });
  const membershipOps = options.membership ?? [];
  const membership =
    membershipOps.length === 0
      ? undefined
      : new MembershipNemesis({
          cluster,
          network,
          // Its own seeded source: the other nemeses' schedule for a seed stays the same.
          random: new Random(options.seed ^ 0x6d656d62),
          clock,
          nodes: options.nodes,
          ops: membershipOps,
          log,
        });
  let membershipResult: MembershipResult | undefined;
  let finalValues = new Map<string, string | null>();
  let replicas: ReplicaHashes = { revision: 0, hashes: {}, diverged: false, unanswered: [] };
  let states: StateHashes | undefined;
  try {
    await network.start();
    cluster.start();
    const leader = await cluster.waitForLeader(30_000);
    if (leader === undefined)
      throw new Error(`chaos: no leader elected within 30 s (logs: ${logDir})`);
    log(
      `cluster of ${options.nodes} ${options.target} members up, leader ${leader}; results in ${dir}`,
    );
    const start = clock.now();
    workload.start();
    const end = start + options.timeSec * 1000;
    await Promise.all([nemesis.run(end), membership?.run(end)]);
    await workload.stop();
    // Heal everything, let the cluster settle, then read the final state.
    network.heal();
    cluster.recover();
    const healedAt = clock.now();
    const recovered = await cluster.waitForLeader(30_000);
    log(
      `healed; leader ${recovered ?? 'none'} after ${((clock.now() - healedAt) / 1000).toFixed(1)}s`,
    );
    finalValues = await workload.finalRead(60_000);
    membershipResult = await membership?.finish(60_000);
    const running = cluster.names().filter((name) => cluster.stateOf(name) !== 'down');
    replicas = await compareReplicaHashes((name) => cluster.endpoint(name), running, 30_000);
    if (options.target === 'raftkit') {
      states = await compareStateHashes((name) => cluster.endpoint(name), running, 30_000);
    }
  } finally {
    // Members first, so nothing reconnects through a proxy that is shutting down.
    await cluster.stop();
    await network.stop();
  }
  const ops = workload.ops;
  writeFileSync(join(dir, 'history.jsonl'), historyToJsonl(ops));
  const checkStarted = performance.now();
  const check = checkLinearizable(ops, { timeoutMs: options.checkTimeoutMs ?? 120_000 });
  const checkMs = Math.round(performance.now() - checkStarted);
  const lostWrites = checkFinalState(ops, finalValues);
  const nonLinearizableKeys = check.keys.filter((k) => k.verdict === 'violation');
  const availability = availabilityByPhase(ops, nemesis.phases);
  const membershipViolations = membershipResult?.violations.length ?? 0;
  const report: ChaosReport = {
    target: options.target,
    seed: options.seed,
    nodes: options.nodes,
    timeSec: options.timeSec,
    nemeses: options.nemeses,
    dir,
    ops: ops.length,
    ok: ops.filter((op) => op.outcome === 'ok').length,
    fail: ops.filter((op) => op.outcome === 'fail').length,
    unknown: ops.filter((op) => op.outcome === 'unknown').length,
    leases: { leasePut: countOutcomes(ops, 'leasePut'), revoke: countOutcomes(ops, 'revoke') },
    violations:
      nonLinearizableKeys.length +
      lostWrites.length +
      membershipViolations +
      (replicas.diverged ? 1 : 0) +
      (states?.diverged === true ? 1 : 0),
    linearizability: check.verdict,
    nonLinearizableKeys,
    inconclusiveKeys: check.keys.filter((k) => k.verdict === 'inconclusive').map((k) => k.key),
    lostWrites,
    finalReadsMissing: workload.keys().filter((key) => !finalValues.has(key)),
    availability,
    availabilityByNemesis: availabilityByNemesis(availability),
    unidentifiedPeerConnections: network.unidentified,
    replicas,
    ...(states !== undefined ? { states } : {}),
    checkMs,
    ...(membershipResult !== undefined
      ? {
          membership: {
            ...membershipResult,
            summary: summarizeChanges(membershipResult.changes),
          },
        }
      : {}),
  };
  writeFileSync(join(dir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  return report;
}
