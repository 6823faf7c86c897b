import { describe, expect, it } from 'vitest';
import {
  ConfigValidationError,
  formatMemberId,
  type ParseOptions,
  parseServerConfig,
  type ServerConfig,
} from '../src/index.js';

const CLUSTER =
  'infra0=http://10.0.1.10:2380,infra1=http://10.0.1.11:2380,infra2=http://10.0.1.12:2380';

function flagsFor(name: string, index: number, extra: string[] = []): string[] {
  return [
    `--name=${name}`,
    `--initial-advertise-peer-urls=http://10.0.1.1${index}:2380`,
    `--listen-peer-urls=http://10.0.1.1${index}:2380`,
    `--listen-client-urls=http://10.0.1.1${index}:2379,http://127.0.0.1:2379`,
    `--advertise-client-urls=http://10.0.1.1${index}:2379`,
    `--initial-cluster=${CLUSTER}`,
    '--initial-cluster-token=etcd-cluster-1',
    ...extra,
  ];
}

function configError(run: () => unknown, setting: string, message: RegExp): ConfigValidationError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigValidationError);
  const error = caught as ConfigValidationError;
  expect(error.code).toBe('INVALID_SERVER_CONFIG');
  expect(error.message).toMatch(message);
  expect(error.setting).toBe(setting);
  return error;
}

function withFiles(files: Record<string, string>): ParseOptions {
  return {
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
      return text;
    },
    fileExists: (path) => path in files,
  };
}

describe('parseServerConfig defaults', () => {
  it('takes etcd defaults and derives the ids a default etcd has', () => {
    const config = parseServerConfig([], {});
    expect(config).toMatchObject({
      name: 'default',
      dataDir: 'default.raftkit',
      listenPeerUrls: ['http://localhost:2380'],
      initialAdvertisePeerUrls: ['http://localhost:2380'],
      listenClientUrls: ['http://localhost:2379'],
      advertiseClientUrls: ['http://localhost:2379'],
      listenMetricsUrls: [],
      initialCluster: [{ name: 'default', peerUrls: ['http://localhost:2380'] }],
      initialClusterState: 'new',
      initialClusterToken: 'etcd-cluster',
      heartbeatIntervalMs: 100,
      electionTimeoutMs: 1000,
      tickIntervalMs: 100,
      heartbeatTicks: 1,
      electionTicks: 10,
      snapshotCount: 10_000,
      maxRequestBytes: 1_572_864,
      maxTxnOps: 128,
      logLevel: 'info',
      clientTls: { clientCertAuth: false },
      configFile: undefined,
      warnings: [],
    });
    expect(formatMemberId(config.bootstrap!.memberId)).toBe('8e9e05c52164694d');
    expect(formatMemberId(config.bootstrap!.clusterId)).toBe('cdf818194e3a8c32');
    expect(config.bootstrap!.nodeId).toBe(0x1e05c52164694d);
  });

  it('is deeply frozen', () => {
    const config = parseServerConfig([]);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.listenPeerUrls)).toBe(true);
    expect(Object.isFrozen(config.bootstrap!.members[0])).toBe(true);
    expect(Object.isFrozen(config.clientTls)).toBe(true);
  });
});

describe('parseServerConfig for a three-member cluster', () => {
  const configs = ['infra0', 'infra1', 'infra2'].map((name, index) =>
    parseServerConfig(flagsFor(name, index)),
  );

  it('gives every member the same cluster id and member ids', () => {
    const [first, ...others] = configs as [ServerConfig, ...ServerConfig[]];
    for (const other of others) {
      expect(other.bootstrap!.clusterId).toBe(first.bootstrap!.clusterId);
      expect(other.bootstrap!.members).toEqual(first.bootstrap!.members);
    }
    const ids = new Set(first.bootstrap!.members.map((member) => member.nodeId));
    expect(ids.size).toBe(3);
  });

  it("names each server's own ids", () => {
    configs.forEach((config, index) => {
      const member = config.bootstrap!.members[index]!;
      expect(member.name).toBe(config.name);
      expect(config.bootstrap!.memberId).toBe(member.id);
      expect(config.bootstrap!.nodeId).toBe(member.nodeId);
    });
  });

  it('changes every id with the token', () => {
    const other = parseServerConfig(flagsFor('infra0', 0, ['--initial-cluster-token=other']));
    expect(other.bootstrap!.clusterId).not.toBe(configs[0]!.bootstrap!.clusterId);
    expect(other.bootstrap!.memberId).not.toBe(configs[0]!.bootstrap!.memberId);
  });

  it('joins an existing cluster without bootstrap ids', () => {
    const config = parseServerConfig(flagsFor('infra2', 2, ['--initial-cluster-state=existing']));
    expect(config.initialClusterState).toBe('existing');
    expect(config.bootstrap).toBeUndefined();
    expect(config.initialCluster).toHaveLength(3);
  });
});

