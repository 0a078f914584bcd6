import { DeleteAlarmsCommand, DeleteDashboardsCommand, DescribeAlarmsCommand, GetDashboardCommand, ListTagsForResourceCommand, PutDashboardCommand, PutMetricAlarmCommand, type CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { AwsNames } from './names.js';
import type { MonitoringPlan } from './plan.js';

/** The alarms under `prefix` (mlserve's names for this app and stage) that carry its app and stage tags. */
async function alarmsUnder(cw: CloudWatchClient, prefix: string, tags: Record<string, string>): Promise<string[]> {
  const names: string[] = [];
  let token: string | undefined;
  do {
    const page = await cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: prefix, AlarmTypes: ['MetricAlarm'], ...(token ? { NextToken: token } : {}) }));
    for (const alarm of page.MetricAlarms ?? []) {
      const { Tags = [] } = await cw.send(new ListTagsForResourceCommand({ ResourceARN: alarm.AlarmArn! }));
      if (['mlserve:app', 'mlserve:stage'].every((k) => Tags.some((t) => t.Key === k && t.Value === tags[k]))) names.push(alarm.AlarmName!);
    }
    token = page.NextToken;
  } while (token);
  return names;
}

async function dashboardExists(cw: CloudWatchClient, name: string): Promise<boolean> {
  try {
    await cw.send(new GetDashboardCommand({ DashboardName: name }));
    return true;
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFound' || (error as { name?: string }).name === 'ResourceNotFoundException') return false;
    throw error;
  }
}

/**
 * The planned alarms (each put: create or update) and dashboard; alarms under the prefix the plan no
 * longer has are deleted, and with monitoring off, the dashboard too. Returns what deploy says.
 */
export async function ensureMonitoring(cw: CloudWatchClient, plan: MonitoringPlan, names: Pick<AwsNames, 'alarmPrefix' | 'dashboard' | 'tags'>): Promise<string> {
  for (const alarm of plan.alarms) await cw.send(new PutMetricAlarmCommand(alarm));
  const stale = (await alarmsUnder(cw, names.alarmPrefix, names.tags)).filter((n) => !plan.alarms.some((a) => a.AlarmName === n));
  if (stale.length) await cw.send(new DeleteAlarmsCommand({ AlarmNames: stale }));
  if (plan.dashboard) {
    await cw.send(new PutDashboardCommand({ DashboardName: plan.dashboard.name, DashboardBody: JSON.stringify(plan.dashboard.body) }));
    return `alarms: ${plan.alarms.map((a) => a.AlarmName.slice(names.alarmPrefix.length)).join(', ')}${plan.alarms[0]?.AlarmActions.length ? ` (notifying ${plan.alarms[0].AlarmActions[0]})` : ' (no monitoring.alarmTopic: none notified)'}; dashboard ${plan.dashboard.name}`;
  }
  if (await dashboardExists(cw, names.dashboard)) await cw.send(new DeleteDashboardsCommand({ DashboardNames: [names.dashboard] }));
  return 'monitoring.alarms is false: no alarms or dashboard';
}

/** destroy: every alarm under the prefix and the dashboard, with what was (or would be) removed. */
export async function removeMonitoring(cw: CloudWatchClient, names: Pick<AwsNames, 'alarmPrefix' | 'dashboard' | 'tags'>, dryRun: boolean): Promise<string[]> {
  const removed: string[] = [];
  const dashboardName = names.dashboard;
  const alarms = await alarmsUnder(cw, names.alarmPrefix, names.tags);
  if (alarms.length) {
    if (!dryRun) await cw.send(new DeleteAlarmsCommand({ AlarmNames: alarms }));
    removed.push(...alarms.map((a) => `alarm ${a}`));
  }
  if (await dashboardExists(cw, dashboardName)) {
    if (!dryRun) await cw.send(new DeleteDashboardsCommand({ DashboardNames: [dashboardName] }));
    removed.push(`dashboard ${dashboardName}`);
  }
  return removed;
}
