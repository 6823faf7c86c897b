import { existsSync } from 'node:fs';
import type { NodeId } from '@raftkit/core';
import { collectSettings, type RawSetting, type SourceOptions } from './config-sources.js';
import { ConfigValidationError } from './errors.js';
import {
  formatInitialCluster,
  type InitialMember,
  parseInitialCluster,
} from './initial-cluster.js';
import { computeClusterId, computeMemberId, formatMemberId, toNodeId } from './member-id.js';
import { SETTINGS_BY_FLAG } from './settings.js';
import { parseUrlList, type UrlUse } from './url-list.js';

/** ClusterState is `--initial-cluster-state`: bootstrap a `new` cluster or join an `existing` one. */
export type ClusterState = 'new' | 'existing';

/** LogLevel is `--log-level`, the least severe level logged. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** LOG_LEVELS lists the accepted `--log-level` values, least severe first. */
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/**
 * AutoCompactionMode is `--auto-compaction-mode`: how `--auto-compaction-retention` is
 * read — a duration of history to keep ('periodic') or a number of revisions ('revision').
 */
export type AutoCompactionMode = 'periodic' | 'revision';

/** AUTO_COMPACTION_MODES lists the accepted `--auto-compaction-mode` values. */
export const AUTO_COMPACTION_MODES: readonly AutoCompactionMode[] = ['periodic', 'revision'];

/**
 * TlsSettings are the TLS files of one listener (client or peer). TLS is on when
 * `certFile` and `keyFile` are set; `clientCertAuth` then also demands a certificate
 * from the other side, signed by `trustedCaFile`.
 */
export interface TlsSettings {
  readonly certFile: string | undefined;
  readonly keyFile: string | undefined;
  readonly trustedCaFile: string | undefined;
  readonly clientCertAuth: boolean;
}

/** BootstrapMember is an initial member with the ids derived for it. */
export interface BootstrapMember extends InitialMember {
  /** id is the 64-bit etcd member id (printed in hex by `formatMemberId`). */
  readonly id: bigint;
  /** nodeId is the id core's raft uses: the low 53 bits of `id` (`toNodeId`). */
  readonly nodeId: NodeId;
}

/**
 * ClusterBootstrap holds the ids of a cluster bootstrapped from `--initial-cluster`
 * and `--initial-cluster-token`, derived as etcd derives them.
 */
export interface ClusterBootstrap {
  readonly clusterId: bigint;
  /** memberId and nodeId are this member's ids. */
  readonly memberId: bigint;
  readonly nodeId: NodeId;
  /** members are the initial members in `--initial-cluster` order. */
  readonly members: readonly BootstrapMember[];
}

/**
 * ServerConfig is a validated, deeply frozen server configuration: etcd's settings with
 * etcd's meanings, URLs in canonical form, and the raft timing mapped to ticks.
 */