describe('flag syntax', () => {
  it('accepts --flag value, --flag=value and etcd-style -flag', () => {
    const config = parseServerConfig([
      '--name',
      'n1',
      '-data-dir=/var/lib/n1',
      '-log-level',
      'debug',
      '--initial-cluster',
      'n1=http://localhost:2380',
    ]);
    expect(config.name).toBe('n1');
    expect(config.dataDir).toBe('/var/lib/n1');
    expect(config.logLevel).toBe('debug');
  });

  it('lets the last of a repeated flag win, as Go flags do', () => {
    expect(parseServerConfig(['--snapshot-count=5', '--snapshot-count=7']).snapshotCount).toBe(7);
  });

  it('maps election timeout to ticks with integer division, as etcd', () => {
    const config = parseServerConfig(['--heartbeat-interval=150', '--election-timeout=1000']);
    expect(config.tickIntervalMs).toBe(150);
    expect(config.electionTicks).toBe(6);
  });

  it('accepts boolean flags bare or with =true/=false', () => {
    const files = withFiles({ '/tls/ca.pem': '', '/tls/c.pem': '', '/tls/k.pem': '' });
    const tls = [
      '--trusted-ca-file=/tls/ca.pem',
      '--cert-file=/tls/c.pem',
      '--key-file=/tls/k.pem',
    ];
    expect(
      parseServerConfig([...tls, '--client-cert-auth'], {}, files).clientTls.clientCertAuth,
    ).toBe(true);
    expect(
      parseServerConfig([...tls, '--client-cert-auth=false'], {}, files).clientTls.clientCertAuth,
    ).toBe(false);
    expect(
      parseServerConfig([...tls, '--client-cert-auth=1'], {}, files).clientTls.clientCertAuth,
    ).toBe(true);
  });

  it('ignores --help (the caller checks isHelpRequested first)', () => {
    expect(parseServerConfig(['--help']).name).toBe('default');
  });
});

