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
  readonly requestDuration = new Histogram({
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
