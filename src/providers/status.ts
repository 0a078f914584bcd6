import type { StatusReport, StatusRow } from './provider.js';

/**
 * Lambda's list prices (requests and compute per GB-second, by architecture), used for every
 * estimate `status` gives, the local provider's included (what the same traffic would cost on
 * Lambda). Source: https://aws.amazon.com/lambda/pricing/, US East (N. Virginia), first tier, as
 * copies of that page quote them (the page itself cannot be read from here), checked 2026-12-01.
 * Only that region is in the table: others are estimated at its prices, and said to be.
 */
export const LAMBDA_PRICES = {
  source: 'https://aws.amazon.com/lambda/pricing/ (list prices, us-east-1, first tier; checked 2026-12-01)',
  region: 'us-east-1',
  perMillionRequests: 0.2,
  perGbSecond: { x86_64: 0.0000166667, arm64: 0.0000133334 },
} as const;

/** List-price cost of `invocations` averaging `averageMs` at `memoryMb` (free tier not subtracted). */
export function estimateCost(o: { invocations: number; averageMs: number | null; memoryMb: number; arch: 'x86_64' | 'arm64' }): number {
  const gbSeconds = o.invocations * ((o.averageMs ?? 0) / 1000) * (o.memoryMb / 1024);
  return (o.invocations / 1e6) * LAMBDA_PRICES.perMillionRequests + gbSeconds * LAMBDA_PRICES.perGbSecond[o.arch];
}

/** The nearest-rank percentile of sorted values (null when there are none). */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** A row from raw request figures (latencies in ms, any order). */
export function rowOf(version: string, weight: number, r: { latencies: number[]; errors: number; coldStarts: number | null; throttles: number | null }, cost: (averageMs: number | null, invocations: number) => number): StatusRow {
  const sorted = [...r.latencies].sort((a, b) => a - b);
  const invocations = sorted.length;
  const averageMs = invocations ? sorted.reduce((a, b) => a + b, 0) / invocations : null;
  return {
    version,
    weight,
    invocations,
    errors: r.errors,
    errorRate: invocations ? r.errors / invocations : 0,
    throttles: r.throttles,
    coldStarts: r.coldStarts,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    averageMs,
    maxMemoryMb: null,
    costUsd: cost(averageMs, invocations),
  };
}

/** Requests and p99 per `stepMs` bucket over the range, oldest first, from raw request times and latencies. */
export function seriesOfRequests(requests: { time: number; latency: number }[], range: { since: number; until: number }, stepMs: number): StatusReport['series'] {
  const buckets = Math.ceil((range.until - range.since) / stepMs);
  return Array.from({ length: buckets }, (_, i) => {
    const from = range.since + i * stepMs;
    const inside = requests.filter((r) => r.time >= from && r.time < from + stepMs).map((r) => r.latency).sort((a, b) => a - b);
    return { time: new Date(from).toISOString(), requests: inside.length, p99: percentile(inside, 99) };
  });
}

const BARS = '▁▂▃▄▅▆▇█';

/** A one-line chart of values (nulls as spaces). */
export function sparkline(values: (number | null)[]): string {
  const known = values.filter((v): v is number => v !== null);
  const max = Math.max(0, ...known);
  return values.map((v) => (v === null ? ' ' : BARS[max === 0 ? 0 : Math.min(7, Math.floor((v / max) * 7.999))])).join('');
}
