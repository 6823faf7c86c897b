/** SettingKind is how a setting's text is read. */
export type SettingKind = 'string' | 'urls' | 'integer' | 'boolean';

/**
 * SettingSpec describes one server setting: its etcd flag name (also the key in a config
 * file, except the TLS ones, which etcd nests), its kind, its default as shown by
 * `formatUsage`, and one line of help.
 */
export interface SettingSpec {
  readonly flag: string;
  readonly kind: SettingKind;
  readonly help: string;
  readonly defaultText: string;
  readonly group: 'member' | 'clustering' | 'security' | 'logging';
  /** fileKey is the path of the setting in a YAML config file when it differs from `flag`. */
  readonly fileKey?: readonly [string, string];
}

/**
 * SETTINGS lists every setting raftkit's server takes, with etcd's flag names and
 * meanings; flags, `RAFTKIT_*` variables, config-file keys and `formatUsage` all derive
 * from it, so they cannot disagree.
 */
export const SETTINGS: readonly SettingSpec[] = [
  // Member
  {
    flag: 'name',
    kind: 'string',
    group: 'member',
    defaultText: 'default',
    help: 'Human-readable name for this member; must match its entry in --initial-cluster.',
  },
  {
    flag: 'data-dir',
    kind: 'string',
    group: 'member',
    defaultText: '<name>.raftkit',
    help: 'Path to the data directory (log, hard state, snapshots).',
  },
  {
    flag: 'listen-peer-urls',
    kind: 'urls',
    group: 'member',
    defaultText: 'http://localhost:2380',
    help: 'URLs to listen on for peer traffic (IP addresses or localhost).',
  },
  {
    flag: 'listen-client-urls',
    kind: 'urls',
    group: 'member',
    defaultText: 'http://localhost:2379',
    help: 'URLs to listen on for client traffic (IP addresses or localhost).',
  },
  {
    flag: 'listen-metrics-urls',
    kind: 'urls',
    group: 'member',
    defaultText: '',
    help: 'Additional URLs to serve metrics and health checks on (none by default).',
  },
  {
    flag: 'heartbeat-interval',
    kind: 'integer',
    group: 'member',
    defaultText: '100',
    help: 'Time (in milliseconds) of a heartbeat interval; also the length of one raft tick.',
  },
  {
    flag: 'election-timeout',
    kind: 'integer',
    group: 'member',
    defaultText: '1000',
    help: 'Time (in milliseconds) for an election to timeout; at least 5 × --heartbeat-interval.',
  },
  {
    flag: 'snapshot-count',
    kind: 'integer',
    group: 'member',
    defaultText: '10000',
    help: 'Number of committed entries that triggers a snapshot.',
  },
  {
    flag: 'experimental-snapshot-catchup-entries',
    kind: 'integer',
    group: 'member',
    defaultText: '5000',
    help: 'Number of entries kept in the log behind a snapshot, for slow followers to catch up from.',
  },
  {
    flag: 'auto-compaction-mode',
    kind: 'string',
    group: 'member',
    defaultText: 'periodic',
    help: "Interpret --auto-compaction-retention as 'periodic' (a duration: 1h, 30m, or a number of hours) or 'revision' (a number of revisions).",
  },
  {
    flag: 'auto-compaction-retention',
    kind: 'string',
    group: 'member',
    defaultText: '0',
    help: 'Auto compaction retention for the MVCC key-value history: how much to keep, in the unit --auto-compaction-mode says; 0 disables auto compaction.',
  },
  {
    flag: 'max-request-bytes',
    kind: 'integer',
    group: 'member',
    defaultText: '1572864',
    help: 'Maximum client request size in bytes the server will accept.',
  },
  {
    flag: 'max-txn-ops',
    kind: 'integer',
    group: 'member',
    defaultText: '128',
    help: 'Maximum number of operations permitted in a transaction.',
  },
  // Clustering
  {
    flag: 'initial-advertise-peer-urls',
    kind: 'urls',
    group: 'clustering',
    defaultText: 'http://localhost:2380',
    help: "This member's peer URLs to advertise to the rest of the cluster.",
  },
  {
    flag: 'advertise-client-urls',
    kind: 'urls',
    group: 'clustering',
    defaultText: 'http://localhost:2379',
    help: "This member's client URLs to advertise; required when --listen-client-urls is set.",
  },
  {
    flag: 'initial-cluster',
    kind: 'string',
    group: 'clustering',
    defaultText: '<name>=<initial-advertise-peer-urls>',
    help: 'Initial cluster configuration for bootstrapping: name=url,name=url,…',
  },
  {
    flag: 'initial-cluster-state',
    kind: 'string',
    group: 'clustering',
    defaultText: 'new',
    help: "Initial cluster state: 'new' to bootstrap, 'existing' to join a running cluster.",
  },
  {
    flag: 'initial-snapshot-file',
    kind: 'string',
    group: 'clustering',
    defaultText: '',
    help: "raftkit only: bootstrap a new cluster from a backup (`etcdctl snapshot save` against raftkit); every initial member takes the same file, the membership comes from --initial-cluster. Read only when the data dir is new and --initial-cluster-state is 'new'.",
  },
  {
    flag: 'initial-cluster-token',
    kind: 'string',
    group: 'clustering',
    defaultText: 'etcd-cluster',
    help: 'Initial cluster token; derives the cluster and member ids, so give each cluster its own.',
  },
  // Security
  {
    flag: 'cert-file',
    kind: 'string',
    group: 'security',
    defaultText: '',
    fileKey: ['client-transport-security', 'cert-file'],
    help: 'Path to the client server TLS cert file.',
  },
  {
    flag: 'key-file',
    kind: 'string',
    group: 'security',
    defaultText: '',
    fileKey: ['client-transport-security', 'key-file'],
    help: 'Path to the client server TLS key file.',
  },
  {
    flag: 'trusted-ca-file',
    kind: 'string',
    group: 'security',
    defaultText: '',
    fileKey: ['client-transport-security', 'trusted-ca-file'],
    help: 'Path to the client server TLS trusted CA cert file.',
  },
  {
    flag: 'client-cert-auth',
    kind: 'boolean',
    group: 'security',
    defaultText: 'false',
    fileKey: ['client-transport-security', 'client-cert-auth'],
    help: 'Require clients to present a certificate signed by --trusted-ca-file.',
  },
  {
    flag: 'peer-cert-file',
    kind: 'string',
    group: 'security',
    defaultText: '',
    fileKey: ['peer-transport-security', 'cert-file'],
    help: 'Path to the peer server TLS cert file.',
  },
  {
    flag: 'peer-key-file',
    kind: 'string',
    group: 'security',
    defaultText: '',
    fileKey: ['peer-transport-security', 'key-file'],
    help: 'Path to the peer server TLS key file.',
  },
  {
    flag: 'peer-trusted-ca-file',
    kind: 'string',
    group: 'security',
    defaultText: '',
    fileKey: ['peer-transport-security', 'trusted-ca-file'],
    help: 'Path to the peer server TLS trusted CA file.',
  },
  {
    flag: 'peer-client-cert-auth',
    kind: 'boolean',
    group: 'security',
    defaultText: 'false',
    fileKey: ['peer-transport-security', 'client-cert-auth'],
    help: 'Require peers to present a certificate signed by --peer-trusted-ca-file.',
  },
  // Logging
  {
    flag: 'log-level',
    kind: 'string',
    group: 'logging',
    defaultText: 'info',
    help: "Log level: 'debug', 'info', 'warn' or 'error'.",
  },
  {
    flag: 'config-file',
    kind: 'string',
    group: 'member',
    defaultText: '',
    help: 'Path to a YAML config file; when given, all other flags and RAFTKIT_* variables are ignored.',
  },
];

