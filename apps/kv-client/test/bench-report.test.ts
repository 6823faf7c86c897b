import { KV_SERVICE, type PutRequest, type RangeRequest, type TxnRequest } from '@raftkit/rpc/etcd';
import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../src/bench/args.js';
import {
  encodePutRequest,
  encodeRangeRequest,
  encodeTxnPutRequest,
  KeySource,
  makeValue,
} from '../src/bench/encode.js';
import {
  formatJson,
  formatMs,
  formatNumber,
  formatReport,
  renderProgress,
} from '../src/bench/report.js';
import { runWorkload } from '../src/bench/runner.js';
import { type BenchResult, codeName, cpuSummary, Recorder, summarize } from '../src/bench/stats.js';
import { startFakeServer } from './fake-server.js';

const text = (bytes: Uint8Array | undefined): string => Buffer.from(bytes ?? []).toString();

describe('bench request encoding', () => {
  it('writes the etcd messages the codec reads back', () => {
    const put = KV_SERVICE.put.requestDeserialize(
      encodePutRequest(Buffer.from('00000042'), makeValue(300)),
    ) as PutRequest;
    expect(text(put.key)).toBe('00000042');
    expect(text(put.value)).toBe('v'.repeat(300)); // 300 > 127: a two-byte length
    const empty = KV_SERVICE.put.requestDeserialize(
      encodePutRequest(Buffer.from('k'), makeValue(0)),
    ) as PutRequest;
    expect(text(empty.value)).toBe('');

    const linearizable = KV_SERVICE.range.requestDeserialize(
      encodeRangeRequest(Buffer.from('key'), false),
    ) as RangeRequest;
    expect(text(linearizable.key)).toBe('key');
    expect(linearizable.serializable ?? false).toBe(false);
    const serializable = KV_SERVICE.range.requestDeserialize(
      encodeRangeRequest(Buffer.from('key'), true),
    ) as RangeRequest;
    expect(serializable.serializable).toBe(true);

    const txn = KV_SERVICE.txn.requestDeserialize(
      encodeTxnPutRequest([Buffer.from('a'), Buffer.from('b')], makeValue(200)),
    ) as TxnRequest;
    expect(txn.compare ?? []).toEqual([]);
    expect(txn.failure ?? []).toEqual([]);
    const puts = (txn.success ?? []).map((op) => ('requestPut' in op ? op.requestPut : undefined));
    expect(puts.map((p) => text(p?.key))).toEqual(['a', 'b']);
    expect(puts.map((p) => p?.value?.length)).toEqual([200, 200]);
  });

  it('hands out padded keys, in order or at random within the key space', () => {
    const sequential = new KeySource(8, 3, true);
    expect([1, 2, 3, 4].map(() => sequential.next().toString())).toEqual([
      '00000000',
      '00000001',
      '00000002',
      '00000000',
    ]);
    const values = [0, 0.5, 0.999];
    const random = new KeySource(4, 10, false, () => values.shift() ?? 0);
    expect([1, 2, 3].map(() => random.next().toString())).toEqual(['0000', '0005', '0009']);
    const distinct = new KeySource(2, 5, true).distinct(5).map(String);
    expect(new Set(distinct).size).toBe(5);
  });
});

function result(overrides: Partial<BenchResult> = {}): BenchResult {
  return {
    workload: 'put',
    status: 'ok',
    endpoints: ['127.0.0.1:2379'],
    conns: 2,
    clients: 16,
    keySize: 8,
    valSize: 256,
    keySpaceSize: 1000,
    sequentialKeys: false,
    details: {},
    requests: 12_345,
    errors: 3,
    errorsByCode: { UNAVAILABLE: 2, DEADLINE_EXCEEDED: 1 },
    errorSamples: {
      UNAVAILABLE: 'etcdserver: leader changed',
      DEADLINE_EXCEEDED: 'Deadline exceeded',
    },
    startedAt: 1_000,
    endedAt: 11_000,
    durationSec: 10,
    throughput: 1234.5,
    latencyMs: {
      count: 12_345,
      min: 0.5,
      mean: 12.3456,
      p50: 10.5,
      p90: 20,
      p99: 123.456,
      p999: 200,
      max: 250.5,
    },
    clientCpu: { userMs: 1500, systemMs: 500, percent: 20 },
    ...overrides,
  };
}

