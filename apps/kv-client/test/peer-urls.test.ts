import { describe, expect, it } from 'vitest';
import { checkPeerUrl, checkPeerUrls, MAX_MEMBER_ID, toMemberId } from '../src/peer-urls.js';

describe('checkPeerUrl (etcd client-side peer URL checks)', () => {
  it('accepts what etcd accepts, trimmed', () => {
    for (const url of [
      'http://127.0.0.1:2380',
      'https://etcd-1.example.com:2380',
      'http://[::1]:2380',
      'HTTP://h:1',
      'http://user@h:1',
      'http://h:1?x=1',
      'http://h:1#frag',
      'unix://sock:1',
      'unixs://sock:1',
      'http://h:',
      'http://:1',
    ]) {
      expect(checkPeerUrl(url)).toBe(url);
    }
    expect(checkPeerUrl('  http://h:1 ')).toBe('http://h:1');
    expect(checkPeerUrls([' http://a:1', 'http://b:2 '])).toEqual(['http://a:1', 'http://b:2']);
  });

  // Each message as etcdctl 3.4.23 printed it for `member add y --peer-urls=<url>`.
  const refused: [string, string][] = [
    ['127.0.0.1:2380', 'parse "127.0.0.1:2380": first path segment in URL cannot contain colon'],
    ['localhost:2380', 'URL scheme must be http, https, unix, or unixs: localhost:2380'],
    [':2380', 'parse ":2380": missing protocol scheme'],
    ['http://h:abc', 'parse "http://h:abc": invalid port ":abc" after host'],
    ['http://h:1:2', 'URL address does not have the form "host:port": http://h:1:2'],
    ['http://[::1]', 'URL address does not have the form "host:port": http://[::1]'],
    ['http://[::1:2380', `parse "http://[::1:2380": missing ']' in host`],
    ['http://h:1/', 'URL must not contain a path: http://h:1/'],
    ['http:h:1', 'URL address does not have the form "host:port": http:h:1'],
    ['http://h :1', 'parse "http://h :1": invalid character " " in host name'],
    ['http://h%zz:1', 'parse "http://h%zz:1": invalid URL escape "%zz"'],
    ['http://127.0.0.1', 'URL address does not have the form "host:port": http://127.0.0.1'],
    ['ftp://h:1', 'URL scheme must be http, https, unix, or unixs: ftp://h:1'],
    [' ', 'URL scheme must be http, https, unix, or unixs: '],
    ['http://h:1\n/x', 'parse "http://h:1\\n/x": net/url: invalid control character in URL'],
  ];
  for (const [url, message] of refused) {
    it(`refuses ${JSON.stringify(url)}`, () => {
      expect(() => checkPeerUrl(url)).toThrow(new TypeError(message));
    });
  }

  it('needs at least one URL', () => {
    expect(() => checkPeerUrls([])).toThrow('no valid URLs given');
  });
});

describe('toMemberId', () => {
  it('takes unsigned 64-bit ids as bigint or safe integers', () => {
    expect(toMemberId(MAX_MEMBER_ID)).toBe(0xffffffffffffffffn);
    expect(toMemberId(0)).toBe(0n);
    expect(toMemberId(12345)).toBe(12345n);
    expect(() => toMemberId(-1n)).toThrow(RangeError);
    expect(() => toMemberId(MAX_MEMBER_ID + 1n)).toThrow(RangeError);
    expect(() => toMemberId(2 ** 60)).toThrow(TypeError);
    expect(() => toMemberId(Number.NaN, 'target')).toThrow(/^target must be an integer/);
  });
});
