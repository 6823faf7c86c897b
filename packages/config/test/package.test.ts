import { describe, expect, it } from 'vitest';
import { packageName } from '../src/index.js';

describe('@raftkit/config', () => {
  it('exports its name', () => {
    expect(packageName).toBe('@raftkit/config');
  });
});
