import { describe, expect, it } from 'vitest';
import { envName, formatUsage, isHelpRequested, SETTINGS } from '../src/index.js';

describe('formatUsage', () => {
  const usage = formatUsage('kv-server');

  it('lists every setting with its variable', () => {
    expect(usage.startsWith('Usage: kv-server [flags]')).toBe(true);
    for (const spec of SETTINGS) {
      expect(usage).toContain(`--${spec.flag}`);
      expect(usage).toContain(envName(spec.flag));
    }
    expect(usage).toContain('default: 1000');
    expect(usage).toContain('-h, --help');
  });

  it('states the precedence rules', () => {
    expect(usage).toMatch(/setting both is an error/);
    expect(usage).toMatch(/other flags and variables are\s+ignored/);
  });
});

describe('isHelpRequested', () => {
  it('finds -h, --help and -help before --', () => {
    expect(isHelpRequested(['--name=a', '--help'])).toBe(true);
    expect(isHelpRequested(['-h'])).toBe(true);
    expect(isHelpRequested(['-help'])).toBe(true);
    expect(isHelpRequested(['--name=a'])).toBe(false);
    expect(isHelpRequested(['--', '--help'])).toBe(false);
  });
});