export interface ServerConfig {
  readonly name: string;
  readonly dataDir: string;
  readonly listenPeerUrls: readonly string[];
  readonly initialAdvertisePeerUrls: readonly string[];
  readonly listenClientUrls: readonly string[];
  readonly advertiseClientUrls: readonly string[];
  readonly listenMetricsUrls: readonly string[];
  readonly initialCluster: readonly InitialMember[];
  readonly initialClusterState: ClusterState;
  /**
   * initialSnapshotFile is `--initial-snapshot-file` (raftkit's own): a backup a new
   * cluster's members start from instead of an empty store; undefined when not set.
   */
  readonly initialSnapshotFile: string | undefined;
  readonly initialClusterToken: string;
  /**
   * bootstrap holds the cluster and member ids when `initialClusterState` is 'new'. It is
   * undefined for 'existing': a member added at run time got an id that mixes in the time
   * (`member add`), so the joining server must adopt the ids the running cluster reports.
   */
  readonly bootstrap: ClusterBootstrap | undefined;
  /** heartbeatIntervalMs and electionTimeoutMs are the flags as given, in milliseconds. */
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMs: number;
  /** tickIntervalMs is the length of one raft tick: the heartbeat interval, as in etcd. */
  readonly tickIntervalMs: number;
  /** heartbeatTicks is 1: the leader sends heartbeats every tick. */
  readonly heartbeatTicks: number;
  /** electionTicks is ⌊electionTimeoutMs / heartbeatIntervalMs⌋ (etcd's integer division), ≥ 5. */
  readonly electionTicks: number;
  readonly snapshotCount: number;
  /** snapshotCatchUpEntries is how many entries stay in the log behind a snapshot (etcd's default 5000). */
  readonly snapshotCatchUpEntries: number;
  readonly maxRequestBytes: number;
  readonly maxTxnOps: number;
  /** autoCompactionMode is `--auto-compaction-mode` (default 'periodic'). */
  readonly autoCompactionMode: AutoCompactionMode;
  /**
   * autoCompactionRetention is `--auto-compaction-retention` in the unit of the mode:
   * milliseconds of history for 'periodic' (given as a Go duration such as `30m` or
   * `1h30m`, or a whole number of hours, as etcd reads it), a number of revisions for
   * 'revision'. 0 (the default) disables auto compaction.
   */
  readonly autoCompactionRetention: number;
  readonly logLevel: LogLevel;
  readonly clientTls: TlsSettings;
  readonly peerTls: TlsSettings;
  /** configFile is the YAML file the settings came from, or undefined for flags and env. */
  readonly configFile: string | undefined;
  /** warnings are things the operator should read (ignored settings); log them at start. */
  readonly warnings: readonly string[];
}

/** ParseOptions let tests and embedders replace the file system. */
export interface ParseOptions extends SourceOptions {
  /** fileExists checks TLS file paths; default `fs.existsSync`. */
  readonly fileExists?: (path: string) => boolean;
}

/** MAX_ELECTION_TIMEOUT_MS is etcd's ceiling on `--election-timeout` (50 s). */
export const MAX_ELECTION_TIMEOUT_MS = 50_000;

/** MIN_ELECTION_TO_HEARTBEAT_RATIO is etcd's rule: election timeout ≥ 5 × heartbeat interval. */
export const MIN_ELECTION_TO_HEARTBEAT_RATIO = 5;

/**
 * parseServerConfig builds a ServerConfig from command-line arguments (without the node
 * and script paths), environment variables and, when `--config-file` or
 * `RAFTKIT_CONFIG_FILE` names one, a YAML file — with etcd's precedence (see
 * `collectSettings`) — or throws a ConfigValidationError naming the setting, the
 * problem and the fix. `--help` is ignored here; check `isHelpRequested` first.
 */
