// A short seeded run with the membership nemesis on top of every other nemesis: real
// kv-server processes, members replaced, removed and added, leadership moved, while
// partitions, kills and pauses come and go. Nothing may be found.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasOpenssl } from '@raftkit/rpc/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { KV_SERVER_MAIN } from '../src/cluster.js';
import { MEMBERSHIP_OPS } from '../src/membership.js';
import { NEMESES } from '../src/nemesis.js';
import { type ChaosReport, runChaos, summaryLine } from '../src/run.js';
import { expectNothingFound } from './report-checks.js';

const resultsDir = mkdtempSync(join(tmpdir(), 'raftkit-chaos-membership-'));
let keep = false;
afterAll(() => {
  if (!keep) rmSync(resultsDir, { recursive: true, force: true });
});

async function run(seed: number, timeSec: number, peerTls: boolean): Promise<ChaosReport> {
  expect(existsSync(KV_SERVER_MAIN), `${KV_SERVER_MAIN} missing: build apps/kv-server`).toBe(true);
  const report = await runChaos({
    timeSec,
    seed,
    nodes: 3,
    nemeses: [...NEMESES],
    membership: [...MEMBERSHIP_OPS],
    target: 'raftkit',
    resultsDir,
    checkTimeoutMs: 60_000,
    ...(peerTls ? { peerTls } : {}),
  });
  console.log(summaryLine(report));
  if (report.violations > 0 || report.linearizability !== 'ok') {
    keep = true;
    console.log(`kept: ${report.dir}`);
  }
  return report;
}

function expectMembershipChangesAndNothingFound(report: ChaosReport): void {
  const membership = report.membership;
  expect(membership).toBeDefined();
  expect(membership?.violations).toEqual([]);
  // Changes were made (how many were acknowledged depends on the faults they met).
  expect(membership?.changes.length).toBeGreaterThan(0);
  expectNothingFound(report);
}

describe('chaos with membership changes against raftkit kv-server', () => {
  it('finds no violation in a 25 s run with every nemesis and membership changes', {
    timeout: 240_000,
  }, async () => {
    expectMembershipChangesAndNothingFound(await run(20260303, 25, false));
  });

  // The same over mutual TLS between members: every reconnect after a partition, kill
  // or pause is a TLS handshake, and joiners dial https peer URLs.
  it.skipIf(!hasOpenssl())(
    'finds no violation in a 20 s run with peer traffic over mutual TLS',
    {
      timeout: 240_000,
    },
    async () => {
      expectMembershipChangesAndNothingFound(await run(20261207, 20, true));
    },
  );
});
