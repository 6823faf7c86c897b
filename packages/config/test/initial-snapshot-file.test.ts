import { describe, expect, it } from 'vitest';
import { ConfigValidationError, envName, formatUsage, parseServerConfig } from '../src/index.js';

describe('--initial-snapshot-file', () => {
  it('is unset by default and read as a path otherwise (flag or RAFTKIT_* variable)', () => {
    expect(parseServerConfig([], {}).initialSnapshotFile).toBeUndefined();
    expect(
      parseServerConfig(['--initial-snapshot-file', '/backups/a.db'], {}).initialSnapshotFile,
    ).toBe('/backups/a.db');
    expect(
      parseServerConfig([], { [envName('initial-snapshot-file')]: '/b.db' }).initialSnapshotFile,
    ).toBe('/b.db');
    expect(formatUsage()).toContain('--initial-snapshot-file');
  });

  it('is refused for a member joining an existing cluster', () => {
    let caught: unknown;
    try {
      parseServerConfig(
        [
          '--initial-snapshot-file=/b.db',
          '--initial-cluster-state=existing',
          '--name=b',
          '--initial-cluster=a=http://127.0.0.1:2380,b=http://127.0.0.1:2390',
          '--initial-advertise-peer-urls=http://127.0.0.1:2390',
        ],
        {},
      );
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigValidationError);
    expect((caught as ConfigValidationError).setting).toBe('initial-snapshot-file');
    expect((caught as ConfigValidationError).message).toMatch(/only bootstrap a new cluster/);
  });
});