export function parseServerConfig(
  argv: readonly string[] = [],
  env: Readonly<Record<string, string | undefined>> = {},
  options: ParseOptions = {},
): ServerConfig {
  const collected = collectSettings(argv, env, options);
  // Annotated so that `read.fail(...)` (returns never) narrows types after it.
  const read: SettingReader = new SettingReader(collected.values);
  const warnings = [...collected.warnings];

  const name = read.string('name', 'default');
  if (name.trim() === '' || /[,=]/.test(name) || name.trim() !== name) {
    read.fail(
      'name',
      `"${name}" cannot name a member`,
      'use a non-empty name without commas, "=" or surrounding spaces, e.g. infra0',
    );
  }
  const dataDir = read.string('data-dir', `${name}.raftkit`);
  if (dataDir.trim() === '') {
    read.fail('data-dir', 'the path is empty', 'give a directory path, or drop the setting');
  }
  const logLevel = read.oneOf('log-level', LOG_LEVELS, 'info');
  const initialClusterState = read.oneOf('initial-cluster-state', ['new', 'existing'], 'new');
  const snapshotFile = read.string('initial-snapshot-file', '');
  if (snapshotFile !== '' && initialClusterState !== 'new') {
    read.fail(
      'initial-snapshot-file',
      'a backup can only bootstrap a new cluster, not a member joining an existing one',
      'drop --initial-snapshot-file, or bootstrap a new cluster with --initial-cluster-state new',
    );
  }
  const initialSnapshotFile = snapshotFile === '' ? undefined : snapshotFile;
  const initialClusterToken = read.string('initial-cluster-token', 'etcd-cluster');
  if (initialClusterToken === '') {
    read.fail(
      'initial-cluster-token',
      'the token is empty',
      'give each cluster its own token, e.g. --initial-cluster-token=orders-prod-1',
    );
  }

  const heartbeatIntervalMs = read.integer('heartbeat-interval', 100, 1, 'milliseconds');
  const electionTimeoutMs = read.integer('election-timeout', 1000, 1, 'milliseconds');
  if (electionTimeoutMs < MIN_ELECTION_TO_HEARTBEAT_RATIO * heartbeatIntervalMs) {
    read.fail(
      'election-timeout',
      `${electionTimeoutMs}ms is less than ${MIN_ELECTION_TO_HEARTBEAT_RATIO} × --heartbeat-interval (${heartbeatIntervalMs}ms): followers would start elections while the leader is healthy`,
      `raise --election-timeout to at least ${MIN_ELECTION_TO_HEARTBEAT_RATIO * heartbeatIntervalMs} (etcd recommends about 10 × the heartbeat) or lower --heartbeat-interval`,
    );
  }
  if (electionTimeoutMs > MAX_ELECTION_TIMEOUT_MS) {
    read.fail(
      'election-timeout',
      `${electionTimeoutMs}ms is longer than ${MAX_ELECTION_TIMEOUT_MS}ms: a failed leader would go unnoticed for too long`,
      `use at most ${MAX_ELECTION_TIMEOUT_MS} (etcd's limit)`,
    );
  }
  const snapshotCount = read.integer('snapshot-count', 10_000, 1, 'entries');
  const snapshotCatchUpEntries = read.integer(
    'experimental-snapshot-catchup-entries',
    5_000,
    1,
    'entries',
  );
  const maxRequestBytes = read.integer('max-request-bytes', 1_572_864, 1, 'bytes');
  const maxTxnOps = read.integer('max-txn-ops', 128, 1, 'operations');
  const autoCompactionMode = read.oneOf('auto-compaction-mode', AUTO_COMPACTION_MODES, 'periodic');
  const autoCompactionRetention = read.compactionRetention(autoCompactionMode);

  const listenPeerUrls = read.urls('listen-peer-urls', 'http://localhost:2380', 'listen');
  const listenClientUrls = read.urls('listen-client-urls', 'http://localhost:2379', 'listen');
  const listenMetricsUrls = read.urls('listen-metrics-urls', '', 'listen', true);
  const initialAdvertisePeerUrls = read.urls(
    'initial-advertise-peer-urls',
    'http://localhost:2380',
    'advertise',
  );
  if (read.isSet('listen-client-urls') && !read.isSet('advertise-client-urls')) {
    read.fail(
      'advertise-client-urls',
      '--listen-client-urls is set but --advertise-client-urls is not, so clients would be told http://localhost:2379',
      'set --advertise-client-urls to the URLs clients should use to reach this member (etcd requires this too)',
    );
  }
  const advertiseClientUrls = read.urls(
    'advertise-client-urls',
    'http://localhost:2379',
    'advertise',
  );

  const clientTls = read.tls('', listenClientUrls, 'listen-client-urls', options, warnings);
  const peerTls = read.tls('peer-', listenPeerUrls, 'listen-peer-urls', options, warnings);

  const initialClusterSetting = collected.values.get('initial-cluster');
  const initialCluster = parseInitialCluster(
    initialClusterSetting?.value === undefined
      ? formatInitialCluster([{ name, peerUrls: initialAdvertisePeerUrls }])
      : read.text('initial-cluster', initialClusterSetting),
    initialClusterSetting?.source,
  );
  const local = initialCluster.find((member) => member.name === name);
  if (local === undefined) {
    read.fail(
      'initial-cluster',
      `this member's --name "${name}" is not in it (members: ${initialCluster.map((member) => member.name).join(', ')})`,
      `add ${name}=<this member's peer URL> or fix --name`,
    );
  }
  checkAdvertiseMatchesCluster(name, local.peerUrls, initialAdvertisePeerUrls, read);
  if (initialClusterState === 'existing' && initialCluster.length < 2) {
    read.fail(
      'initial-cluster',
      'joining an existing cluster needs the peer URLs of its running members, but only this member is listed',
      'use the --initial-cluster printed by `member add` (all current members plus this one)',
    );
  }
  const bootstrap =
    initialClusterState === 'new'
      ? deriveBootstrap(name, initialCluster, initialClusterToken)
      : undefined;

  return deepFreeze({
    name,
    dataDir,
    listenPeerUrls,
    initialAdvertisePeerUrls,
    listenClientUrls,
    advertiseClientUrls,
    listenMetricsUrls,
    initialCluster,
    initialClusterState,
    initialSnapshotFile,
    initialClusterToken,
    bootstrap,
    heartbeatIntervalMs,
    electionTimeoutMs,
    tickIntervalMs: heartbeatIntervalMs,
    heartbeatTicks: 1,
    electionTicks: Math.floor(electionTimeoutMs / heartbeatIntervalMs),
    snapshotCount,
    snapshotCatchUpEntries,
    maxRequestBytes,
    maxTxnOps,
    autoCompactionMode,
    autoCompactionRetention,
    logLevel,
    clientTls,
    peerTls,
    configFile: collected.configFile,
    warnings,
  });
}

