import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The layer rule of DESIGN.md is enforced by scripts/check-layers.mjs, which `pnpm lint`
// runs. These tests show that it fails on the violations it exists to catch.
const script = fileURLToPath(new URL('../../../scripts/check-layers.mjs', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

function check(root: string) {
  return spawnSync(process.execPath, [script, '--root', root], { encoding: 'utf8' });
}

describe('layer rule (scripts/check-layers.mjs)', () => {
  it("fails when packages/core imports 'node:fs'", () => {
    const result = check(fixture('impure-core'));
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      "@raftkit/core must stay pure (no I/O, no dependencies) but imports 'node:fs'",
    );
  });

  it("fails when a package reaches into another's internals", () => {
    const result = check(fixture('deep-import'));
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("reaches into @raftkit/core's internals");
  });

  it('passes on the real repository', () => {
    const result = check(repoRoot);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
