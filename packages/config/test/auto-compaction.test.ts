import { describe, expect, it } from 'vitest';
import {
  ConfigValidationError,
  envName,
  formatUsage,
  parseGoDurationMs,
  parseServerConfig,
} from '../src/index.js';

const HOUR = 3_600_000;

function fails(argv: string[], message: RegExp, setting = 'auto-compaction-retention'): void {
  let caught: unknown;
  try {
    parseServerConfig(argv, {});
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigValidationError);
  expect((caught as ConfigValidationError).setting).toBe(setting);
  expect((caught as ConfigValidationError).message).toMatch(message);
}

describe('--auto-compaction-mode and --auto-compaction-retention', () => {
  it('default to periodic with retention 0 (off), as etcd', () => {
    const config = parseServerConfig([], {});
    expect(config.autoCompactionMode).toBe('periodic');
    expect(config.autoCompactionRetention).toBe(0);
  });

  it('read a whole number as hours in periodic mode and as revisions in revision mode', () => {
    expect(parseServerConfig(['--auto-compaction-retention=1'], {}).autoCompactionRetention).toBe(
      HOUR,
    );
    expect(
      parseServerConfig(
        ['--auto-compaction-mode=periodic', '--auto-compaction-retention', '72'],
        {},
      ).autoCompactionRetention,
    ).toBe(72 * HOUR);
    const revision = parseServerConfig(
      ['--auto-compaction-mode', 'revision', '--auto-compaction-retention', '10000'],
      {},
    );
    expect(revision.autoCompactionMode).toBe('revision');
    expect(revision.autoCompactionRetention).toBe(10_000);
  });

  it('read a Go duration in periodic mode, in milliseconds', () => {
    const retention = (text: string) =>
      parseServerConfig([`--auto-compaction-retention=${text}`], {}).autoCompactionRetention;
    expect(retention('30m')).toBe(30 * 60_000);
    expect(retention('1h30m')).toBe(90 * 60_000);
    expect(retention('90s')).toBe(90_000);
    expect(retention('1.5h')).toBe(1.5 * HOUR);
    expect(retention('2500ms')).toBe(2500);
    expect(retention('0s')).toBe(0);
  });

  it('come from RAFTKIT_* variables and config files too', () => {
    const fromEnv = parseServerConfig([], {
      [envName('auto-compaction-mode')]: 'revision',
      [envName('auto-compaction-retention')]: '500',
    });
    expect(fromEnv).toMatchObject({ autoCompactionMode: 'revision', autoCompactionRetention: 500 });
    const file = 'auto-compaction-mode: periodic\nauto-compaction-retention: 5m\n';
    const fromFile = parseServerConfig(['--config-file=/c.yml'], {}, { readFile: () => file });
    expect(fromFile.autoCompactionRetention).toBe(5 * 60_000);
    // A YAML number is a number of hours, as the same text on the command line.
    const numeric = parseServerConfig(
      ['--config-file=/c.yml'],
      {},
      { readFile: () => 'auto-compaction-retention: 2\n' },
    );
    expect(numeric.autoCompactionRetention).toBe(2 * HOUR);
    expect(numeric.warnings).toEqual([]);
  });

  it('refuse bad values, naming the setting and the fix', () => {
    fails(
      ['--auto-compaction-mode=hourly'],
      /"hourly" is not allowed; use one of: periodic, revision/,
      'auto-compaction-mode',
    );
    fails(
      ['--auto-compaction-mode=revision', '--auto-compaction-retention=1h'],
      /"1h" is not a whole number of revisions.*--auto-compaction-retention=10000/,
    );
    fails(
      ['--auto-compaction-retention=soon'],
      /"soon" is neither a whole number of hours nor a duration/,
    );
    fails(['--auto-compaction-retention=5x'], /neither a whole number of hours nor a duration/);
    fails(['--auto-compaction-retention=-5m'], /-5m is negative/);
    fails(['--auto-compaction-retention=1ns'], /shorter than a millisecond/);
  });

  it('are documented in --help', () => {
    const usage = formatUsage('kv-server');
    expect(usage).toContain('--auto-compaction-mode');
    expect(usage).toContain('--auto-compaction-retention');
  });
});

describe('parseGoDurationMs', () => {
  it('reads what time.ParseDuration reads', () => {
    expect(parseGoDurationMs('0')).toBe(0);
    expect(parseGoDurationMs('300ms')).toBe(300);
    expect(parseGoDurationMs('-1.5h')).toBe(-1.5 * HOUR);
    expect(parseGoDurationMs('+2h45m')).toBe(2 * HOUR + 45 * 60_000);
    expect(parseGoDurationMs('1µs')).toBe(0.001);
    expect(parseGoDurationMs('1us')).toBe(0.001);
    expect(parseGoDurationMs('.5s')).toBe(500);
  });

  it('refuses numbers without units and unknown units', () => {
    for (const text of ['', '5', '1.5', 'h', '1d', '1h 30m', '--1s', '1s!']) {
      expect(parseGoDurationMs(text)).toBeUndefined();
    }
  });
});