describe('validation messages name the setting, the reason and the fix', () => {
  it.each<[string[], string, RegExp]>([
    [['--name='], 'name', /"" cannot name a member.*non-empty name/],
    [['--name=a,b'], 'name', /cannot name a member; use a non-empty name without commas/],
    [['--data-dir='], 'data-dir', /the path is empty/],
    [
      ['--name=infra3', `--initial-cluster=${CLUSTER}`],
      'initial-cluster',
      /--name "infra3" is not in it \(members: infra0, infra1, infra2\); add infra3=<this member's peer URL> or fix --name/,
    ],
    [
      ['--initial-cluster=default=http://localhost:2380,other=http://localhost:2380'],
      'initial-cluster',
      /members "default" and "other" have the same peer URL http:\/\/localhost:2380; give every member its own peer URL/,
    ],
    [['--listen-peer-urls=http://10.0.0.1:2380/raft'], 'listen-peer-urls', /has a path/],
    [['--listen-peer-urls=peer.example.com:2380'], 'listen-peer-urls', /is not a URL/],
    [
      ['--initial-advertise-peer-urls=ftp://10.0.0.1:2380'],
      'initial-advertise-peer-urls',
      /must be http or https/,
    ],
    [
      ['--heartbeat-interval=100', '--election-timeout=400'],
      'election-timeout',
      /400ms is less than 5 × --heartbeat-interval \(100ms\).*raise --election-timeout to at least 500/,
    ],
    [['--heartbeat-interval=100', '--election-timeout=100'], 'election-timeout', /less than 5 ×/],
    [
      ['--heartbeat-interval=10000', '--election-timeout=60000'],
      'election-timeout',
      /longer than 50000ms.*at most 50000/,
    ],
    [
      ['--heartbeat-interval=0'],
      'heartbeat-interval',
      /0 is too small; use at least 1 milliseconds/,
    ],
    [
      ['--heartbeat-interval=fast'],
      'heartbeat-interval',
      /"fast" is not a whole number of milliseconds; write digits only, e.g. --heartbeat-interval=100/,
    ],
    [['--election-timeout=-5'], 'election-timeout', /is not a whole number/],
    [['--snapshot-count=1.5'], 'snapshot-count', /not a whole number of entries/],
    [['--max-request-bytes=0'], 'max-request-bytes', /too small/],
    [['--max-txn-ops=99999999999999999999'], 'max-txn-ops', /not a whole number/],
    [
      ['--initial-cluster-state=joining'],
      'initial-cluster-state',
      /"joining" is not allowed; use one of: new, existing/,
    ],
    [['--log-level=verbose'], 'log-level', /use one of: debug, info, warn, error/],
    [['--initial-cluster-token='], 'initial-cluster-token', /the token is empty/],
    [
      ['--initial-clutser=a=http://localhost:2380'],
      'initial-clutser',
      /unknown flag --initial-clutser; did you mean --initial-cluster\?/,
    ],
    [['--frobnicate'], 'frobnicate', /unknown flag --frobnicate; see --help/],
    [['--wal-dir=/wal'], 'wal-dir', /etcd flag is not implemented by raftkit; remove it/],
    [
      ['--experimental-initial-corrupt-check'],
      'experimental-initial-corrupt-check',
      /not implemented/,
    ],
    [['default'], 'command-line', /invalid command line: unexpected argument "default"/],
    [['--name'], 'name', /the flag has no value/],
    [['--name', '--data-dir', 'x'], 'name', /the next argument is the flag --data-dir/],
    [['--client-cert-auth=maybe'], 'client-cert-auth', /"maybe" is not true or false/],
    [
      ['--listen-client-urls=http://10.0.0.1:2379'],
      'advertise-client-urls',
      /--listen-client-urls is set but --advertise-client-urls is not.*etcd requires this too/,
    ],
    [
      [
        '--initial-advertise-peer-urls=http://10.0.0.1:2380',
        '--initial-cluster=default=http://localhost:2380',
      ],
      'initial-advertise-peer-urls',
      /--initial-cluster has default=http:\/\/localhost:2380 but it is missing from --initial-advertise-peer-urls=http:\/\/10.0.0.1:2380/,
    ],
    [
      [
        '--initial-advertise-peer-urls=http://localhost:2380,http://10.0.0.1:2380',
        '--initial-cluster=default=http://localhost:2380',
      ],
      'initial-advertise-peer-urls',
      /has http:\/\/10.0.0.1:2380 but --initial-cluster does not list it for "default"/,
    ],
    [
      ['--initial-cluster-state=existing'],
      'initial-cluster',
      /joining an existing cluster needs the peer URLs of its running members/,
    ],
    [['--advertise-client-urls=http://0.0.0.0:2379'], 'advertise-client-urls', /nobody can dial/],
  ])('%j → --%s', (argv, setting, message) => {
    configError(() => parseServerConfig(argv, {}, withFiles({})), setting, message);
  });

  it('reports the variable a bad value came from', () => {
    const error = configError(
      () => parseServerConfig([], { RAFTKIT_ELECTION_TIMEOUT: 'soon' }),
      'election-timeout',
      /^invalid --election-timeout \(from RAFTKIT_ELECTION_TIMEOUT\): "soon" is not a whole number/,
    );
    expect(error.source).toBe('RAFTKIT_ELECTION_TIMEOUT');
  });
});