describe('bench statistics', () => {
  it('summarizes latencies from the HDR histogram in milliseconds', () => {
    const recorder = new Recorder();
    for (let i = 1; i <= 1000; i++) recorder.success(i / 10); // 0.1 … 100 ms
    const summary = recorder.latency();
    expect(summary.count).toBe(1000);
    expect(summary.min).toBeCloseTo(0.1, 3);
    expect(summary.max).toBeCloseTo(100, 0);
    // 3 significant digits: within 0.1% of the exact percentile
    expect(Math.abs(summary.p50 - 50) / 50).toBeLessThan(0.002);
    expect(Math.abs(summary.p90 - 90) / 90).toBeLessThan(0.002);
    expect(Math.abs(summary.p99 - 99) / 99).toBeLessThan(0.002);
    expect(Math.abs(summary.p999 - 99.9) / 99.9).toBeLessThan(0.002);
    expect(summary.mean).toBeCloseTo(50.05, 0);
    const single = new Recorder();
    single.success(85.16); // bucket top 85.18 would exceed the max
    expect(single.latency().p999).toBe(single.latency().max);
    expect(summarize(new Recorder().histogram)).toEqual({
      count: 0,
      min: 0,
      mean: 0,
      p50: 0,
      p90: 0,
      p99: 0,
      p999: 0,
      max: 0,
    });
  });

  it('counts errors by gRPC code and keeps the first message', () => {
    const recorder = new Recorder();
    recorder.failure(codeName(14), 'first');
    recorder.failure(codeName(14), 'second');
    recorder.failure(codeName(4), 'late');
    expect(recorder.errors).toBe(3);
    expect(recorder.errorsByCode).toEqual({ UNAVAILABLE: 2, DEADLINE_EXCEEDED: 1 });
    expect(recorder.errorSamples.UNAVAILABLE).toBe('first');
    expect(codeName(undefined)).toBe('UNKNOWN');
    expect(codeName(99)).toBe('CODE_99');
  });

  it('turns cpuUsage into a share of one core', () => {
    expect(cpuSummary({ user: 1_500_000, system: 500_000 }, 4000)).toEqual({
      userMs: 1500,
      systemMs: 500,
      percent: 50,
    });
    expect(cpuSummary({ user: 0, system: 0 }, 0).percent).toBe(0);
  });
});

