import { ConfigValidationError } from './errors.js';
import { canonicalUrl } from './url-list.js';

/** InitialMember is one member of `--initial-cluster`: its name and its peer URLs. */
export interface InitialMember {
  readonly name: string;
  readonly peerUrls: readonly string[];
}

/**
 * parseInitialCluster reads etcd's `--initial-cluster` syntax, `name=url,name=url,…`.
 * As in etcd, a name may appear more than once: its URLs are grouped into one member
 * (`infra0=http://10.0.1.10:2380,infra0=http://10.0.2.10:2380` is one member with two
 * peer URLs). Members keep the order of their first appearance. A URL given twice,
 * whether to one member or to two, is refused: two members dialled at one address would
 * be the same process.
 */
export function parseInitialCluster(
  value: string | readonly string[],
  source?: string,
): InitialMember[] {
  const setting = 'initial-cluster';
  const entries = (typeof value === 'string' ? value.split(',') : value)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) {
    throw new ConfigValidationError(
      setting,
      'no member given',
      'list every member as name=peer-url, e.g. infra0=http://10.0.1.10:2380,infra1=http://10.0.1.11:2380',
      source,
    );
  }
  const byName = new Map<string, string[]>();
  const ownerOfUrl = new Map<string, string>();
  for (const entry of entries) {
    const equals = entry.indexOf('=');
    if (equals < 0) {
      throw new ConfigValidationError(
        setting,
        `"${entry}" is not of the form name=peer-url`,
        'write each member as name=http://host:port, separated by commas',
        source,
      );
    }
    const name = entry.slice(0, equals).trim();
    if (name === '') {
      throw new ConfigValidationError(
        setting,
        `"${entry}" has an empty member name`,
        'put the member\'s --name before the "="',
        source,
      );
    }
    const url = canonicalUrl(entry.slice(equals + 1), {
      setting,
      use: 'advertise',
      ...(source === undefined ? {} : { source }),
    });
    const owner = ownerOfUrl.get(url);
    if (owner !== undefined) {
      throw new ConfigValidationError(
        setting,
        owner === name
          ? `${url} is listed twice for member "${name}"`
          : `members "${owner}" and "${name}" have the same peer URL ${url}`,
        'give every member its own peer URL',
        source,
      );
    }
    ownerOfUrl.set(url, name);
    const urls = byName.get(name);
    if (urls === undefined) byName.set(name, [url]);
    else urls.push(url);
  }
  return [...byName].map(([name, peerUrls]) => ({ name, peerUrls }));
}

/** formatInitialCluster writes members back in `--initial-cluster` syntax. */
export function formatInitialCluster(members: readonly InitialMember[]): string {
  return members
    .flatMap((member) => member.peerUrls.map((url) => `${member.name}=${url}`))
    .join(',');
}
