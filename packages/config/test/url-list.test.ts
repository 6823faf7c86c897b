import { describe, expect, it } from 'vitest';
import { ConfigValidationError, canonicalUrl, parseUrlList } from '../src/index.js';

const advertise = { setting: 'initial-advertise-peer-urls', use: 'advertise' } as const;
const listen = { setting: 'listen-peer-urls', use: 'listen' } as const;

function problem(run: () => unknown): ConfigValidationError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigValidationError);
    return error as ConfigValidationError;
  }
  throw new Error('expected a ConfigValidationError');
}

describe('canonicalUrl', () => {
  it('keeps the text etcd hashes: lower-case scheme, authority as written, no slash', () => {
    expect(canonicalUrl(' HTTP://10.0.0.1:2380 ', advertise)).toBe('http://10.0.0.1:2380');
    expect(canonicalUrl('https://Node-1.example.com:2380', advertise)).toBe(
      'https://Node-1.example.com:2380',
    );
    expect(canonicalUrl('http://[::1]:2380', listen)).toBe('http://[::1]:2380');
  });

  it.each([
    ['10.0.0.1:2380', /is not a URL/],
    ['ftp://10.0.0.1:2380', /scheme "ftp".*must be http or https/],
    ['unix://tmp/sock:1', /unix socket/],
    [
      'http://10.0.0.1:2380/',
      /has a path.*use just the scheme, host and port: http:\/\/10.0.0.1:2380/,
    ],
    ['http://10.0.0.1:2380/raft', /has a path/],
    ['http://10.0.0.1:2380?x=1', /query/],
    ['http://user@10.0.0.1:2380', /user info/],
    ['http://10.0.0.1', /host:port.*add the port, e\.g\. http:\/\/10.0.0.1:2380/],
    ['http://10.0.0.1:99999', /port 99999/],
    ['http://[zz::1]:2380', /malformed IPv6/],
    ['http://bad host:2380', /invalid host/],
    ['http://0.0.0.0:2380', /unspecified address 0\.0\.0\.0, which nobody can dial/],
    ['http://[::]:2380', /unspecified address ::/],
    ['http://10.0.0.1:0', /advertises port 0/],
  ])('refuses %s as an advertised URL', (text, message) => {
    const error = problem(() => canonicalUrl(text, advertise));
    expect(error.setting).toBe('initial-advertise-peer-urls');
    expect(error.message).toMatch(message);
  });

  it('requires an IP address or localhost to bind to, but allows 0.0.0.0 and port 0', () => {
    expect(problem(() => canonicalUrl('http://node1.example.com:2380', listen)).message).toMatch(
      /binding needs an IP address/,
    );
    expect(canonicalUrl('http://0.0.0.0:2380', listen)).toBe('http://0.0.0.0:2380');
    expect(canonicalUrl('http://localhost:0', listen)).toBe('http://localhost:0');
  });
});

describe('parseUrlList', () => {
  it('splits on commas and accepts YAML lists', () => {
    expect(parseUrlList('http://a:1, http://b:2', advertise)).toEqual(['http://a:1', 'http://b:2']);
    expect(parseUrlList(['http://a:1'], advertise)).toEqual(['http://a:1']);
  });

  it('refuses an empty list unless allowed, and duplicates', () => {
    expect(problem(() => parseUrlList(' , ', advertise)).message).toMatch(/no URL given/);
    expect(parseUrlList('', { ...listen, allowEmpty: true })).toEqual([]);
    expect(problem(() => parseUrlList('http://a:1,HTTP://a:1', advertise)).message).toMatch(
      /listed twice/,
    );
  });
});
