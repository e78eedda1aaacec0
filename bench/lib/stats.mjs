// Latency statistics over samples in milliseconds. Every function takes either an array of
// samples or a histogram: an array of `[ms, count]` pairs (what load-worker.mjs emits for runs
// too large to ship every sample). Percentiles are nearest-rank: always a measured value.

/** Sorted `[ms, count]` pairs for samples or a histogram. */
function pairs(samples) {
  if (samples.length > 0 && Array.isArray(samples[0])) {
    return [...samples].sort((a, b) => a[0] - b[0]);
  }
  return [...samples].sort((a, b) => a - b).map((ms) => [ms, 1]);
}

/** How many samples; 0 for none. */
export function count(samples) {
  return pairs(samples).reduce((n, [, c]) => n + c, 0);
}

/** The nearest-rank `q` quantile (0 < q <= 1); NaN for no samples. */
export function percentile(samples, q) {
  const sorted = pairs(samples);
  const n = sorted.reduce((sum, [, c]) => sum + c, 0);
  if (n === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil(q * n));
  let seen = 0;
  for (const [ms, c] of sorted) {
    seen += c;
    if (seen >= rank) return ms;
  }
  return sorted.at(-1)[0];
}

/** The median (nearest-rank, so the lower middle of an even count); NaN for no samples. */
export const median = (samples) => percentile(samples, 0.5);

/** The 99th percentile (nearest-rank); NaN for no samples. */
export const p99 = (samples) => percentile(samples, 0.99);

/** The arithmetic mean; NaN for no samples. */
export function mean(samples) {
  let sum = 0;
  let n = 0;
  for (const [ms, c] of pairs(samples)) {
    sum += ms * c;
    n += c;
  }
  return n === 0 ? Number.NaN : sum / n;
}

/** Completed calls per second of wall time. */
export function callsPerSec(calls, wallMs) {
  return wallMs > 0 ? (calls * 1000) / wallMs : Number.NaN;
}

/** `{ n, medianMs, p99Ms, meanMs, minMs, maxMs, callsPerSec }` for samples over `wallMs`. */
export function summarize(samples, wallMs) {
  const sorted = pairs(samples);
  const n = sorted.reduce((sum, [, c]) => sum + c, 0);
  return {
    n,
    medianMs: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    meanMs: mean(sorted),
    minMs: n === 0 ? Number.NaN : sorted[0][0],
    maxMs: n === 0 ? Number.NaN : sorted.at(-1)[0],
    callsPerSec: callsPerSec(n, wallMs),
  };
}

/** `a / b` as a number, or NaN when either is missing, not finite, or `b` is 0. */
export function ratio(a, b) {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return Number.NaN;
  return a / b;
}

/** A ratio as "1.23x" ("-" when NaN). */
export function formatRatio(r) {
  return Number.isFinite(r) ? `${r.toFixed(2)}x` : "-";
}

/** Milliseconds with 3 significant digits, at least 3 decimals below 1 ms ("-" when NaN). */
export function formatMs(ms) {
  if (!Number.isFinite(ms)) return "-";
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 1) return `${ms.toPrecision(3)} ms`;
  return `${ms.toFixed(3)} ms`;
}

/** A rate with thousands separators and no decimals ("-" when NaN). */
export function formatRate(perSec) {
  return Number.isFinite(perSec) ? `${Math.round(perSec).toLocaleString("en-US")}/s` : "-";
}
