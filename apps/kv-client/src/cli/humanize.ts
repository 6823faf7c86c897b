// etcdctl prints sizes with go-humanize's Bytes (SI units, base 1000); reproduce it
// digit for digit, including Go's round-half-to-even in "%.0f".
const SUFFIXES = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];

function formatNoDecimals(value: number): string {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction === 0.5) return String(floor % 2 === 0 ? floor : floor + 1);
  return String(Math.round(value));
}

/** humanizeBytes renders a byte count as go-humanize's `Bytes` does: `20 kB`, `1.5 MB`, `7 B`. */
export function humanizeBytes(size: bigint | number): string {
  const n = Number(size);
  if (n < 10) return `${n} B`;
  const exponent = Math.min(Math.floor(Math.log(n) / Math.log(1000)), SUFFIXES.length - 1);
  const suffix = SUFFIXES[exponent] as string;
  const value = Math.floor((n / 1000 ** exponent) * 10 + 0.5) / 10;
  return value < 10 ? `${value.toFixed(1)} ${suffix}` : `${formatNoDecimals(value)} ${suffix}`;
}
