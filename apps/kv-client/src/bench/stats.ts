// Latency recording (HDR histogram, microseconds) and the summary a run produces.
import * as grpc from '@grpc/grpc-js';
import { build, type Histogram } from 'hdr-histogram-js';

/** LatencySummary is a distribution in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly min: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** CpuSummary is the load generator's own CPU time over the measured interval. */
export interface CpuSummary {
  readonly userMs: number;
  readonly systemMs: number;
  /** percent of one core over the measured wall time. */
  readonly percent: number;
}

/** BenchResult is what one `raftkitctl bench` run reports (and prints with --json). */
export interface BenchResult {
  readonly workload: string;
  /** status is 'unsupported' when the server lacks the API the workload needs. */
  readonly status: 'ok' | 'unsupported';
  /** unsupported says why, when status is 'unsupported'. */
  readonly unsupported?: string;
  readonly endpoints: readonly string[];
  readonly conns: number;
  readonly clients: number;
  readonly keySize: number;
  readonly valSize: number;
  readonly keySpaceSize: number;
  readonly sequentialKeys: boolean;
  /** details holds workload-specific settings (consistency, txnOps, watchers, rate). */
  readonly details: Readonly<Record<string, string | number | boolean>>;
  /** requests is the number of successful measured requests (events for watch-latency). */
  readonly requests: number;
  /** errors is the number of failed measured requests. */
  readonly errors: number;
  /** errorsByCode counts failures by gRPC status name (`UNAVAILABLE`, …). */
  readonly errorsByCode: Readonly<Record<string, number>>;
  /** errorSamples holds the first message seen for each code. */
  readonly errorSamples: Readonly<Record<string, string>>;
  /** startedAt and endedAt bound the measured interval (epoch milliseconds). */
  readonly startedAt: number;
  /** endedAt is when the last measured request finished (epoch milliseconds). */
  readonly endedAt: number;
  /** durationSec is the measured wall time. */
  readonly durationSec: number;
  /** throughput is successful requests per second. */
  readonly throughput: number;
  /** latencyMs is the distribution of successful requests' latencies. */
  readonly latencyMs: LatencySummary;
  /** clientCpu is the load generator's CPU over the measured interval. */
  readonly clientCpu: CpuSummary;
}

/** codeName names a gRPC status code (`14` → `UNAVAILABLE`). */
export function codeName(code: number | undefined): string {
  if (code === undefined) return 'UNKNOWN';
  const name = (grpc.status as unknown as Record<number, string | undefined>)[code];
  return name ?? `CODE_${code}`;
}

/**
 * Recorder collects one run's latencies (µs resolution, 3 significant digits: a
 * recorded value is within 0.1% of the true one) and errors.
 */
export class Recorder {
  readonly histogram: Histogram = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });
  readonly errorsByCode: Record<string, number> = {};
  readonly errorSamples: Record<string, string> = {};
  errors = 0;

  /** success records one successful request that took `ms` milliseconds. */
  success(ms: number): void {
    this.histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  /** failure counts one failed request. */
  failure(name: string, message: string): void {
    this.errors++;
    this.errorsByCode[name] = (this.errorsByCode[name] ?? 0) + 1;
    if (this.errorSamples[name] === undefined) this.errorSamples[name] = message;
  }

  /** count is the number of successes recorded. */
  get count(): number {
    return this.histogram.totalCount;
  }

  /** latency summarizes the recorded latencies in milliseconds. */
  latency(): LatencySummary {
    return summarize(this.histogram);
  }
}

const round3 = (value: number): number => Math.round(value * 1000) / 1000;

/** summarize reads the percentiles of a µs histogram, in ms rounded to the µs. */
export function summarize(histogram: Histogram): LatencySummary {
  const count = histogram.totalCount;
  if (count === 0) return { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  // A percentile is reported as the top of its histogram bucket, which can exceed the
  // largest value actually recorded; it is capped there.
  const max = histogram.maxValue;
  const at = (percentile: number): number =>
    round3(Math.min(histogram.getValueAtPercentile(percentile), max) / 1000);
  return {
    count,
    min: round3(histogram.minNonZeroValue / 1000),
    mean: round3(histogram.mean / 1000),
    p50: at(50),
    p90: at(90),
    p99: at(99),
    p999: at(99.9),
    max: round3(max / 1000),
  };
}

/** cpuSummary turns a process.cpuUsage() difference (µs) into a CpuSummary. */
export function cpuSummary(usage: NodeJS.CpuUsage, wallMs: number): CpuSummary {
  const userMs = usage.user / 1000;
  const systemMs = usage.system / 1000;
  return {
    userMs: Math.round(userMs),
    systemMs: Math.round(systemMs),
    percent: wallMs > 0 ? Math.round(((userMs + systemMs) / wallMs) * 1000) / 10 : 0,
  };
}
