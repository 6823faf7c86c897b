#!/usr/bin/env node
// Adds up every workspace package's vitest JSON report (.vitest-result.json) and prints
// `N passed, N failed` as the last line. Exits 1 on any failure, on a package whose
// tests did not report, and on a total of zero tests.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
for (const group of ['packages', 'apps', 'tests']) {
  if (!existsSync(group)) continue;
  for (const name of readdirSync(group)) {
    const dir = join(group, name);
    const manifestPath = join(dir, 'package.json');
    if (!existsSync(manifestPath)) continue;
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    if (!manifest.scripts?.test) continue;
    const report = join(dir, '.vitest-result.json');
    if (!existsSync(report)) {
      missing.push(manifest.name);
      continue;
    }
    const result = JSON.parse(readFileSync(report, 'utf8'));
    passed += result.numPassedTests ?? 0;
    failed += result.numFailedTests ?? 0;
    skipped += (result.numPendingTests ?? 0) + (result.numTodoTests ?? 0);
    // A suite that failed to load has no failed tests but is a failure.
    for (const suite of result.testResults ?? []) {
      if (suite.status === 'failed' && (suite.assertionResults ?? []).length === 0) {
        console.log(`ci: ${manifest.name}: ${suite.name} failed to run: ${suite.message ?? ''}`);
        failed += 1;
      }
    }
    console.log(
      `ci: ${manifest.name}: ${result.numPassedTests} passed, ${result.numFailedTests} failed`,
    );
  }
}
for (const name of missing) {
  console.log(`ci: ${name}: no test report (its tests did not run)`);
  failed += 1;
}
// The last line is exactly "N passed, N failed" (CI reads it); skipped tests are said before.
if (skipped > 0) console.log(`ci: ${skipped} skipped`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
