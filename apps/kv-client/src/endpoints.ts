/** Endpoint is one parsed client endpoint. */
export interface Endpoint {
  /** text is the endpoint as given (used in messages and `endpoint status`). */
  readonly text: string;
  /** target is the `host:port` handed to gRPC. */
  readonly target: string;
  /** secure is true for `https://` endpoints. */
  readonly secure: boolean;
}

/**
 * parseEndpoint reads `host:port`, `http://host:port` or `https://host:port` (etcdctl
 * accepts all three; a scheme-less endpoint is plain-text unless TLS is configured). It
 * throws a TypeError naming the bad endpoint.
 */
export function parseEndpoint(text: string): Endpoint {
  const trimmed = text.trim();
  const match = /^(?:(https?|unix|unixs):\/\/)?(.+)$/.exec(trimmed);
  const scheme = match?.[1];
  const rest = match?.[2]?.replace(/\/+$/, '') ?? '';
  if (scheme === 'unix' || scheme === 'unixs') {
    return { text: trimmed, target: `unix:${rest}`, secure: scheme === 'unixs' };
  }
  if (!/^(\[[0-9a-fA-F:.]+\]|[^:/\s[\]]+):\d{1,5}$/.test(rest)) {
    throw new TypeError(`bad endpoint "${text}": expected host:port or http(s)://host:port`);
  }
  const port = Number(rest.slice(rest.lastIndexOf(':') + 1));
  if (port < 1 || port > 65535) throw new TypeError(`bad endpoint "${text}": port out of range`);
  return { text: trimmed, target: rest, secure: scheme === 'https' };
}

/** parseEndpointList splits etcdctl's comma-separated `--endpoints` value. */
export function parseEndpointList(text: string): Endpoint[] {
  const items = text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
  if (items.length === 0) throw new TypeError('no endpoints given');
  return items.map(parseEndpoint);
}