describe('bench report', () => {
  it('prints settings, a one-row table, errors by code and client CPU', () => {
    const report = formatReport(result({ details: { consistency: 'linearizable' } }));
    expect(report).toBe(
      [
        'put, endpoints 127.0.0.1:2379, conns 2, clients 16, key 8 B, value 256 B, key space 1000, consistency linearizable',
        '',
        '+----------+--------+---------+---------+---------+-------+-------+-------+-------+-------+',
        '| REQUESTS | ERRORS | SECONDS | PER SEC | MEAN MS |  P50  |  P90  |  P99  | P99.9 |  MAX  |',
        '+----------+--------+---------+---------+---------+-------+-------+-------+-------+-------+',
        '|   12,345 |      3 |   10.00 | 1,234.5 |   12.35 | 10.50 | 20.00 | 123.5 | 200.0 | 250.5 |',
        '+----------+--------+---------+---------+---------+-------+-------+-------+-------+-------+',
        '',
        'Errors by code:',
        '  DEADLINE_EXCEEDED: 1  (Deadline exceeded)',
        '  UNAVAILABLE: 2  (etcdserver: leader changed)',
        '',
        'Client CPU: 20.0% of one core (user 1,500 ms, system 500 ms)',
        '',
      ].join('\n'),
    );
  });

  it('says unsupported plainly', () => {
    const report = formatReport(
      result({
        workload: 'watch-latency',
        status: 'unsupported',
        unsupported: 'the Watch service answers UNIMPLEMENTED',
      }),
    );
    expect(report).toContain(
      'watch-latency: unsupported by this server — the Watch service answers UNIMPLEMENTED',
    );
    expect(report).not.toContain('P99');
  });

  it('prints JSON as one line that parses back', () => {
    const json = formatJson(result());
    expect(json.endsWith('}\n')).toBe(true);
    expect(json.trim().includes('\n')).toBe(false);
    expect(JSON.parse(json)).toEqual(result());
  });

  it('formats numbers and milliseconds', () => {
    expect(formatNumber(1234567.891, 1)).toBe('1,234,567.9');
    expect(formatMs(0.1234)).toBe('0.123');
    expect(formatMs(12.345)).toBe('12.35'); // toFixed rounding
    expect(formatMs(123.45)).toBe('123.5');
  });

  it('draws a progress bar for totals, durations and warm-up', () => {
    expect(
      renderProgress({ label: 'put', done: 2500, errors: 1, elapsedMs: 2000, total: 10_000 }, 8),
    ).toBe('put [##------]   25%  2,500/10,000  1,250 req/s  1 errors  2.0s');
    expect(
      renderProgress(
        { label: 'range', done: 300, errors: 0, elapsedMs: 3000, durationMs: 2000 },
        4,
      ),
    ).toBe('range [####]  100%  300  100 req/s  0 errors  3.0s');
    expect(renderProgress({ label: 'put', done: 0, errors: 0, elapsedMs: -1500 })).toBe(
      'put warming up… 1.5s',
    );
  });
});

describe('bench runner against an in-process server', () => {
  it('runs a total, counts errors by code, and reports watch as unsupported', async () => {
    const server = await startFakeServer();
    try {
      let calls = 0;
      server.behaviour = (method) =>
        ++calls % 5 === 0
          ? { error: { code: 14, details: 'etcdserver: leader changed' } }
          : { response: method === 'put' ? { header: null, prevKv: null } : { header: null } };
      const parse = (argv: string[]) => {
        const parsed = parseBenchArgs(argv);
        if (parsed.help) throw new Error('help');
        return parsed;
      };
      const put = await runWorkload(
        parse([
          'bench',
          'put',
          '--endpoints',
          server.endpoint,
          '--clients',
          '4',
          '--conns',
          '2',
          '--total',
          '50',
          '--val-size',
          '16',
          '--key-space-size',
          '10',
        ]),
      );
      expect(put.status).toBe('ok');
      expect(put.requests + put.errors).toBe(50);
      expect(put.errors).toBe(10);
      expect(put.errorsByCode).toEqual({ UNAVAILABLE: 10 });
      expect(put.latencyMs.count).toBe(40);
      expect(server.received.filter((r) => r.method === 'put')).toHaveLength(50);
      const first = server.received[0]?.request as PutRequest;
      expect(first.value?.length).toBe(16);
      expect(text(first.key)).toMatch(/^0000000\d$/);

      // A server without a Watch service (the fake has one; this one refuses).
      server.watch = (_request, stream) => stream.fail(12, 'unknown service etcdserverpb.Watch'); // UNIMPLEMENTED
      const watch = await runWorkload(
        parse([
          'bench',
          'watch-latency',
          '--endpoints',
          server.endpoint,
          '--watchers',
          '2',
          '--total',
          '5',
        ]),
      );
      expect(watch.status).toBe('unsupported');
      expect(watch.unsupported).toMatch(/UNIMPLEMENTED/);
      expect(formatReport(watch)).toContain('unsupported by this server');
    } finally {
      await server.stop();
    }
  });
});
