import { describe, expect, it } from 'vitest';
import { toGrpcTarget } from '../src/index.js';

describe('toGrpcTarget', () => {
  it('accepts etcd-style peer URLs and bare host:port', () => {
    expect(toGrpcTarget('http://10.0.0.1:2380')).toBe('10.0.0.1:2380');
    expect(toGrpcTarget('https://node-1.example:2380/')).toBe('node-1.example:2380');
    expect(toGrpcTarget(' 127.0.0.1:0 ')).toBe('127.0.0.1:0');
  });
});
