import type { AliasRecord } from '../alias.js';
import type { StatusReport, StatusRow } from '../provider.js';
import { rowOf, seriesOfRequests } from '../status.js';
import { QUERY_ROW_LIMIT, type TraceRow } from './insights.js';
import type { BlobVersion } from './versions.js';

/**
 * Flex Consumption's on-demand list prices: executions, and GB-seconds of instance memory while an
 * instance executes. Source: https://azure.microsoft.com/pricing/details/functions/ (East US), as
 * copies of that page quote it (the page itself cannot be read from here), checked 2026-12-02.
 */
export const FLEX_PRICES = {
  source: 'https://azure.microsoft.com/pricing/details/functions/ (Flex Consumption on demand, list prices, East US; checked 2026-12-02)',
  perMillionExecutions: 0.4,
  perGbSecond: 0.000026,
} as const;

interface RequestRecord {
  time: number;
  status: number;
  latency: number;
  cold: boolean;
  modelSha256: string;
}

/** A trace that is one of the handler's request records (observability.py), else undefined. */
export function requestRecord(row: TraceRow): RequestRecord | undefined {
  let r: { event?: unknown; status?: unknown; latency_ms?: unknown; cold_start?: unknown; model?: { sha256?: unknown } };
  try {
    r = JSON.parse(row.message) as typeof r;
  } catch {
    return undefined; // a log line that is not JSON: not a request record
  }
  if (r?.event !== 'request' || typeof r.status !== 'number' || typeof r.latency_ms !== 'number') return undefined;
  return { time: Date.parse(row.time), status: r.status, latency: r.latency_ms, cold: r.cold_start === true, modelSha256: typeof r.model?.sha256 === 'string' ? r.model.sha256 : '' };
}

/**
 * Which version served a record: the one whose model it ran. Versions that share a model (only code
 * changed) cannot be told apart by their records: the one the stage runs now, or else the newest that
 * ran on it, takes them, and a note says so. A model no version has any more (pruned) is shown by its hash.
 */
function versionOf(versions: BlobVersion[], alias: AliasRecord, notes: Set<string>): (sha: string) => string {
  const ran = new Set([...alias.history, ...(alias.version ? [alias.version] : [])]);
  return (sha) => {
    const same = versions.filter((v) => v.modelSha256 === sha).map((v) => v.version).sort((a, b) => Number(a) - Number(b));
    if (same.length === 0) return `model ${sha.slice(0, 12) || 'unknown'}`;
    const chosen = same.includes(alias.version ?? '') ? alias.version! : ([...same].reverse().find((v) => ran.has(v)) ?? same.at(-1)!);
    if (same.length > 1) notes.add(`versions ${same.join(', ')} run the same model, so their requests cannot be told apart: all are counted under ${chosen}`);
    return chosen;
  };
}

/** The report from the request records in the range: a row per version seen (and the stage's own), the series, and the notes. */
export function azureStatus(rows: TraceRow[], o: { versions: BlobVersion[]; alias: AliasRecord; memoryMb: number }, range: { since: number; until: number }): StatusReport {
  const notes = new Set<string>();
  const records = rows.map(requestRecord).filter((r): r is RequestRecord => r !== undefined && r.time >= range.since && r.time <= range.until);
  const label = versionOf(o.versions, o.alias, notes);
  const byVersion = new Map<string, RequestRecord[]>(o.alias.version ? [[o.alias.version, []]] : []);
  for (const r of records) {
    const v = label(r.modelSha256);
    const list = byVersion.get(v) ?? [];
    list.push(r);
    byVersion.set(v, list);
  }
  const cost = (averageMs: number | null, invocations: number) =>
    (invocations / 1e6) * FLEX_PRICES.perMillionExecutions + invocations * ((averageMs ?? 0) / 1000) * (o.memoryMb / 1024) * FLEX_PRICES.perGbSecond;
  const order = (v: string) => (/^\d+$/.test(v) ? Number(v) : Number.MAX_SAFE_INTEGER);
  const statusRows: StatusRow[] = [...byVersion.entries()]
    .sort(([a], [b]) => order(a) - order(b) || a.localeCompare(b))
    .map(([version, rs]) => rowOf(version, version === o.alias.version ? 1 : 0, { latencies: rs.map((r) => r.latency), errors: rs.filter((r) => r.status >= 500).length, coldStarts: rs.filter((r) => r.cold).length, throttles: null }, cost));
  if (rows.length >= QUERY_ROW_LIMIT) notes.add(`the query reached Log Analytics' limit of ${QUERY_ROW_LIMIT} rows: only the period's first ${QUERY_ROW_LIMIT} requests are counted; give a shorter --since`);
  notes.add(`from the handler's request records in Application Insights; latency is the handler's own time, without the Functions host's; Flex reports no throttles or memory per app`);
  notes.add(`cost: ${o.memoryMb} MB instances at list prices (${FLEX_PRICES.source}), free grant not subtracted`);
  return { since: new Date(range.since).toISOString(), until: new Date(range.until).toISOString(), rows: statusRows, series: seriesOf(records, range), notes: [...notes] };
}

/** Requests and p99 in at most 30 whole-minute buckets, as on AWS. */
function seriesOf(records: RequestRecord[], range: { since: number; until: number }): StatusReport['series'] {
  return seriesOfRequests(records, range, Math.max(60, Math.ceil((range.until - range.since) / 30 / 60000) * 60) * 1000);
}
