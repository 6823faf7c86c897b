import { createServer, type Server } from 'node:http';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * ServerMetrics are the Prometheus metrics a member exports at `/metrics`, named after
 * etcd's where one exists (etcd_server_*, etcd_disk_wal_fsync_duration_seconds) so
 * existing dashboards read them, under a `raftkit_` prefix otherwise.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly proposalsCommitted = new Counter({
    name: 'raftkit_server_proposals_committed_total',
    help: 'Proposals this member saw committed and applied.',
    registers: [this.registry],
  });
  readonly proposalsApplied = new Counter({
    name: 'raftkit_server_proposals_applied_total',
    help: 'Entries applied to the KV state machine.',
    registers: [this.registry],
  });
  readonly proposalsFailed = new Counter({
    name: 'raftkit_server_proposals_failed_total',
    help: 'Proposals that failed (dropped, lost, timed out).',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly leaderChanges = new Counter({
    name: 'raftkit_server_leader_changes_seen_total',
    help: 'Leader changes this member has seen.',
    registers: [this.registry],
  });
  readonly hasLeader = new Gauge({
    name: 'raftkit_server_has_leader',
    help: '1 if this member knows a leader, else 0.',
    registers: [this.registry],
  });
  readonly isLeader = new Gauge({
    name: 'raftkit_server_is_leader',
    help: '1 if this member is the leader, else 0.',
    registers: [this.registry],
  });
  readonly term = new Gauge({
    name: 'raftkit_server_term',
    help: 'Current raft term.',
    registers: [this.registry],
  });
  readonly commitIndex = new Gauge({
    name: 'raftkit_server_commit_index',
    help: 'Raft commit index.',
    registers: [this.registry],
  });
  readonly appliedIndex = new Gauge({
    name: 'raftkit_server_applied_index',
    help: 'Index applied to the state machine.',
    registers: [this.registry],
  });
  readonly fsyncDuration = new Histogram({
    name: 'raftkit_disk_wal_fsync_duration_seconds',
    help: 'Duration of one synced LogStore.save (one Ready).',
    buckets: [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly peerSendFailures = new Gauge({
    name: 'raftkit_network_peer_send_failures',
    help: 'Messages to peers dropped by the transport (queue full, unreachable), since start.',
    registers: [this.registry],
  });
  readonly leases = new Gauge({
    name: 'raftkit_lease_count',
    help: 'Leases granted and not yet revoked (this member’s applied state).',
    registers: [this.registry],
  });
  readonly leasesExpired = new Counter({
    name: 'raftkit_lease_expired_total',
    help: 'Revocations of expired leases this member proposed as the leader.',
    registers: [this.registry],
  });
  readonly watchStreams = new Gauge({
    name: 'raftkit_watch_streams',
    help: 'Watch streams open on this member.',
    registers: [this.registry],
  });
  readonly watchers = new Gauge({
    name: 'raftkit_watchers',
    help: 'Watchers on this member’s watch streams.',
    registers: [this.registry],
  });
  readonly watchQueuedEvents = new Gauge({
    name: 'raftkit_watch_queued_events',
    help: 'Events waiting to be sent on this member’s watch streams.',
    registers: [this.registry],
  });
  /** Observed once per client request, so a LightHistogram rather than prom-client's. */
  readonly requestDuration = new LightHistogram({
    name: 'raftkit_grpc_request_duration_seconds',
    help: 'Client request latency by method.',
    labelNames: ['method', 'code'],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}

/** LightHistogramConfig is a labelled histogram's definition, as prom-client's. */
export interface LightHistogramConfig<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  /** Upper bounds, ascending (the +Inf bucket is implicit). */
  readonly buckets: readonly number[];
  readonly registers: readonly Registry[];
}

interface Series {
  readonly labels: Readonly<Record<string, string>>;
  /** Observations per bucket (not cumulative); values above every bound count only in +Inf. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * LightHistogram is a labelled Prometheus histogram for the request path: `observe`
 * costs one string key, one Map lookup and a scan of the bounds. prom-client's Histogram
 * validates the labels object, sorts and hashes it and creates a closure on every call,
 * which profiles put at several µs per request on the leader. It registers with
 * prom-client's Registry and exposes exactly the lines a prom-client Histogram with the
 * same name, help, labels and buckets would (`_bucket{le=…}` cumulative, `+Inf`, `_sum`,
 * `_count`, series in the order first observed).
 */
export class LightHistogram<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly labelNames: readonly L[];
  private readonly bounds: readonly number[];
  private series = new Map<string, Series>();

  constructor(config: LightHistogramConfig<L>) {
    this.name = config.name;
    this.help = config.help;
    this.labelNames = [...config.labelNames];
    this.bounds = [...config.buckets];
    for (const registry of config.registers) {
      registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
    }
  }

  /** observe records one value for a label set (labels not in labelNames are ignored). */
  observe(labels: Readonly<Record<L, string>>, value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    let key = '';
    for (const name of this.labelNames) key += `${labels[name]}\u0000`;
    let series = this.series.get(key);
    if (series === undefined) {
      const copy: Record<string, string> = {};
      for (const name of this.labelNames) copy[name] = String(labels[name]);
      series = { labels: copy, counts: new Float64Array(this.bounds.length), sum: 0, count: 0 };
      this.series.set(key, series);
    }
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        series.counts[i]!++;
        break;
      }
    }
    series.sum += value;
    series.count++;
  }

  /** reset forgets every observation (prom-client's `reset`). */
  reset(): void {
    this.series = new Map();
  }

  /** get is what the Registry reads: prom-client's histogram shape. */
  async get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: { labels: Record<string, string | number>; value: number; metricName: string }[];
  }> {
    const values: {
      labels: Record<string, string | number>;
      value: number;
      metricName: string;
    }[] = [];
    const bucket = `${this.name}_bucket`;
    for (const series of this.series.values()) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += series.counts[i]!;
        values.push({
          labels: { le: bound, ...series.labels },
          value: cumulative,
          metricName: bucket,
        });
      });
      values.push(
        { labels: { le: '+Inf', ...series.labels }, value: series.count, metricName: bucket },
        { labels: { ...series.labels }, value: series.sum, metricName: `${this.name}_sum` },
        { labels: { ...series.labels }, value: series.count, metricName: `${this.name}_count` },
      );
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    };
  }
}

/** HealthProbe reports whether the member is healthy (it knows a leader) and why not. */
export type HealthProbe = () => { healthy: boolean; reason: string };

/**
 * startMetricsServer serves `/metrics` (Prometheus text) and `/health` (etcd's shape:
 * `{"health":"true"}` with 200, or 503 and the reason) on each `--listen-metrics-urls`.
 */
export async function startMetricsServer(
  url: string,
  metrics: ServerMetrics,
  health: HealthProbe,
): Promise<Server> {
  const { hostname, port } = new URL(url);
  const server = createServer((request, response) => {
    if (request.url === '/metrics') {
      metrics.registry.metrics().then(
        (text) => {
          response.writeHead(200, { 'content-type': metrics.registry.contentType });
          response.end(text);
        },
        (error: unknown) => {
          response.writeHead(500);
          response.end(String(error));
        },
      );
      return;
    }
    if (request.url === '/health') {
      const { healthy, reason } = health();
      response.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ health: String(healthy), reason }));
      return;
    }
    response.writeHead(404);
    response.end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(port), hostname.replace(/^\[|\]$/g, ''), () => resolve());
  });
  return server;
}