/** SETTINGS_BY_FLAG indexes SETTINGS by flag name. */
export const SETTINGS_BY_FLAG: ReadonlyMap<string, SettingSpec> = new Map(
  SETTINGS.map((spec) => [spec.flag, spec]),
);

/** ENV_PREFIX is the prefix of raftkit's environment variables (etcd's is `ETCD_`). */
export const ENV_PREFIX = 'RAFTKIT_';

/** envName maps a flag to its environment variable as etcd does: `--my-flag` → `RAFTKIT_MY_FLAG`. */
export function envName(flag: string): string {
  return ENV_PREFIX + flag.toUpperCase().replaceAll('-', '_');
}

/**
 * UNSUPPORTED_ETCD_SETTINGS are etcd flags and config-file keys raftkit recognises but
 * does not implement. As a flag one is refused (a flag is a deliberate request); as a
 * config-file key it is ignored with a warning, so that a copied etcd config file loads.
 */
export const UNSUPPORTED_ETCD_SETTINGS: ReadonlySet<string> = new Set([
  'wal-dir',
  'quota-backend-bytes',
  'max-snapshots',
  'max-wals',
  'cors',
  'host-whitelist',
  'discovery',
  'discovery-fallback',
  'discovery-proxy',
  'discovery-srv',
  'discovery-srv-name',
  'discovery-token',
  'discovery-endpoints',
  'strict-reconfig-check',
  'enable-pprof',
  'proxy',
  'proxy-failure-wait',
  'proxy-refresh-interval',
  'proxy-dial-timeout',
  'proxy-write-timeout',
  'proxy-read-timeout',
  'self-signed-cert-validity',
  'logger',
  'log-outputs',
  'log-format',
  'enable-log-rotation',
  'log-rotation-config-json',
  'force-new-cluster',
  'cipher-suites',
  'tls-min-version',
  'tls-max-version',
  'enable-v2',
  'v2-deprecation',
  'initial-election-tick-advance',
  'enable-grpc-gateway',
  'grpc-keepalive-min-time',
  'grpc-keepalive-interval',
  'grpc-keepalive-timeout',
  'listen-client-http-urls',
  'metrics',
  'auto-tls',
  'peer-auto-tls',
  'client-crl-file',
  'peer-crl-file',
  'peer-cert-allowed-cn',
  'peer-cert-allowed-hostname',
  'client-cert-file',
  'client-key-file',
  'peer-client-cert-file',
  'peer-client-key-file',
  'max-concurrent-streams',
  'backend-batch-interval',
  'backend-batch-limit',
  'backend-bbolt-freelist-type',
  'snapshot-catchup-entries',
  'unsafe-no-fsync',
  'socket-reuse-port',
  'socket-reuse-address',
  'pre-vote',
  'debug',
  'version',
  'feature-gates',
  'dial-timeout',
  'enable-distributed-tracing',
  'auth-token',
  'bcrypt-cost',
  'auth-token-ttl',
  'corrupt-check-time',
  'watch-progress-notify-interval',
  'memory-mlock',
  'listen-peer-http-urls',
  'downgrade-check-time',
  'cluster-active-size',
]);

/** isUnsupportedEtcdSetting reports whether `key` is an etcd setting raftkit does not implement. */
export function isUnsupportedEtcdSetting(key: string): boolean {
  return UNSUPPORTED_ETCD_SETTINGS.has(key) || key.startsWith('experimental-');
}

/**
 * closestName returns the candidate nearest to `input` by edit distance when it is close
 * enough to be a likely typo, for "did you mean" hints.
 */
export function closestName(input: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(input.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(input, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  // Levenshtein distance with one rolling row.
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}
