import { describe, expect, it } from 'vitest';
import { packageName } from '../src/index.js';

describe('@raftkit/kv-client', () => {
  it('exports its name', () => {
    expect(packageName).toBe('@raftkit/kv-client');
  });
});
