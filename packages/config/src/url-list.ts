import { isIP } from 'node:net';
import { ConfigValidationError } from './errors.js';

/**
 * UrlUse says what a URL is for, which decides the checks: a `listen` URL is bound to, so
 * its host must be an IP address or `localhost` (etcd refuses to bind names) and port 0
 * (any free port) is allowed; an `advertise` URL is dialled by others, so it must name a
 * reachable host and a real port.
 */
export type UrlUse = 'listen' | 'advertise';

/** UrlContext names the setting a URL came from, for error messages. */
export interface UrlContext {
  readonly setting: string;
  readonly source?: string;
  readonly use: UrlUse;
}

const URL_SHAPE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/;
const HOST_PORT = /^(\[[^\]]*\]|[^:[\]]*):(\d{1,5})$/;

/**
 * canonicalUrl validates one URL as etcd does (`http` or `https`, `host:port`, no path)
 * and returns its canonical text: the scheme lower-cased, the authority exactly as
 * written. Member ids hash this text, so it must equal what etcd's Go `url.URL.String()`
 * yields for the same input; WHATWG `URL` would add a trailing `/` and change the ids.
 */
export function canonicalUrl(text: string, context: UrlContext): string {
  const fail = (problem: string, fix: string): never => {
    throw new ConfigValidationError(context.setting, problem, fix, context.source);
  };
  const trimmed = text.trim();
  const shape = URL_SHAPE.exec(trimmed);
  if (shape === null) {
    return fail(`"${trimmed}" is not a URL`, 'write it as http://host:port or https://host:port');
  }
  const scheme = shape[1]!.toLowerCase();
  const authority = shape[2]!;
  const rest = shape[3]!;
  if (scheme === 'unix' || scheme === 'unixs') {
    return fail(
      `"${trimmed}" uses a unix socket, which raftkit does not support yet`,
      'use an http:// or https:// URL',
    );
  }
  if (scheme !== 'http' && scheme !== 'https') {
    return fail(`"${trimmed}" has scheme "${scheme}"`, 'the scheme must be http or https');
  }
  if (rest !== '') {
    return fail(
      `"${trimmed}" has a path, query or fragment ("${rest}")`,
      `use just the scheme, host and port: ${scheme}://${authority}`,
    );
  }
  if (authority.includes('@')) {
    return fail(`"${trimmed}" contains user info`, 'remove the "user@" part');
  }
  const hostPort = HOST_PORT.exec(authority);
  if (hostPort === null) {
    return fail(
      `"${trimmed}" does not have the form host:port`,
      `add the port, e.g. ${scheme}://${authority || 'host'}:${context.setting.includes('client') ? 2379 : 2380}`,
    );
  }
  const host = hostPort[1]!;
  const port = Number(hostPort[2]);
  const bareHost = host.startsWith('[') ? host.slice(1, -1) : host;
  if (host.startsWith('[') && isIP(bareHost) !== 6) {
    return fail(`"${trimmed}" has a malformed IPv6 address`, 'write it as [address]:port');
  }
  if (bareHost === '' || !isValidHost(scheme, host)) {
    return fail(`"${trimmed}" has an invalid host "${host}"`, 'use an IP address or a DNS name');
  }
  if (port > 65_535) {
    return fail(`"${trimmed}" has port ${port}`, 'use a port between 1 and 65535');
  }
  if (context.use === 'listen') {
    if (isIP(bareHost) === 0 && bareHost.toLowerCase() !== 'localhost') {
      return fail(
        `"${trimmed}" names host "${bareHost}", but a listen URL is bound to, and binding needs an IP address`,
        'use the IP address of the interface (or 0.0.0.0 for all interfaces, or localhost)',
      );
    }
  } else {
    if (port === 0) {
      return fail(
        `"${trimmed}" advertises port 0`,
        'advertise the port other members and clients should dial',
      );
    }
    if (bareHost === '0.0.0.0' || bareHost === '::') {
      return fail(
        `"${trimmed}" advertises the unspecified address ${bareHost}, which nobody can dial`,
        "advertise this machine's reachable IP address or DNS name",
      );
    }
  }
  return `${scheme}://${authority}`;
}

/**
 * parseUrlList splits a comma-separated list (or takes a YAML sequence), validates each
 * URL with `canonicalUrl`, and refuses an empty list unless `allowEmpty` and duplicates.
 */
export function parseUrlList(
  value: string | readonly string[],
  context: UrlContext & { readonly allowEmpty?: boolean },
): string[] {
  const items = (typeof value === 'string' ? value.split(',') : value)
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0) {
    if (context.allowEmpty === true) return [];
    throw new ConfigValidationError(
      context.setting,
      'no URL given',
      'give at least one URL, e.g. http://10.0.0.1:2380',
      context.source,
    );
  }
  const urls: string[] = [];
  for (const item of items) {
    const url = canonicalUrl(item, context);
    if (urls.includes(url)) {
      throw new ConfigValidationError(
        context.setting,
        `${url} is listed twice`,
        'list each URL once',
        context.source,
      );
    }
    urls.push(url);
  }
  return urls;
}

function isValidHost(scheme: string, host: string): boolean {
  // WHATWG URL parsing rejects forbidden host characters (spaces, '%', '<', …).
  try {
    return new URL(`${scheme}://${host}`).hostname !== '';
  } catch {
    return false;
  }
}
