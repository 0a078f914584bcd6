import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloudWatchClient, DescribeAlarmsCommand, GetDashboardCommand, ListDashboardsCommand, ListTagsForResourceCommand, PutMetricAlarmCommand } from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startMoto, type Moto } from '../helpers/moto.js';
import { packagingEnv, project } from '../helpers/project.js';

let moto: Moto;
beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:on-call';
const ALIAS = [{ Name: 'FunctionName', Value: 'iris-dev' }, { Name: 'Resource', Value: 'iris-dev:dev' }];

describe('aws alarms and dashboard (moto_server)', () => {
  it('deploy creates tagged alarms on the alias and a dashboard; alarms: false removes them; destroy removes them and leaves others', async () => {
    await moto.reset();
    const cw = new CloudWatchClient({ region: 'us-east-1', endpoint: moto.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    // Someone else's alarm whose name happens to share the prefix: never touched.
    await cw.send(new PutMetricAlarmCommand({ AlarmName: 'mlserve-iris-dev-theirs', Namespace: 'X', MetricName: 'Y', Period: 60, Statistic: 'Sum', EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: 'GreaterThanThreshold' }));
    const model = await project('custom', ['--provider', 'aws', '--region', 'us-east-1'], `
monitoring:
  errorRate: 2
  p99: 250
  alarmTopic: ${TOPIC}
`);
    const env = packagingEnv(moto.env);
    const deploy = await runCli(['deploy', '--json'], { cwd: model.dir, env });
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(deploy.json<{ notes: string[] }>().notes).toContain(`alarms: error-rate, p99, throttles (notifying ${TOPIC}); dashboard mlserve-iris-dev`);

    const alarms = (await cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: 'mlserve-iris-dev-' }))).MetricAlarms!;
    const byName = Object.fromEntries(alarms.map((a) => [a.AlarmName!, a]));
    expect(Object.keys(byName).sort()).toEqual(['mlserve-iris-dev-error-rate', 'mlserve-iris-dev-p99', 'mlserve-iris-dev-theirs', 'mlserve-iris-dev-throttles']);
    expect(byName['mlserve-iris-dev-p99']).toMatchObject({ Namespace: 'AWS/Lambda', MetricName: 'Duration', ExtendedStatistic: 'p99', Threshold: 250, Dimensions: ALIAS, EvaluationPeriods: 5, DatapointsToAlarm: 3, AlarmActions: [TOPIC], OKActions: [TOPIC] });
    expect(byName['mlserve-iris-dev-throttles']).toMatchObject({ MetricName: 'Throttles', Statistic: 'Sum', Threshold: 0, Dimensions: ALIAS });
    const rate = byName['mlserve-iris-dev-error-rate']!;
    expect(rate.Threshold).toBe(2);
    expect(rate.Metrics?.map((m) => m.Expression ?? `${m.MetricStat?.Metric?.MetricName} ${m.MetricStat?.Stat}`)).toEqual(['Errors Sum', 'Invocations Sum', 'IF(invocations > 0, 100 * errors / invocations, 0)']);
    const tags = await cw.send(new ListTagsForResourceCommand({ ResourceARN: rate.AlarmArn! }));
    expect(tags.Tags).toEqual(expect.arrayContaining([{ Key: 'mlserve:app', Value: 'iris' }, { Key: 'mlserve:stage', Value: 'dev' }]));
    const dashboard = JSON.parse((await cw.send(new GetDashboardCommand({ DashboardName: 'mlserve-iris-dev' }))).DashboardBody!) as { widgets: { type: string; properties: { title: string; annotations?: { horizontal: { value: number }[] }; alarms?: string[] } }[] };
    expect(dashboard.widgets.map((w) => w.properties.title)).toEqual(['Requests, errors, throttles', 'Latency (ms)', 'Cold starts and model latency (the handler’s metrics)', 'Alarms']);
    expect(dashboard.widgets[1]!.properties.annotations!.horizontal[0]!.value).toBe(250);
    expect(dashboard.widgets[3]!.properties.alarms).toEqual([rate.AlarmArn, byName['mlserve-iris-dev-p99']!.AlarmArn, byName['mlserve-iris-dev-throttles']!.AlarmArn]);

    // Alarms off: the next deploy removes mlserve's alarms and the dashboard.
    const config = join(model.dir, 'mlserve.config.yaml');
    writeFileSync(config, readFileSync(config, 'utf8').replace('monitoring:\n', 'monitoring:\n  alarms: false\n'));
    const off = await runCli(['deploy', '--json'], { cwd: model.dir, env });
    expect(off.code, off.stderr).toBe(0);
    expect((await cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: 'mlserve-iris-dev-' }))).MetricAlarms!.map((a) => a.AlarmName)).toEqual(['mlserve-iris-dev-theirs']);
    expect((await cw.send(new ListDashboardsCommand({}))).DashboardEntries ?? []).toEqual([]);

    writeFileSync(config, readFileSync(config, 'utf8').replace('  alarms: false\n', ''));
    expect((await runCli(['deploy'], { cwd: model.dir, env })).code).toBe(0);
    const destroy = await runCli(['destroy', '--yes', '--json'], { cwd: model.dir, env });
    expect(destroy.json<{ removed: string[] }>().removed).toEqual(expect.arrayContaining(['alarm mlserve-iris-dev-error-rate', 'alarm mlserve-iris-dev-p99', 'alarm mlserve-iris-dev-throttles', 'dashboard mlserve-iris-dev']));
    expect((await cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: 'mlserve-iris-dev-' }))).MetricAlarms!.map((a) => a.AlarmName)).toEqual(['mlserve-iris-dev-theirs']);
    expect((await cw.send(new ListDashboardsCommand({}))).DashboardEntries ?? []).toEqual([]);
  });
});
