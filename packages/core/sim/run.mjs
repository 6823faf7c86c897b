#!/usr/bin/env node
// The seeded Raft simulation:
//   pnpm --filter @raftkit/core sim -- --seeds N [--steps M] [--nodes K] [--seed S]
// Runs seeds S..S+N-1 (default S=1). Each seed is a full random run (see runSimulation;
// even seeds also change the membership at random);
// safety is checked after every step. Prints `seeds=N steps=T violations=V` last and
// exits non-zero with the failing seed on a violation.
import { parseArgs } from 'node:util';
import { runSimulation } from '../dist/testing/index.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    seeds: { type: 'string', default: '100' },
    steps: { type: 'string', default: '2000' },
    nodes: { type: 'string' },
    seed: { type: 'string', default: '1' },
    quiet: { type: 'boolean', default: false },
  },
});

function integer(name, text, min) {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min) {
    console.error(`sim: --${name} must be an integer ≥ ${min}, got '${text}'`);
    process.exit(2);
  }
  return value;
}

const seeds = integer('seeds', values.seeds, 1);
const steps = integer('steps', values.steps, 1);
const first = integer('seed', values.seed, 0);
const nodes = values.nodes === undefined ? undefined : integer('nodes', values.nodes, 1);

const started = Date.now();
let totalSteps = 0;
let committed = 0;
let reads = 0;
let confChanges = 0;
let violations = 0;
for (let seed = first; seed < first + seeds; seed++) {
  const result = await runSimulation({ seed, steps, ...(nodes ? { nodes } : {}) });
  totalSteps += result.steps;
  committed += result.committed;
  reads += result.readsServed;
  confChanges += result.confChanges;
  if (result.violations.length > 0) {
    violations += result.violations.length;
    console.error(`sim: seed ${seed} (${result.nodes} nodes) FAILED after ${result.steps} steps:`);
    for (const violation of result.violations)
      console.error(`  ${violation.property}: ${violation.detail}`);
    console.error(
      `sim: reproduce with: pnpm --filter @raftkit/core sim -- --seeds 1 --seed ${seed} --steps ${steps}${nodes ? ` --nodes ${nodes}` : ''}`,
    );
    break;
  }
  if (!values.quiet && (seed - first + 1) % 100 === 0) {
    console.log(
      `sim: ${seed - first + 1}/${seeds} seeds, ${totalSteps} steps, ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  }
}
console.log(
  `sim: committed entries=${committed} reads served=${reads} configuration changes=${confChanges} time=${((Date.now() - started) / 1000).toFixed(1)}s`,
);
console.log(`seeds=${seeds} steps=${totalSteps} violations=${violations}`);
process.exit(violations > 0 ? 1 : 0);
