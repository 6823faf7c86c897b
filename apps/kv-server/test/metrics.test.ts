import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LightHistogram, ServerMetrics } from '../src/metrics.js';

const BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

describe('LightHistogram', () => {
  it('exposes exactly what a prom-client Histogram exposes for the same observations', async () => {
    const config = {
      name: 'test_request_duration_seconds',
      help: 'Client request latency by method.',
      labelNames: ['method', 'code'] as const,
      buckets: BUCKETS,
    };
    const promRegistry = new Registry();
    const lightRegistry = new Registry();
    const reference = new Histogram({
      ...config,
      labelNames: [...config.labelNames],
      registers: [promRegistry],
    });
    const light = new LightHistogram({ ...config, registers: [lightRegistry] });
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const methods = ['Put', 'Range', 'Txn', 'DeleteRange'];
    const values = [...BUCKETS, 0, 7, 1e-9];
    for (let i = 0; i < 2000; i++) {
      const labels = {
        method: methods[Math.floor(random() * methods.length)]!,
        code: String([0, 0, 0, 14, 4][Math.floor(random() * 5)]),
      };
      const value = i < values.length ? values[i]! : random() * random() * 8;
      reference.observe(labels, value);
      light.observe(labels, value);
    }
    expect(await lightRegistry.metrics()).toBe(await promRegistry.metrics());
    light.reset();
    reference.reset();
    expect(await lightRegistry.metrics()).toBe(await promRegistry.metrics());
  });

  it('refuses a value that is not a number, as prom-client does', () => {
    const light = new LightHistogram({
      name: 'x',
      help: 'x',
      labelNames: ['method'],
      buckets: [1],
      registers: [],
    });
    expect(() => light.observe({ method: 'Put' }, Number.NaN)).toThrow(TypeError);
  });

  it('serves the request duration on the member registry', async () => {
    const metrics = new ServerMetrics();
    metrics.requestDuration.observe({ method: 'Put', code: '0' }, 0.003);
    const text = await metrics.registry.metrics();
    expect(text).toContain('# TYPE raftkit_grpc_request_duration_seconds histogram');
    expect(text).toContain(
      'raftkit_grpc_request_duration_seconds_bucket{le="0.005",method="Put",code="0"} 1',
    );
    expect(text).toContain('raftkit_grpc_request_duration_seconds_count{method="Put",code="0"} 1');
  });

  it('exports the lease and watch gauges', async () => {
    const metrics = new ServerMetrics();
    metrics.leases.set(3);
    metrics.leasesExpired.inc();
    metrics.watchStreams.set(2);
    metrics.watchers.set(5);
    metrics.watchQueuedEvents.set(7);
    const text = await metrics.registry.metrics();
    for (const line of [
      'raftkit_lease_count 3',
      'raftkit_lease_expired_total 1',
      'raftkit_watch_streams 2',
      'raftkit_watchers 5',
      'raftkit_watch_queued_events 7',
    ]) {
      expect(text).toContain(line);
    }
  });
});