describe('TLS settings', () => {
  const files = withFiles({
    '/tls/ca.pem': '',
    '/tls/server.pem': '',
    '/tls/server-key.pem': '',
    '/tls/peer.pem': '',
    '/tls/peer-key.pem': '',
  });
  const httpsEverywhere = [
    '--listen-peer-urls=https://10.0.0.1:2380',
    '--initial-advertise-peer-urls=https://10.0.0.1:2380',
    '--initial-cluster=default=https://10.0.0.1:2380',
    '--listen-client-urls=https://10.0.0.1:2379',
    '--advertise-client-urls=https://10.0.0.1:2379',
  ];

  it('reads client and peer TLS files with mutual TLS', () => {
    const config = parseServerConfig(
      [
        ...httpsEverywhere,
        '--cert-file=/tls/server.pem',
        '--key-file=/tls/server-key.pem',
        '--trusted-ca-file=/tls/ca.pem',
        '--client-cert-auth',
        '--peer-cert-file=/tls/peer.pem',
        '--peer-key-file=/tls/peer-key.pem',
        '--peer-trusted-ca-file=/tls/ca.pem',
        '--peer-client-cert-auth=true',
      ],
      {},
      files,
    );
    expect(config.clientTls).toEqual({
      certFile: '/tls/server.pem',
      keyFile: '/tls/server-key.pem',
      trustedCaFile: '/tls/ca.pem',
      clientCertAuth: true,
    });
    expect(config.peerTls).toEqual({
      certFile: '/tls/peer.pem',
      keyFile: '/tls/peer-key.pem',
      trustedCaFile: '/tls/ca.pem',
      clientCertAuth: true,
    });
    expect(config.warnings).toEqual([]);
  });

  it.each<[string[], string, RegExp]>([
    [
      ['--cert-file=/tls/server.pem'],
      'key-file',
      /--cert-file is set but --key-file is not; give both --cert-file and --key-file, or neither/,
    ],
    [
      ['--peer-key-file=/tls/peer-key.pem'],
      'peer-cert-file',
      /--peer-key-file is set but --peer-cert-file is not/,
    ],
    [
      ['--cert-file=/tls/server.pem', '--key-file=/tls/server-key.pem', '--client-cert-auth'],
      'trusted-ca-file',
      /--client-cert-auth is on, but without --trusted-ca-file no certificate can be verified/,
    ],
    [
      ['--peer-trusted-ca-file=/tls/ca.pem', '--peer-client-cert-auth'],
      'peer-cert-file',
      /certificates can only be asked for over TLS/,
    ],
    [
      ['--listen-peer-urls=https://10.0.0.1:2380'],
      'peer-cert-file',
      /--listen-peer-urls has https:\/\/10.0.0.1:2380, but no TLS certificate is given/,
    ],
    [
      ['--cert-file=/tls/missing.pem', '--key-file=/tls/server-key.pem'],
      'cert-file',
      /\/tls\/missing.pem does not exist; check the path/,
    ],
  ])('%j → --%s', (argv, setting, message) => {
    configError(() => parseServerConfig(argv, {}, files), setting, message);
  });

  it('warns when certificates are given but every URL is plain http', () => {
    const config = parseServerConfig(
      ['--peer-cert-file=/tls/peer.pem', '--peer-key-file=/tls/peer-key.pem'],
      {},
      files,
    );
    expect(config.warnings).toEqual([
      '--peer-cert-file is set but no --listen-peer-urls URL is https://, so peer traffic is not encrypted',
    ]);
  });
});

describe('environment variables', () => {
  it('reads RAFTKIT_* for every flag, flags and variables combining', () => {
    const config = parseServerConfig(['--snapshot-count=42'], {
      RAFTKIT_NAME: 'infra1',
      RAFTKIT_INITIAL_CLUSTER: CLUSTER,
      RAFTKIT_INITIAL_ADVERTISE_PEER_URLS: 'http://10.0.1.11:2380',
      RAFTKIT_HEARTBEAT_INTERVAL: '50',
      RAFTKIT_ELECTION_TIMEOUT: '500',
      RAFTKIT_PEER_CLIENT_CERT_AUTH: 'false',
    });
    expect(config.name).toBe('infra1');
    expect(config.snapshotCount).toBe(42);
    expect(config.electionTicks).toBe(10);
    expect(config.bootstrap!.members.map((member) => member.name)).toEqual([
      'infra0',
      'infra1',
      'infra2',
    ]);
  });

  it('refuses a setting given both as a flag and a variable, as etcd does', () => {
    configError(
      () => parseServerConfig(['--name=a'], { RAFTKIT_NAME: 'b' }),
      'name',
      /both --name and the environment variable RAFTKIT_NAME are set; unset RAFTKIT_NAME or drop the flag/,
    );
  });

  it('ignores empty variables', () => {
    expect(
      parseServerConfig(['--name=a', '--initial-cluster=a=http://localhost:2380'], {
        RAFTKIT_NAME: '',
      }).name,
    ).toBe('a');
  });

  it('warns about unrecognized RAFTKIT_* and about ETCD_* variables, which it does not read', () => {
    const config = parseServerConfig([], {
      RAFTKIT_NAMEE: 'x',
      ETCD_NAME: 'infra0',
      ETCD_UNRELATED_THING: 'x',
      PATH: '/usr/bin',
    });
    expect(config.name).toBe('default');
    expect(config.warnings).toEqual([
      'unrecognized environment variable RAFTKIT_NAMEE (did you mean RAFTKIT_NAME?); ignored',
      'ETCD_NAME is set, but raftkit reads RAFTKIT_NAME, not ETCD_* variables (they may belong to an etcd on this host); ignored',
    ]);
  });
});

