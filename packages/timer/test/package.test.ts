import { describe, expect, it } from 'vitest';
import { packageName } from '../src/index.js';

describe('@raftkit/timer', () => {
  it('exports its name', () => {
    expect(packageName).toBe('@raftkit/timer');
  });
});
