// The assertions every chaos run that must find nothing shares.
import { expect } from 'vitest';
import type { ChaosReport } from '../src/run.js';

/**
 * expectNothingFound asserts that a run did real work and found no fault: no lost or
 * missing write, a linearizable history, and members that agree on the history up to a
 * common revision (HashKV) and on the whole applied state at one applied index.
 */
export function expectNothingFound(report: ChaosReport): void {
  expect(report.ok).toBeGreaterThan(100);
  expect(report.lostWrites).toEqual([]);
  expect(report.nonLinearizableKeys.map((k) => k.key)).toEqual([]);
  expect(report.linearizability).toBe('ok');
  expect(report.violations).toBe(0);
  expect(report.finalReadsMissing).toEqual([]);
  expect(report.replicas.diverged).toBe(false);
  expect(report.replicas.unanswered).toEqual([]);
  expect(report.replicas.revision).toBeGreaterThan(1);
  expect(report.states?.diverged).toBe(false);
  expect(report.states?.appliedIndex).toBeGreaterThan(0);
}
