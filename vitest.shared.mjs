// Shared vitest settings: every package writes a JSON summary that .ci/run adds up.
import { defineConfig } from 'vitest/config';

export function packageConfig(overrides = {}) {
  const { test = {}, ...rest } = overrides;
  return defineConfig({
    ...rest,
    test: {
      include: ['test/**/*.test.ts'],
      reporters: ['default', ['json', { outputFile: '.vitest-result.json' }]],
      testTimeout: 30_000,
      ...test,
    },
  });
}
