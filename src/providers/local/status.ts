import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Config } from '../../core/config/schema.js';
import { statIfExists } from '../../core/fs.js';
import { weightsOf } from '../alias.js';
import type { AliasState, StatusReport } from '../provider.js';
import { estimateCost, LAMBDA_PRICES, rowOf, seriesOfRequests } from '../status.js';

interface Request {
  time: number;
  version: string;
  latency: number;
  error: boolean;
  cold: boolean;
}

/** The request records (the handler's one JSON line per request) the stage's log holds in the range. */
async function requestsIn(logFile: string, range: { since: number; until: number }): Promise<Request[]> {
  if (!(await statIfExists(logFile))) return [];
  const out: Request[] = [];
  for await (const line of createInterface({ input: createReadStream(logFile), crlfDelay: Infinity })) {
    if (!line.includes('request')) continue; // cheap: most lines are not request records
    const entry = JSON.parse(line) as { time: string; version: number; message: string };
    const time = Date.parse(entry.time);
    if (time < range.since || time > range.until || !entry.message.startsWith('{')) continue;
    let record: { event?: string; latency_ms?: number; status?: number; cold_start?: boolean };
    try {
      record = JSON.parse(entry.message) as typeof record;
    } catch {
      continue; // a line the model printed that only looks like JSON: not a request record
    }
    if (record.event !== 'request' || typeof record.latency_ms !== 'number') continue;
    out.push({ time, version: String(entry.version), latency: record.latency_ms, error: (record.status ?? 200) >= 500, cold: record.cold_start === true });
  }
  return out;
}

/** Requests and p99 in (at most) 30 equal buckets over the range. */
function seriesOf(requests: Request[], range: { since: number; until: number }): StatusReport['series'] {
  return seriesOfRequests(requests, range, Math.max(1000, Math.ceil((range.until - range.since) / 30)));
}

/**
 * `status` on the local provider, from what `serve` recorded: every request's record in the
 * stage's log, per version, with the alias's weights and what the same traffic would cost on Lambda.
 */
export async function localStatus(logFile: string, alias: AliasState, config: Config, range: { since: number; until: number }): Promise<StatusReport> {
  const requests = await requestsIn(logFile, range);
  const weights = weightsOf(alias);
  const versions = [...new Set([...weights.keys(), ...requests.map((r) => r.version)])].sort((a, b) => Number(a) - Number(b));
  const cost = (averageMs: number | null, invocations: number) => estimateCost({ invocations, averageMs, memoryMb: config.resources.memory, arch: config.runtime.arch });
  const rows = versions.map((v) => {
    const mine = requests.filter((r) => r.version === v);
    return rowOf(v, weights.get(v) ?? 0, { latencies: mine.map((r) => r.latency), errors: mine.filter((r) => r.error).length, coldStarts: mine.filter((r) => r.cold).length, throttles: null }, cost);
  });
  return {
    since: new Date(range.since).toISOString(),
    until: new Date(range.until).toISOString(),
    rows,
    series: seriesOf(requests, range),
    notes: [`cost: what these requests would cost on Lambda at ${config.resources.memory} MB ${config.runtime.arch}, list prices (${LAMBDA_PRICES.source})`, 'latency: the handler’s own time per request; throttles and memory are not measured locally'],
  };
}
