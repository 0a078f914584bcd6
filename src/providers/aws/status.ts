import { FilterLogEventsCommand, type CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { GetMetricDataCommand, type CloudWatchClient, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { GetFunctionConfigurationCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { Config } from '../../core/config/schema.js';
import { weightsOf } from '../alias.js';
import type { AliasState, StatusReport, StatusRow } from '../provider.js';
import { estimateCost, LAMBDA_PRICES } from '../status.js';
import type { AwsNames } from './names.js';

type Range = { since: number; until: number };
const STATS = { inv: ['Invocations', 'Sum'], err: ['Errors', 'Sum'], thr: ['Throttles', 'Sum'], avg: ['Duration', 'Average'], p50: ['Duration', 'p50'], p90: ['Duration', 'p90'], p99: ['Duration', 'p99'] } as const;

/** CloudWatch periods are whole minutes here; the period covering the whole range. */
function wholePeriod(range: Range): number {
  return Math.max(60, Math.ceil((range.until - range.since) / 60000) * 60);
}

function query(id: string, namespace: string, metric: string, dimensions: Record<string, string>, period: number, stat: string): MetricDataQuery {
  return { Id: id, MetricStat: { Metric: { Namespace: namespace, MetricName: metric, Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })) }, Period: period, Stat: stat }, ReturnData: true };
}

/**
 * Every query's values by id (oldest first), through every page. Percentiles go in a call of their
 * own: moto (the tests' CloudWatch) fails a whole call that asks for one, so its tests answer that
 * call at the SDK boundary and the rest reaches moto.
 */
async function metricData(cw: CloudWatchClient, queries: MetricDataQuery[], range: Range): Promise<Map<string, { t: number; v: number }[]>> {
  const percentile = (q: MetricDataQuery) => /^p\d/.test(q.MetricStat?.Stat ?? '');
  const out = new Map<string, { t: number; v: number }[]>();
  for (const part of [queries.filter((q) => !percentile(q)), queries.filter(percentile)]) {
    if (part.length) for (const [id, values] of await metricPages(cw, part, range)) out.set(id, values);
  }
  return out;
}

async function metricPages(cw: CloudWatchClient, queries: MetricDataQuery[], range: Range): Promise<Map<string, { t: number; v: number }[]>> {
  const out = new Map<string, { t: number; v: number }[]>();
  let token: string | undefined;
  do {
    const page = await cw.send(new GetMetricDataCommand({ MetricDataQueries: queries, StartTime: new Date(range.since), EndTime: new Date(range.until), ScanBy: 'TimestampAscending', ...(token ? { NextToken: token } : {}) }));
    for (const r of page.MetricDataResults ?? []) {
      const values = (r.Values ?? []).map((v, i) => ({ t: r.Timestamps?.[i]?.getTime() ?? 0, v }));
      out.set(r.Id!, [...(out.get(r.Id!) ?? []), ...values]);
    }
    token = page.NextToken;
  } while (token);
  return out;
}

/** The highest "Max Memory Used" of each version's REPORT lines in the range (its log streams are named `…[<version>]…`). */
async function maxMemory(logs: CloudWatchLogsClient, logGroup: string, range: Range): Promise<Map<string, number>> {
  const max = new Map<string, number>();
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await logs.send(new FilterLogEventsCommand({ logGroupName: logGroup, filterPattern: '"REPORT RequestId"', startTime: range.since, endTime: range.until, ...(token ? { nextToken: token } : {}) }));
    for (const e of page.events ?? []) {
      const version = /\[([^\]]+)\]/.exec(e.logStreamName ?? '')?.[1];
      const used = /Max Memory Used: (\d+) MB/.exec(e.message ?? '')?.[1];
      if (version && used) max.set(version, Math.max(max.get(version) ?? 0, Number(used)));
    }
    token = page.nextToken;
  } while (token && ++pages < 20);
  return max;
}

