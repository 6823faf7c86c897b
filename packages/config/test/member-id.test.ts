import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  computeClusterId,
  computeMemberId,
  formatMemberId,
  NODE_ID_MASK,
  parseMemberId,
  toNodeId,
} from '../src/index.js';

const DEC_23_1984 = Date.parse('1984-12-23T15:04:05Z') / 1000;

describe('computeMemberId matches etcd', () => {
  // Vectors from etcd's server/etcdserver/api/membership/member_test.go (TestMemberTime).
  it.each([
    [['http://10.0.0.8:2379'], '', undefined, 14544069596553697298n],
    [['http://10.0.0.8:2379'], '', DEC_23_1984, 2448790162483548276n],
    [['http://10.0.0.8:2379'], 'etcd', DEC_23_1984, 6973882743191604649n],
    [['http://10.0.0.1:2379'], '', DEC_23_1984, 1466075294948436910n],
    [['http://10.0.0.1:2379', 'http://10.0.0.2:2379'], '', undefined, 16552244735972308939n],
    [['http://10.0.0.2:2379', 'http://10.0.0.1:2379'], '', undefined, 16552244735972308939n],
  ])('%j token %j time %j → %s', (urls, token, time, expected) => {
    expect(computeMemberId(urls, token, time)).toBe(expected);
  });

  it('gives the ids of a default single-node etcd (member 8e9e05c52164694d, cluster cdf818194e3a8c32)', () => {
    const member = computeMemberId(['http://localhost:2380'], 'etcd-cluster');
    expect(formatMemberId(member)).toBe('8e9e05c52164694d');
    expect(formatMemberId(computeClusterId([member]))).toBe('cdf818194e3a8c32');
  });

  it('depends on the token, so two clusters on the same hosts differ', () => {
    const urls = ['http://10.0.0.1:2380'];
    expect(computeMemberId(urls, 'a')).not.toBe(computeMemberId(urls, 'b'));
  });

  it('rejects a fractional timestamp', () => {
    expect(() => computeMemberId(['http://a:1'], '', 1.5)).toThrow(RangeError);
  });
});

describe('computeClusterId', () => {
  it('ignores member order', () => {
    const ids = [3n, 0xffff_ffff_ffff_ffffn, 1n << 60n];
    expect(computeClusterId(ids)).toBe(computeClusterId([...ids].reverse()));
  });

  it('changes when the membership changes', () => {
    expect(computeClusterId([1n, 2n])).not.toBe(computeClusterId([1n, 3n]));
  });
});

describe('toNodeId', () => {
  it('keeps the low 53 bits of the 64-bit id', () => {
    expect(toNodeId(14544069596553697298n)).toBe(Number(14544069596553697298n & NODE_ID_MASK));
    expect(toNodeId(0x8e9e05c52164694dn)).toBe(0x1e05c52164694d);
    expect(toNodeId(NODE_ID_MASK)).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('always yields a positive safe integer for nonzero low bits', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (id) => {
        fc.pre((id & NODE_ID_MASK) !== 0n);
        const nodeId = toNodeId(id);
        expect(Number.isSafeInteger(nodeId)).toBe(true);
        expect(nodeId).toBeGreaterThan(0);
        expect(BigInt(nodeId)).toBe(id & NODE_ID_MASK);
      }),
    );
  });

  it('refuses an id whose low 53 bits are zero (NONE)', () => {
    expect(() => toNodeId(1n << 53n)).toThrow(/cannot be a raft NodeId/);
    expect(() => toNodeId(0n)).toThrow(RangeError);
  });
});

describe('formatMemberId / parseMemberId', () => {
  it('round-trips through etcd hex', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (id) => {
        expect(parseMemberId(formatMemberId(id))).toBe(id);
      }),
    );
    expect(formatMemberId(0x0abcn)).toBe('abc');
  });

  it('rejects text that is not 1-16 hex digits', () => {
    expect(() => parseMemberId('xyz')).toThrow(/not a member id/);
    expect(() => parseMemberId('1'.repeat(17))).toThrow(/not a member id/);
    expect(() => parseMemberId('')).toThrow(/not a member id/);
  });
});
