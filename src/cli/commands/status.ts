import { MlserveError } from '../../core/errors.js';
import type { StatusReport, StatusRow } from '../../providers/provider.js';
import type { CommandBody } from '../context.js';
import { openProvider, providerFlagOptions, providerOption } from '../provider-context.js';
import { parseSince } from './logs.js';

const ms = (v: number | null) => (v === null ? '-' : v < 10 ? v.toFixed(1) : String(Math.round(v)));
const COLUMNS: [string, (r: StatusRow) => string][] = [
  ['version', (r) => r.version],
  ['weight', (r) => `${Math.round(r.weight * 100)}%`],
  ['requests', (r) => String(r.invocations)],
  ['errors', (r) => String(r.errors)],
  ['error %', (r) => `${(r.errorRate * 100).toFixed(1)}%`],
  ['throttles', (r) => (r.throttles === null ? '-' : String(r.throttles))],
  ['cold', (r) => (r.coldStarts === null ? '-' : String(r.coldStarts))],
  ['p50 ms', (r) => ms(r.p50)],
  ['p90 ms', (r) => ms(r.p90)],
  ['p99 ms', (r) => ms(r.p99)],
  ['max MB', (r) => (r.maxMemoryMb === null ? '-' : String(r.maxMemoryMb))],
  ['cost $', (r) => r.costUsd.toFixed(6)],
];

/** The table, right-aligned but the first column. */
export function statusTable(rows: StatusRow[]): string {
  const cells = [COLUMNS.map(([h]) => h), ...rows.map((r) => COLUMNS.map(([, f]) => f(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  return cells.map((c) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ')).join('\n');
}

async function chart(report: StatusReport): Promise<string[]> {
  const { sparkline } = await import('../../providers/status.js');
  if (report.series.length < 2) return [];
  const step = Math.round((Date.parse(report.series[1]!.time) - Date.parse(report.series[0]!.time)) / 1000);
  return [`requests ${sparkline(report.series.map((s) => s.requests))}  (each mark ${step} s)`, `p99      ${sparkline(report.series.map((s) => s.p99))}`];
}

export const statusCommand: CommandBody = {
  description: 'Per version of the stage, with its share of traffic: requests, errors and error rate, throttles, cold starts, p50/p90/p99 latency, max memory used and an estimated list-price cost for the period; on a terminal, a chart of requests and p99 over time.',
  options: [providerOption, ...providerFlagOptions, { flags: '--since <when>', description: 'the period: 30m, 1h, 2d or an ISO time (default 1h)' }],
  examples: [
    { command: 'mlserve status', description: 'the last hour on the config’s provider' },
    { command: 'mlserve status --provider aws --since 1d --json', description: 'a day, as JSON' },
  ],
  async run(ctx, _args, raw) {
    const since = parseSince(typeof raw.since === 'string' ? raw.since : '1h');
    const until = Date.now();
    if (since >= until) throw new MlserveError('USAGE', `--since ${String(raw.since)} is not in the past`, { hint: 'e.g. --since 1h' });
    const { provider, loaded, id } = await openProvider(ctx, raw);
    if (!provider.status) throw new MlserveError('USAGE', `status is not available for the ${id} provider yet`, { hint: 'run `mlserve logs` for its request lines' });
    const report = await provider.status({ since, until });
    const lines = [`${loaded.config.name}, stage ${loaded.stage} on ${id}, ${report.since} to ${report.until}`, statusTable(report.rows)];
    if (ctx.io.stdout.isTTY) lines.push(...(await chart(report)));
    lines.push(...report.notes.map((n) => `note: ${n}`));
    return { data: { provider: id, stage: loaded.stage, ...report }, text: lines.join('\n') };
  },
};
