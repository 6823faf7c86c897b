// Client-side checks of member peer URLs, as etcd's client makes them before MemberAdd and
// MemberUpdate (etcd's `types.NewURLs` over Go's `net/url`): a bad URL fails at once with
// the message etcdctl prints, instead of reaching the server.
import { toInt64 } from './ops.js';

const PEER_SCHEMES = new Set(['http', 'https', 'unix', 'unixs']);

// Characters Go's net/url accepts unescaped in a host (besides letters, digits, non-ASCII).
const HOST_PUNCTUATION = new Set([...'-._~!$&\'()*+,;=:[]<>"%']);

function parseError(text: string, reason: string): TypeError {
  return new TypeError(`parse ${JSON.stringify(text)}: ${reason}`);
}

function checkEscapes(text: string, part: string): void {
  for (let i = part.indexOf('%'); i !== -1; i = part.indexOf('%', i + 1)) {
    const sequence = part.slice(i, i + 3);
    if (!/^%[0-9a-fA-F]{2}$/.test(sequence)) {
      throw parseError(text, `invalid URL escape ${JSON.stringify(sequence)}`);
    }
  }
}

function checkHost(text: string, host: string): void {
  let name = host;
  if (host.startsWith('[')) {
    const close = host.lastIndexOf(']');
    if (close < 0) throw parseError(text, "missing ']' in host");
    const port = host.slice(close + 1);
    if (port !== '' && !/^:\d*$/.test(port)) {
      throw parseError(text, `invalid port ${JSON.stringify(port)} after host`);
    }
    name = host.slice(0, close + 1);
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0) {
      const port = host.slice(colon);
      if (!/^:\d*$/.test(port)) {
        throw parseError(text, `invalid port ${JSON.stringify(port)} after host`);
      }
    }
  }
  for (const ch of name) {
    if (ch.charCodeAt(0) >= 0x80 || /[A-Za-z0-9]/.test(ch) || HOST_PUNCTUATION.has(ch)) continue;
    throw parseError(text, `invalid character ${JSON.stringify(ch)} in host name`);
  }
  checkEscapes(text, name);
}

// net.SplitHostPort succeeds: "host:port" or "[ipv6]:port", one colon outside brackets.
function hasHostPort(host: string): boolean {
  if (host.startsWith('[')) return /^\[[^[\]]*\]:[^:[\]]*$/.test(host);
  const colon = host.lastIndexOf(':');
  return colon >= 0 && !/[:[\]]/.test(host.slice(0, colon)) && !/[[\]]/.test(host.slice(colon));
}

/**
 * checkPeerUrl validates one peer URL as etcd does (`http`, `https`, `unix` or `unixs`,
 * `host:port`, no path) and returns it trimmed. It throws a TypeError worded as etcd
 * words it, e.g. `URL scheme must be http, https, unix, or unixs: 10.0.0.1:2380`.
 */
export function checkPeerUrl(input: string): string {
  const text = input.trim();
  if ([...text].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f)) {
    throw parseError(text, 'net/url: invalid control character in URL');
  }
  let rest = text.split('#')[0] as string;
  let scheme = '';
  const schemeMatch = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(rest);
  if (rest.startsWith(':')) throw parseError(text, 'missing protocol scheme');
  if (schemeMatch !== null) {
    scheme = (schemeMatch[1] as string).toLowerCase();
    rest = rest.slice(schemeMatch[0].length);
  }
  rest = rest.split('?')[0] as string;
  let host = '';
  let path = rest;
  if (scheme === '') {
    const firstSegment = rest.split('/')[0] as string;
    if (firstSegment.includes(':')) {
      throw parseError(text, 'first path segment in URL cannot contain colon');
    }
  } else if (rest.startsWith('//')) {
    const authority = rest.slice(2).split('/')[0] as string;
    path = rest.slice(2 + authority.length);
    host = authority.slice(authority.lastIndexOf('@') + 1);
    checkHost(text, host);
  } else {
    path = ''; // opaque ("http:host:port"): no host, no path
  }
  checkEscapes(text, path);
  if (!PEER_SCHEMES.has(scheme)) {
    throw new TypeError(`URL scheme must be http, https, unix, or unixs: ${text}`);
  }
  if (!hasHostPort(host)) {
    throw new TypeError(`URL address does not have the form "host:port": ${text}`);
  }
  if (path !== '') throw new TypeError(`URL must not contain a path: ${text}`);
  return text;
}

/** checkPeerUrls validates a member's peer URLs (at least one) and returns them trimmed. */
export function checkPeerUrls(urls: readonly string[]): string[] {
  if (urls.length === 0) throw new TypeError('no valid URLs given');
  return urls.map(checkPeerUrl);
}

/** MAX_MEMBER_ID is the largest member id: ids are unsigned 64-bit numbers. */
export const MAX_MEMBER_ID: bigint = (1n << 64n) - 1n;

/** toMemberId checks a member id (a bigint, or a safe-integer number) is an unsigned 64-bit value. */
export function toMemberId(value: bigint | number, what = 'member id'): bigint {
  const id = toInt64(value, what);
  if (id < 0n || id > MAX_MEMBER_ID) {
    throw new RangeError(`${what} must be an unsigned 64-bit integer, got ${id}`);
  }
  return id;
}