describe('config file', () => {
  const file = [
    'name: infra1',
    'data-dir: /var/lib/raftkit',
    'heartbeat-interval: 50',
    'election-timeout: 600',
    'snapshot-count: "2000"',
    'listen-peer-urls: https://10.0.1.11:2380',
    'initial-advertise-peer-urls: [https://10.0.1.11:2380]',
    'listen-client-urls: http://10.0.1.11:2379',
    'advertise-client-urls: http://10.0.1.11:2379',
    `initial-cluster: "${CLUSTER.replaceAll('http:', 'https:')}"`,
    'initial-cluster-token: etcd-cluster-1',
    'initial-cluster-state: new',
    'wal-dir:',
    'log-level: warn',
    'client-transport-security:',
    '  cert-file:',
    '  client-cert-auth: false',
    '  auto-tls: false',
    'peer-transport-security:',
    '  cert-file: /tls/peer.pem',
    '  key-file: /tls/peer-key.pem',
    '  trusted-ca-file: /tls/ca.pem',
    '  client-cert-auth: true',
  ].join('\n');
  const files = withFiles({
    '/etc/raftkit.yml': file,
    '/tls/peer.pem': '',
    '/tls/peer-key.pem': '',
    '/tls/ca.pem': '',
  });

  it('reads etcd config-file keys, nested TLS sections and YAML types', () => {
    const config = parseServerConfig(['--config-file=/etc/raftkit.yml'], {}, files);
    expect(config).toMatchObject({
      name: 'infra1',
      dataDir: '/var/lib/raftkit',
      tickIntervalMs: 50,
      electionTicks: 12,
      snapshotCount: 2000,
      initialAdvertisePeerUrls: ['https://10.0.1.11:2380'],
      logLevel: 'warn',
      configFile: '/etc/raftkit.yml',
      clientTls: { certFile: undefined, clientCertAuth: false },
      peerTls: { certFile: '/tls/peer.pem', clientCertAuth: true },
      warnings: [],
    });
  });

  it('ignores every other flag and variable when a file is given, and says so', () => {
    const config = parseServerConfig(
      ['--config-file', '/etc/raftkit.yml', '--data-dir=/tmp/elsewhere'],
      { RAFTKIT_SNAPSHOT_COUNT: '1' },
      files,
    );
    expect(config.dataDir).toBe('/var/lib/raftkit');
    expect(config.snapshotCount).toBe(2000);
    expect(config.warnings).toEqual([
      'a config file is given (/etc/raftkit.yml), so these settings were ignored, as etcd does: --data-dir, RAFTKIT_SNAPSHOT_COUNT; put them in the file instead',
    ]);
  });

  it('takes the file from RAFTKIT_CONFIG_FILE too, but not from both', () => {
    expect(parseServerConfig([], { RAFTKIT_CONFIG_FILE: '/etc/raftkit.yml' }, files).name).toBe(
      'infra1',
    );
    configError(
      () => parseServerConfig(['--config-file=/a.yml'], { RAFTKIT_CONFIG_FILE: '/b.yml' }, files),
      'config-file',
      /both --config-file and the environment variable RAFTKIT_CONFIG_FILE are set/,
    );
  });

  it('still refuses unknown flags next to a config file', () => {
    configError(
      () => parseServerConfig(['--config-file=/etc/raftkit.yml', '--nmae=x'], {}, files),
      'nmae',
      /did you mean --name\?/,
    );
  });

  it('loads an etcd sample-style file, ignoring the etcd-only keys with one warning', () => {
    const sample = [
      "name: 'default'",
      'data-dir:',
      'quota-backend-bytes: 0',
      'enable-pprof: true',
      "proxy: 'off'",
      'log-outputs: [stderr]',
      'experimental-initial-corrupt-check: true',
      'peer-transport-security:',
      '  crl-file: /tls/crl.pem',
      '  auto-tls: false',
      'config-file: /nested.yml',
    ].join('\n');
    const config = parseServerConfig(['--config-file=/s.yml'], {}, withFiles({ '/s.yml': sample }));
    expect(config.dataDir).toBe('default.raftkit');
    expect(config.warnings).toEqual([
      'these config file keys are etcd settings raftkit does not implement and were ignored: quota-backend-bytes, enable-pprof, proxy, log-outputs, experimental-initial-corrupt-check, peer-transport-security.crl-file, config-file',
    ]);
  });

  it('treats an empty file as all defaults', () => {
    expect(
      parseServerConfig(['--config-file=/e.yml'], {}, withFiles({ '/e.yml': '# nothing\n' })).name,
    ).toBe('default');
  });

  it.each<[string, string, RegExp]>([
    ['nmae: infra0', 'nmae', /unknown config file key 'nmae'; did you mean 'name'\?/],
    ['frobnicate: 1', 'frobnicate', /unknown config file key 'frobnicate'; remove it/],
    [
      'cert-file: /tls/c.pem',
      'cert-file',
      /does not take 'cert-file' at the top level; write it as client-transport-security: \{ cert-file: … \}/,
    ],
    [
      'peer-transport-security:\n  auto-tls: true',
      'peer-auto-tls',
      /raftkit does not generate self-signed certificates/,
    ],
    [
      'peer-transport-security: yes',
      'peer-cert-file',
      /'peer-transport-security' is not a mapping/,
    ],
    ['name: [a, b]', 'name', /expected text/],
    ['heartbeat-interval: {ms: 100}', 'heartbeat-interval', /the value is a object, not a integer/],
    ['heartbeat-interval: 0.5', 'heartbeat-interval', /0.5 is not a whole number of milliseconds/],
    ['- name: a', 'config-file', /is not a YAML mapping/],
    ['name: a\nname: b', 'config-file', /is not valid YAML/],
    ['name: "unterminated', 'config-file', /is not valid YAML/],
  ])('%j → --%s', (text, setting, message) => {
    const error = configError(
      () => parseServerConfig(['--config-file=/bad.yml'], {}, withFiles({ '/bad.yml': text })),
      setting,
      message,
    );
    expect(error.source).toBeDefined();
  });

  it('names the file key a bad value came from', () => {
    const error = configError(
      () =>
        parseServerConfig(
          ['--config-file=/bad.yml'],
          {},
          withFiles({ '/bad.yml': 'peer-transport-security:\n  client-cert-auth: sometimes' }),
        ),
      'peer-client-cert-auth',
      /\(from config file key 'peer-transport-security.client-cert-auth'\): "sometimes" is not true or false/,
    );
    expect(error.source).toBe("config file key 'peer-transport-security.client-cert-auth'");
  });

  it('reports a file it cannot read', () => {
    configError(
      () => parseServerConfig(['--config-file=/missing.yml'], {}, withFiles({})),
      'config-file',
      /cannot read \/missing.yml: ENOENT.*check the path/,
    );
    configError(
      () => parseServerConfig(['--config-file='], {}, withFiles({})),
      'config-file',
      /the path is empty/,
    );
  });

  it('reads a real file from disk by default', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'raftkit-config-'));
    try {
      const path = join(dir, 'raftkit.yml');
      writeFileSync(path, 'name: disk\ninitial-cluster: disk=http://localhost:2380\n');
      expect(parseServerConfig([`--config-file=${path}`]).name).toBe('disk');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('--experimental-snapshot-catchup-entries', () => {
  it('defaults to etcd’s 5000 and takes a positive integer', async () => {
    const { parseServerConfig } = await import('../src/index.js');
    expect(parseServerConfig(['--name', 'a'], {}).snapshotCatchUpEntries).toBe(5000);
    expect(
      parseServerConfig(['--name', 'a', '--experimental-snapshot-catchup-entries', '7'], {})
        .snapshotCatchUpEntries,
    ).toBe(7);
    expect(() =>
      parseServerConfig(['--name', 'a', '--experimental-snapshot-catchup-entries', '0'], {}),
    ).toThrow(/snapshot-catchup-entries/);
  });
});
