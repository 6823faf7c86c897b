// How a bench run is shown: a table, JSON, and the progress bar. Pure functions.
import { renderTable } from '../cli/table.js';
import type { BenchResult } from './stats.js';

/** formatNumber prints a figure with thousands separators and `digits` decimals. */
export function formatNumber(value: number, digits = 0): string {
  return value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** formatMs prints milliseconds with precision fitting the size (µs below 10 ms). */
export function formatMs(ms: number): string {
  if (ms >= 100) return ms.toFixed(1);
  if (ms >= 10) return ms.toFixed(2);
  return ms.toFixed(3);
}

function settings(result: BenchResult): string {
  const parts = [
    `${result.workload}`,
    `endpoints ${result.endpoints.join(',')}`,
    `conns ${result.conns}`,
    `clients ${result.clients}`,
    `key ${result.keySize} B`,
    `value ${result.valSize} B`,
    `key space ${result.keySpaceSize}${result.sequentialKeys ? ' (sequential)' : ''}`,
    ...Object.entries(result.details).map(([name, value]) => `${name} ${String(value)}`),
  ];
  return parts.join(', ');
}

/** formatReport is the human-readable report: settings, a one-row table, errors, CPU. */
export function formatReport(result: BenchResult): string {
  if (result.status === 'unsupported') {
    return `${settings(result)}\n\n${result.workload}: unsupported by this server — ${result.unsupported ?? 'no reason given'}\n`;
  }
  const lat = result.latencyMs;
  const unit = result.workload === 'watch-latency' ? 'EVENTS' : 'REQUESTS';
  const table = renderTable(
    [unit, 'ERRORS', 'SECONDS', 'PER SEC', 'MEAN MS', 'P50', 'P90', 'P99', 'P99.9', 'MAX'],
    [
      [
        formatNumber(result.requests),
        formatNumber(result.errors),
        result.durationSec.toFixed(2),
        formatNumber(result.throughput, 1),
        formatMs(lat.mean),
        formatMs(lat.p50),
        formatMs(lat.p90),
        formatMs(lat.p99),
        formatMs(lat.p999),
        formatMs(lat.max),
      ],
    ],
  );
  const lines = [settings(result), '', table];
  const codes = Object.keys(result.errorsByCode).sort();
  if (codes.length > 0) {
    lines.push('', 'Errors by code:');
    for (const code of codes) {
      lines.push(
        `  ${code}: ${formatNumber(result.errorsByCode[code] ?? 0)}  (${result.errorSamples[code] ?? ''})`,
      );
    }
  }
  const cpu = result.clientCpu;
  lines.push(
    '',
    `Client CPU: ${cpu.percent.toFixed(1)}% of one core (user ${formatNumber(cpu.userMs)} ms, system ${formatNumber(cpu.systemMs)} ms)`,
  );
  return `${lines.join('\n')}\n`;
}

/** formatJson is the `--json` output: the result as one JSON object and a newline. */
export function formatJson(result: BenchResult): string {
  return `${JSON.stringify(result)}\n`;
}

/** ProgressState is what the progress bar shows. */
export interface ProgressState {
  /** done is the number of measured requests finished so far. */
  readonly done: number;
  /** errors is the number of those that failed. */
  readonly errors: number;
  /** elapsedMs is the measured time so far (negative while warming up). */
  readonly elapsedMs: number;
  /** total is the target count, when running a total. */
  readonly total?: number | undefined;
  /** durationMs is the target time, when running for a duration. */
  readonly durationMs?: number | undefined;
  /** label is shown before the bar (workload, or a phase like `prefill`). */
  readonly label: string;
}

/**
 * renderProgress draws one line, e.g.
 * `put [########------------]  40%  4,000/10,000  2,345 req/s  0 errors  1.7s`.
 */
export function renderProgress(state: ProgressState, width = 24): string {
  if (state.elapsedMs < 0) {
    return `${state.label} warming up… ${(-state.elapsedMs / 1000).toFixed(1)}s`;
  }
  let fraction = 0;
  if (state.total !== undefined && state.total > 0) fraction = state.done / state.total;
  else if (state.durationMs !== undefined && state.durationMs > 0) {
    fraction = state.elapsedMs / state.durationMs;
  }
  fraction = Math.min(1, Math.max(0, fraction));
  const filled = Math.round(fraction * width);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
  const rate = state.elapsedMs > 0 ? (state.done / state.elapsedMs) * 1000 : 0;
  const count =
    state.total === undefined
      ? formatNumber(state.done)
      : `${formatNumber(state.done)}/${formatNumber(state.total)}`;
  return [
    `${state.label} ${bar}`,
    `${String(Math.floor(fraction * 100)).padStart(3)}%`,
    count,
    `${formatNumber(rate)} req/s`,
    `${formatNumber(state.errors)} errors`,
    `${(state.elapsedMs / 1000).toFixed(1)}s`,
  ].join('  ');
}
