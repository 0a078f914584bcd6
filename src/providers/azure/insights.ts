import type { AzureClients } from './clients.js';

/** The most rows one Log Analytics query returns (https://learn.microsoft.com/azure/azure-monitor/service-limits, "Log queries and language"). */
export const QUERY_ROW_LIMIT = 500_000;

export interface TraceRow {
  time: string;
  message: string;
  role: string | undefined;
}

/**
 * A query over the stage's Application Insights through the Log Analytics query API (resource-centric,
 * so only the component's own telemetry), as rows of timestamp, message and role instance, oldest
 * first; `partial` carries the service's reason when it answered only part.
 */
export async function queryTraces(c: AzureClients, insightsId: string, query: string, range: { since: number; until: number }): Promise<{ rows: TraceRow[]; partial?: string }> {
  const { LogsQueryClient } = await import('@azure/monitor-query-logs');
  const client = new LogsQueryClient(c.credential, { endpoint: `${c.cloud.logs}/v1`, credentials: { scopes: [c.cloud.logsScope] } });
  const result = await client.queryResource(insightsId.replace(/^\//, ''), query, { startTime: new Date(range.since), endTime: new Date(range.until) });
  const table = 'tables' in result ? result.tables[0] : result.partialTables[0];
  const col = (name: string) => table?.columnDescriptors.findIndex((d) => d.name === name) ?? -1;
  const [t, m, r] = [col('timestamp'), col('message'), col('cloud_RoleInstance')];
  const rows = (table?.rows ?? []).map((row): TraceRow => ({ time: new Date(row[t] as string | Date).toISOString(), message: String(row[m] ?? '').trimEnd(), role: r >= 0 && row[r] !== null && row[r] !== undefined ? String(row[r]) : undefined }));
  return { rows, ...('partialError' in result ? { partial: String((result.partialError as { message?: string } | undefined)?.message ?? 'the service answered part of the query') } : {}) };
}
