import { MlserveError } from '../errors.js';
import type { Reporter } from '../reporter.js';
import type { Provider, TuneSample } from '../../providers/provider.js';
import { LAMBDA_PRICES, percentile } from '../../providers/status.js';

export interface TuneRow {
  memoryMb: number;
  p50: number | null;
  p99: number | null;
  coldMs: number | null;
  maxMemoryMb: number | null;
  /** List price of a million requests like these at this size (US dollars). */
  costPerMillion: number | null;
  meets: boolean;
  failure?: string;
  method: string;
}

export interface TuneResult {
  rows: TuneRow[];
  /** The cheapest size that meets the target (the faster on a tie), or null. */
  choice: TuneRow | null;
  p99Target: number;
}

/** A row from a run: warm percentiles and the cost of a million such requests. */
function tuneRow(sample: TuneSample, p99Target: number, arch: 'x86_64' | 'arm64'): TuneRow {
  const sorted = [...sample.durations].sort((a, b) => a - b);
  const mean = sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : null;
  const costPerMillion = mean === null ? null : LAMBDA_PRICES.perMillionRequests + 1e6 * (mean / 1000) * (sample.memoryMb / 1024) * LAMBDA_PRICES.perGbSecond[arch];
  const p99 = percentile(sorted, 99);
  return {
    memoryMb: sample.memoryMb,
    p50: percentile(sorted, 50),
    p99,
    coldMs: sample.coldMs,
    maxMemoryMb: sample.maxMemoryMb,
    costPerMillion,
    meets: !sample.failure && p99 !== null && p99 <= p99Target,
    ...(sample.failure ? { failure: sample.failure } : {}),
    method: sample.method,
  };
}

/**
 * `mlserve tune`: run the deployed version at each memory size (its CPU share with it), and choose
 * the size with the lowest cost per million requests whose warm p99 meets the target.
 */
export async function tuneModel(provider: Provider, o: { sizes: number[]; requests: number; request: { method: string; path: string; body: string }; p99Target: number; arch: 'x86_64' | 'arm64'; reporter: Reporter }): Promise<TuneResult> {
  if (!provider.measure) throw new MlserveError('USAGE', `tune is not available for the ${provider.id} provider yet`, { hint: 'tune on the local provider for an estimate' });
  const rows: TuneRow[] = [];
  for (const size of o.sizes) {
    const sample = await o.reporter.step(`Measuring at ${size} MB (${o.requests} warm requests)`, () => provider.measure!(size, { requests: o.requests, request: o.request }));
    rows.push(tuneRow(sample, o.p99Target, o.arch));
  }
  const fit = rows.filter((r) => r.meets).sort((a, b) => a.costPerMillion! - b.costPerMillion! || a.p99! - b.p99!);
  return { rows, choice: fit[0] ?? null, p99Target: o.p99Target };
}