function checkAdvertiseMatchesCluster(
  name: string,
  clusterUrls: readonly string[],
  advertised: readonly string[],
  read: SettingReader,
): void {
  // etcd compares these sets (after resolving DNS names, which a pure parser cannot do):
  // a mismatch means peers would dial an address this member does not claim.
  const missingFromAdvertised = clusterUrls.filter((url) => !advertised.includes(url));
  const missingFromCluster = advertised.filter((url) => !clusterUrls.includes(url));
  if (missingFromAdvertised.length > 0) {
    read.fail(
      'initial-advertise-peer-urls',
      `--initial-cluster has ${missingFromAdvertised.map((url) => `${name}=${url}`).join(',')} but it is missing from --initial-advertise-peer-urls=${advertised.join(',')}`,
      `make this member's --initial-cluster entries and --initial-advertise-peer-urls the same set of URLs`,
    );
  }
  if (missingFromCluster.length > 0) {
    read.fail(
      'initial-advertise-peer-urls',
      `--initial-advertise-peer-urls has ${missingFromCluster.join(',')} but --initial-cluster does not list it for "${name}"`,
      `add ${missingFromCluster.map((url) => `${name}=${url}`).join(',')} to --initial-cluster or drop it from --initial-advertise-peer-urls`,
    );
  }
}

function deriveBootstrap(
  name: string,
  initialCluster: readonly InitialMember[],
  token: string,
): ClusterBootstrap {
  const members: BootstrapMember[] = [];
  for (const member of initialCluster) {
    const id = computeMemberId(member.peerUrls, token);
    let nodeId: NodeId;
    try {
      nodeId = toNodeId(id);
    } catch (error) {
      throw new ConfigValidationError(
        'initial-cluster-token',
        `member "${member.name}" gets id ${formatMemberId(id)}, which has no raft NodeId: ${(error as Error).message}`,
        'choose another --initial-cluster-token',
      );
    }
    const clash = members.find((other) => other.id === id || other.nodeId === nodeId);
    if (clash !== undefined) {
      throw new ConfigValidationError(
        'initial-cluster-token',
        `members "${clash.name}" and "${member.name}" get the same ${clash.id === id ? 'member id' : 'raft NodeId (low 53 bits)'} ${formatMemberId(id)}`,
        'choose another --initial-cluster-token',
      );
    }
    members.push({ ...member, id, nodeId });
  }
  const local = members.find((member) => member.name === name)!;
  return {
    clusterId: computeClusterId(members.map((member) => member.id)),
    memberId: local.id,
    nodeId: local.nodeId,
    members,
  };
}

/** Reads one typed setting at a time, naming the setting and its source in every error. */
class SettingReader {
  constructor(private readonly values: ReadonlyMap<string, RawSetting>) {}

  isSet(flag: string): boolean {
    return this.values.has(flag);
  }

