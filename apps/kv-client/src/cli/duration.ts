const UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * parseDuration reads a Go-style duration as etcdctl's flags take it (`500ms`, `2s`,
 * `1m30s`, `1.5s`) and returns milliseconds; a bare number is seconds. It throws a
 * TypeError for anything else.
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  const pattern = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (const match of trimmed.matchAll(pattern)) {
    total += Number(match[1]) * (UNITS[match[2] as string] as number);
    consumed += match[0].length;
  }
  if (consumed === 0 || consumed !== trimmed.length) {
    throw new TypeError(`invalid duration "${text}" (use e.g. 500ms, 2s, 1m)`);
  }
  return total;
}
