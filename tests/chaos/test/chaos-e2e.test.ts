// The short end-to-end runs CI does: real kv-server processes under all nemeses must show
// no violation, and the planted stale-read bug must be caught.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KV_SERVER_MAIN } from '../src/cluster.js';
import { NEMESES } from '../src/nemesis.js';
import { runChaos, summaryLine } from '../src/run.js';
import { expectNothingFound } from './report-checks.js';

const resultsDir = mkdtempSync(join(tmpdir(), 'raftkit-chaos-results-'));
let keep = false;
afterAll(() => {
  if (!keep) rmSync(resultsDir, { recursive: true, force: true });
});

describe('chaos against raftkit kv-server', () => {
  it('has a built kv-server to run', () => {
    // The devDependency on @raftkit/kv-server makes turbo build it before this test.
    expect(existsSync(KV_SERVER_MAIN), `${KV_SERVER_MAIN} missing: build apps/kv-server`).toBe(
      true,
    );
  });

  it('finds no violation in a 40 s run with every nemesis', { timeout: 180_000 }, async () => {
    const report = await runChaos({
      timeSec: 40,
      seed: 20260101,
      nodes: 3,
      nemeses: [...NEMESES],
      target: 'raftkit',
      resultsDir,
      checkTimeoutMs: 60_000,
    });
    console.log(summaryLine(report));
    if (report.violations > 0 || report.linearizability !== 'ok') keep = true;
    // Lease operations are on by default, and some revokes were acknowledged.
    expect(report.leases.leasePut.ok).toBeGreaterThan(0);
    expect(report.leases.revoke.ok).toBeGreaterThan(0);
    expectNothingFound(report);
  });

  it('catches the planted stale-read bug (RAFTKIT_UNSAFE_STALE_READS=1)', {
    timeout: 120_000,
  }, async () => {
    const report = await runChaos({
      timeSec: 15,
      seed: 7,
      nodes: 3,
      nemeses: ['partition-one', 'partition-leader'],
      target: 'raftkit',
      resultsDir,
      env: { RAFTKIT_UNSAFE_STALE_READS: '1' },
      checkTimeoutMs: 30_000,
    });
    console.log(summaryLine(report));
    expect(report.linearizability).toBe('violation');
    expect(report.violations).toBeGreaterThan(0);
    expect(report.nonLinearizableKeys.some((k) => k.stuck?.op.kind === 'read')).toBe(true);
  });
});