  fail(flag: string, problem: string, fix: string): never {
    throw new ConfigValidationError(flag, problem, fix, this.values.get(flag)?.source);
  }

  text(flag: string, setting: RawSetting): string {
    if (typeof setting.value === 'string') return setting.value;
    if (typeof setting.value === 'number') return String(setting.value);
    if (Array.isArray(setting.value) && SETTINGS_BY_FLAG.get(flag)?.kind !== 'string') {
      return setting.value.join(',');
    }
    return this.fail(
      flag,
      `expected text, got ${JSON.stringify(setting.value)}`,
      'quote the value',
    );
  }

  string(flag: string, fallback: string): string {
    const setting = this.values.get(flag);
    return setting === undefined ? fallback : this.text(flag, setting);
  }

  oneOf<T extends string>(flag: string, allowed: readonly T[], fallback: T): T {
    const value = this.string(flag, fallback);
    const match = allowed.find((candidate) => candidate === value);
    if (match === undefined) {
      this.fail(flag, `"${value}" is not allowed`, `use one of: ${allowed.join(', ')}`);
    }
    return match;
  }

  integer(flag: string, fallback: number, minimum: number, unit: string): number {
    const setting = this.values.get(flag);
    if (setting === undefined) return fallback;
    const { value } = setting;
    const number =
      typeof value === 'number'
        ? value
        : typeof value === 'string' && /^\s*\d+\s*$/.test(value)
          ? Number(value)
          : Number.NaN;
    if (!Number.isSafeInteger(number)) {
      this.fail(
        flag,
        `${JSON.stringify(value)} is not a whole number of ${unit}`,
        `write digits only, e.g. --${flag}=${SETTINGS_BY_FLAG.get(flag)?.defaultText ?? fallback}`,
      );
    }
    if (number < minimum) {
      this.fail(flag, `${number} is too small`, `use at least ${minimum} ${unit}`);
    }
    return number;
  }

  /**
   * compactionRetention reads `--auto-compaction-retention` as etcd does: a whole number
   * is hours for 'periodic' and revisions for 'revision'; otherwise, for 'periodic', a Go
   * duration (`90s`, `30m`, `1h30m`, ...), returned in milliseconds.
   */
  compactionRetention(mode: AutoCompactionMode): number {
    const flag = 'auto-compaction-retention';
    const text = this.string(flag, '0').trim();
    if (/^\d+$/.test(text)) {
      const number = Number(text);
      if (!Number.isSafeInteger(number)) {
        this.fail(flag, `${text} is too large`, `use at most ${Number.MAX_SAFE_INTEGER}`);
      }
      if (mode === 'revision') return number;
      const ms = number * HOUR_MS;
      if (!Number.isSafeInteger(ms)) {
        this.fail(
          flag,
          `${text} hours is too long`,
          'keep less history, e.g. --auto-compaction-retention=24',
        );
      }
      return ms;
    }
    if (mode === 'revision') {
      this.fail(
        flag,
        `"${text}" is not a whole number of revisions (--auto-compaction-mode is 'revision')`,
        'give a number of revisions, e.g. --auto-compaction-retention=10000, or use --auto-compaction-mode=periodic for a duration',
      );
    }
    const ms = parseGoDurationMs(text);
    if (ms === undefined) {
      this.fail(
        flag,
        `"${text}" is neither a whole number of hours nor a duration`,
        'write a number of hours (e.g. 1) or a duration with units ns, us, ms, s, m, h (e.g. 30m or 1h30m)',
      );
    }
    if (ms < 0) this.fail(flag, `${text} is negative`, 'use a positive duration, or 0 to disable');
    if (ms > 0 && ms < 1) {
      this.fail(
        flag,
        `${text} is shorter than a millisecond`,
        'keep at least 1ms of history, or 0 to disable',
      );
    }
    return Math.round(ms);
  }

