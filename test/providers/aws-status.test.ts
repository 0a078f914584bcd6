import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, CreateLogStreamCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config/load.js';
import { RecordingReporter } from '../../src/core/reporter.js';
import { AwsProvider } from '../../src/providers/aws/index.js';
import { estimateCost } from '../../src/providers/status.js';
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

const DIMS = [{ Name: 'FunctionName', Value: 'iris-dev' }, { Name: 'Resource', Value: 'iris-dev:dev' }, { Name: 'ExecutedVersion', Value: '1' }];

describe('mlserve status on AWS', () => {
  it('reads CloudWatch (moto): invocations, errors, throttles, average duration, memory from REPORT lines, cost; percentiles from GetMetricData answers injected at the SDK boundary', async () => {
    await moto.reset();
    const model = await project('custom', ['--provider', 'aws', '--region', 'us-east-1']);
    const env = packagingEnv(moto.env);
    expect((await runCli(['deploy'], { cwd: model.dir, env })).code).toBe(0);
    const common = { region: 'us-east-1', endpoint: moto.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
    const cw = new CloudWatchClient(common);
    const at = new Date(Date.now() - 5 * 60_000);
    // What Lambda would have published for 40 requests to version 1 through the alias, 4 of them failing.
    await cw.send(new PutMetricDataCommand({
      Namespace: 'AWS/Lambda',
      MetricData: [
        { MetricName: 'Invocations', Dimensions: DIMS, Timestamp: at, Value: 40, Unit: 'Count' },
        { MetricName: 'Errors', Dimensions: DIMS, Timestamp: at, Value: 4, Unit: 'Count' },
        { MetricName: 'Duration', Dimensions: DIMS, Timestamp: at, Values: [100, 300], Counts: [20, 20], Unit: 'Milliseconds' },
        // Lambda also publishes the alias's own, without ExecutedVersion: what the series reads.
        { MetricName: 'Invocations', Dimensions: DIMS.slice(0, 2), Timestamp: at, Value: 40, Unit: 'Count' },
      ],
    }));
    const logs = new CloudWatchLogsClient(common);
    await logs.send(new CreateLogStreamCommand({ logGroupName: '/aws/lambda/iris-dev', logStreamName: '2026/12/01/[1]0123abcd' }));
    await logs.send(new PutLogEventsCommand({
      logGroupName: '/aws/lambda/iris-dev',
      logStreamName: '2026/12/01/[1]0123abcd',
      logEvents: [
        { timestamp: at.getTime(), message: 'REPORT RequestId: a\tDuration: 101.00 ms\tBilled Duration: 102 ms\tMemory Size: 1024 MB\tMax Memory Used: 181 MB' },
        { timestamp: at.getTime() + 1, message: 'REPORT RequestId: b\tDuration: 99.00 ms\tBilled Duration: 99 ms\tMemory Size: 1024 MB\tMax Memory Used: 203 MB' },
      ],
    }));

    // moto fails any GetMetricData call that asks for a percentile (it cannot compute one): that call
    // is answered at the SDK boundary, as CloudWatch would; everything else reaches moto.
    const asked: string[][] = [];
    const loaded = await loadConfig({ cwd: model.dir, env });
    const provider = new AwsProvider({ loaded, env, reporter: new RecordingReporter() }, {
      configureClients: (clients) => {
        clients.cloudwatch.middlewareStack.add(
          (next, context) => async (args) => {
            if (context.commandName !== 'GetMetricDataCommand') return next(args);
            const queries = (args.input as { MetricDataQueries: { Id: string; MetricStat: { Stat: string } }[] }).MetricDataQueries;
            asked.push(queries.map((q) => q.Id));
            if (!queries.some((q) => /^p\d/.test(q.MetricStat.Stat))) return next(args);
            const value: Record<string, number> = { p50_1: 60, p90_1: 150, p99_1: 420, p99: 410 };
            return { output: { $metadata: {}, MetricDataResults: queries.map((q) => ({ Id: q.Id, Timestamps: [at], Values: [value[q.Id] ?? 0], StatusCode: 'Complete' })) }, response: {} } as never;
          },
          { step: 'initialize', name: 'answer-percentiles' },
        );
      },
    });
    const report = await provider.status({ since: Date.now() - 3_600_000, until: Date.now() });
    expect(report.rows).toEqual([expect.objectContaining({ version: '1', weight: 1, invocations: 40, errors: 4, errorRate: 0.1, throttles: 0, averageMs: 200, maxMemoryMb: 203, p50: 60, p90: 150, p99: 420 })]);
    expect(report.rows[0]!.costUsd).toBeCloseTo(estimateCost({ invocations: 40, averageMs: 200, memoryMb: 1024, arch: 'x86_64' }), 12);
    expect(report.series.reduce((n, s) => n + s.requests, 0)).toBe(40);
    expect(report.series.filter((s) => s.p99 !== null).map((s) => s.p99)).toEqual([410]);
    expect(report.notes[0]).toBe("cold starts, all versions (the handler's ColdStart metric): 0");
    expect(asked.flat()).toEqual(expect.arrayContaining(['inv_1', 'err_1', 'thr_1', 'avg_1', 'cold', 'p50_1', 'p90_1', 'p99_1', 'requests', 'p99']));
  });
});