/** A version's memory and architecture (what it is billed at), or the config's when it is gone. */
async function billedAs(lambda: LambdaClient, name: string, version: string, config: Config): Promise<{ memoryMb: number; arch: 'x86_64' | 'arm64' }> {
  try {
    const c = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name, Qualifier: version }));
    return { memoryMb: c.MemorySize ?? config.resources.memory, arch: c.Architectures?.[0] === 'arm64' ? 'arm64' : 'x86_64' };
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') return { memoryMb: config.resources.memory, arch: config.runtime.arch };
    throw error;
  }
}

/**
 * `status` on AWS: Lambda's own metrics for each version the stage's alias routes to (its
 * ExecutedVersion), in one GetMetricData call for the totals and one for the series; REPORT lines
 * for the memory used; the handler's EMF ColdStart for the stage.
 */
export async function awsStatus(c: { cloudwatch: CloudWatchClient; logs: CloudWatchLogsClient; lambda: LambdaClient; region: string }, names: AwsNames, alias: AliasState, config: Config, range: Range): Promise<StatusReport> {
  const stage = { FunctionName: names.function, Resource: `${names.function}:${names.alias}` };
  const weights = weightsOf(alias);
  const period = wholePeriod(range);
  const versions = [...weights.keys()];
  const totals = await metricData(c.cloudwatch, [
    ...versions.flatMap((v) => Object.entries(STATS).map(([id, [metric, stat]]) => query(`${id}_${v}`, 'AWS/Lambda', metric, { ...stage, ExecutedVersion: v }, period, stat))),
    query('cold', 'mlserve', 'ColdStart', { Model: config.name }, period, 'Sum'),
  ], range);
  const first = (id: string) => totals.get(id)?.[0]?.v;
  const memory = await maxMemory(c.logs, names.logGroup, range);
  const rows: StatusRow[] = [];
  for (const v of versions) {
    const invocations = first(`inv_${v}`) ?? 0;
    const errors = first(`err_${v}`) ?? 0;
    const averageMs = first(`avg_${v}`) ?? null;
    const billed = await billedAs(c.lambda, names.function, v, config);
    rows.push({
      version: v, weight: weights.get(v)!, invocations, errors, errorRate: invocations ? errors / invocations : 0, throttles: first(`thr_${v}`) ?? 0, coldStarts: null,
      p50: first(`p50_${v}`) ?? null, p90: first(`p90_${v}`) ?? null, p99: first(`p99_${v}`) ?? null, averageMs, maxMemoryMb: memory.get(v) ?? null,
      costUsd: estimateCost({ invocations, averageMs, ...billed }),
    });
  }
  const notes = [`cold starts, all versions (the handler's ColdStart metric): ${first('cold') ?? 0}`, `cost: list prices (${LAMBDA_PRICES.source})${c.region === LAMBDA_PRICES.region ? '' : `; ${c.region} is estimated at ${LAMBDA_PRICES.region}'s`}, free tier not subtracted`];
  return { since: new Date(range.since).toISOString(), until: new Date(range.until).toISOString(), rows, series: await seriesOf(c.cloudwatch, stage, range), notes };
}

/** The stage's requests and p99 in at most 30 whole-minute buckets. */
async function seriesOf(cw: CloudWatchClient, stage: Record<string, string>, range: Range): Promise<StatusReport['series']> {
  const step = Math.max(60, Math.ceil((range.until - range.since) / 30 / 60000) * 60);
  const data = await metricData(cw, [query('requests', 'AWS/Lambda', 'Invocations', stage, step, 'Sum'), query('p99', 'AWS/Lambda', 'Duration', stage, step, 'p99')], range);
  const buckets = Math.ceil((range.until - range.since) / (step * 1000));
  return Array.from({ length: buckets }, (_, i) => {
    const from = range.since + i * step * 1000;
    const inBucket = (id: string) => data.get(id)?.find((p) => p.t >= from && p.t < from + step * 1000)?.v;
    return { time: new Date(from).toISOString(), requests: inBucket('requests') ?? 0, p99: inBucket('p99') ?? null };
  });
}
