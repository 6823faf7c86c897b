import { expect } from 'vitest';
import { LeaseError, type LeaseErrorReason } from '../../src/lease/lease-table.js';

/** refusal runs `fn`, expects a LeaseError and returns its reason. */
export function refusal(fn: () => unknown): LeaseErrorReason {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(LeaseError);
    return (error as LeaseError).reason;
  }
  throw new Error('expected a LeaseError');
}
