import { describe, expect, it } from 'vitest';
import {
  type ConfigValidationError,
  formatInitialCluster,
  parseInitialCluster,
} from '../src/index.js';

describe('parseInitialCluster', () => {
  it('reads name=url pairs in order', () => {
    const members = parseInitialCluster(
      'infra0=http://10.0.1.10:2380, infra1=http://10.0.1.11:2380,infra2=http://10.0.1.12:2380',
    );
    expect(members).toEqual([
      { name: 'infra0', peerUrls: ['http://10.0.1.10:2380'] },
      { name: 'infra1', peerUrls: ['http://10.0.1.11:2380'] },
      { name: 'infra2', peerUrls: ['http://10.0.1.12:2380'] },
    ]);
    expect(formatInitialCluster(members)).toBe(
      'infra0=http://10.0.1.10:2380,infra1=http://10.0.1.11:2380,infra2=http://10.0.1.12:2380',
    );
  });

  it('groups repeated names into one member with several URLs, as etcd does', () => {
    expect(
      parseInitialCluster('a=http://10.0.0.1:2380,b=http://10.0.0.2:2380,a=http://10.1.0.1:2380'),
    ).toEqual([
      { name: 'a', peerUrls: ['http://10.0.0.1:2380', 'http://10.1.0.1:2380'] },
      { name: 'b', peerUrls: ['http://10.0.0.2:2380'] },
    ]);
  });

  it.each([
    ['', /no member given/],
    ['infra0', /"infra0" is not of the form name=peer-url/],
    ['=http://10.0.0.1:2380', /empty member name/],
    ['a=http://10.0.0.1:2380,b=http://10.0.0.1:2380', /members "a" and "b" have the same peer URL/],
    ['a=http://10.0.0.1:2380,a=http://10.0.0.1:2380', /listed twice for member "a"/],
    ['a=10.0.0.1:2380', /is not a URL/],
    ['a=http://0.0.0.0:2380', /nobody can dial/],
  ])('refuses %j', (text, message) => {
    expect(() => parseInitialCluster(text, 'RAFTKIT_INITIAL_CLUSTER')).toThrow(message);
    try {
      parseInitialCluster(text, 'RAFTKIT_INITIAL_CLUSTER');
    } catch (error) {
      expect((error as ConfigValidationError).setting).toBe('initial-cluster');
      expect((error as ConfigValidationError).source).toBe('RAFTKIT_INITIAL_CLUSTER');
    }
  });
});