  boolean(flag: string): boolean {
    const setting = this.values.get(flag);
    if (setting === undefined) return false;
    if (typeof setting.value === 'boolean') return setting.value;
    // The spellings Go's strconv.ParseBool accepts, as etcd's boolean flags do.
    const text = String(setting.value).trim();
    if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(text)) return true;
    if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(text)) return false;
    return this.fail(
      flag,
      `"${text}" is not true or false`,
      `write --${flag}=true or --${flag}=false`,
    );
  }

  urls(flag: string, fallback: string, use: UrlUse, allowEmpty = false): string[] {
    const setting = this.values.get(flag);
    const value =
      setting === undefined
        ? fallback
        : Array.isArray(setting.value)
          ? (setting.value as readonly string[])
          : this.text(flag, setting);
    return parseUrlList(value, {
      setting: flag,
      use,
      allowEmpty,
      ...(setting === undefined ? {} : { source: setting.source }),
    });
  }

  tls(
    prefix: '' | 'peer-',
    listenUrls: readonly string[],
    listenFlag: string,
    options: ParseOptions,
    warnings: string[],
  ): TlsSettings {
    const optionalPath = (flag: string): string | undefined => {
      const path = this.string(flag, '');
      if (path === '') return undefined;
      if (!(options.fileExists ?? existsSync)(path)) {
        this.fail(
          flag,
          `${path} does not exist`,
          'check the path (a relative path is resolved from the working directory)',
        );
      }
      return path;
    };
    const certFlag = `${prefix}cert-file`;
    const keyFlag = `${prefix}key-file`;
    const caFlag = `${prefix}trusted-ca-file`;
    const authFlag = `${prefix}client-cert-auth`;
    const certFile = optionalPath(certFlag);
    const keyFile = optionalPath(keyFlag);
    const trustedCaFile = optionalPath(caFlag);
    const clientCertAuth = this.boolean(authFlag);
    if ((certFile === undefined) !== (keyFile === undefined)) {
      const missing = certFile === undefined ? certFlag : keyFlag;
      const present = certFile === undefined ? keyFlag : certFlag;
      this.fail(
        missing,
        `--${present} is set but --${missing} is not`,
        `give both --${certFlag} and --${keyFlag}, or neither`,
      );
    }
    if (clientCertAuth && trustedCaFile === undefined) {
      this.fail(
        caFlag,
        `--${authFlag} is on, but without --${caFlag} no certificate can be verified`,
        `set --${caFlag} to the CA that signs the ${prefix === '' ? 'client' : 'peer'} certificates`,
      );
    }
    if (clientCertAuth && certFile === undefined) {
      this.fail(
        certFlag,
        `--${authFlag} is on, but certificates can only be asked for over TLS`,
        `set --${certFlag} and --${keyFlag}`,
      );
    }
    const httpsUrl = listenUrls.find((url) => url.startsWith('https://'));
    if (httpsUrl !== undefined && certFile === undefined) {
      this.fail(
        certFlag,
        `--${listenFlag} has ${httpsUrl}, but no TLS certificate is given`,
        `set --${certFlag} and --${keyFlag}, or use http://`,
      );
    }
    if (certFile !== undefined && httpsUrl === undefined) {
      warnings.push(
        `--${certFlag} is set but no --${listenFlag} URL is https://, so ${prefix === '' ? 'client' : 'peer'} traffic is not encrypted`,
      );
    }
    return { certFile, keyFile, trustedCaFile, clientCertAuth };
  }
}

const HOUR_MS = 3_600_000;

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: HOUR_MS,
};

/**
 * parseGoDurationMs reads a duration as Go's `time.ParseDuration` does — an optional
 * sign, then one or more decimal numbers (with optional fraction) each followed by a
 * unit (ns, us/µs, ms, s, m, h), e.g. `300ms`, `1.5h`, `2h45m`; `0` alone is allowed —
 * and returns it in milliseconds, or undefined if it is not one.
 */
export function parseGoDurationMs(text: string): number | undefined {
  const match = /^([-+]?)(.*)$/.exec(text);
  const sign = match?.[1] === '-' ? -1 : 1;
  let rest = match?.[2] ?? '';
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  while (rest !== '') {
    const part = /^(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/.exec(rest);
    if (part === null) return undefined;
    total += Number(part[1]) * DURATION_UNITS_MS[part[2]!]!;
    rest = rest.slice(part[0].length);
  }
  return sign * total;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
