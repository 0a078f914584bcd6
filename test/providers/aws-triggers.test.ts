import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventBridgeClient, ListRulesCommand, ListTargetsByRuleCommand } from '@aws-sdk/client-eventbridge';
import { GetRolePolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import { LambdaClient, ListEventSourceMappingsCommand, ListVersionsByFunctionCommand } from '@aws-sdk/client-lambda';
import { GetBucketNotificationConfigurationCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prunable } from '../../src/providers/alias.js';
import { runCli } from '../helpers/cli.js';
import { startMoto, type Moto } from '../helpers/moto.js';
import { packagingEnv, project } from '../helpers/project.js';
import { triggerSources, triggersConfig } from '../helpers/trigger-sources.js';

let moto: Moto;
beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});

describe('aws triggers and version pruning (moto_server)', () => {
  it('wires S3, SQS and schedule triggers to the alias with least privilege, and destroy unwires them', async () => {
    await moto.reset();
    const common = { region: 'us-east-1', endpoint: moto.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
    const { s3, queueArn } = await triggerSources(moto);
    const lambda = new LambdaClient(common);
    const model = await project('custom', ['--provider', 'aws', '--region', 'us-east-1'], `${triggersConfig(queueArn)}  schedule:
    - expression: rate(5 minutes)
`);
    const env = packagingEnv(moto.env);
    const deploy = await runCli(['deploy', '--json'], { cwd: model.dir, env });
    expect(deploy.code, deploy.stderr).toBe(0);
    const aliasArn = 'arn:aws:lambda:us-east-1:123456789012:function:iris-dev:dev';

    const mappings = (await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: aliasArn }))).EventSourceMappings ?? [];
    expect(mappings).toEqual([expect.objectContaining({ EventSourceArn: queueArn, BatchSize: 5, FunctionResponseTypes: ['ReportBatchItemFailures'] })]);
    const notification = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: 'incoming-data' }));
    expect(notification.LambdaFunctionConfigurations).toEqual([expect.objectContaining({ LambdaFunctionArn: aliasArn, Events: ['s3:ObjectCreated:*'] })]);
    const events = new EventBridgeClient(common);
    const rules = (await events.send(new ListRulesCommand({ NamePrefix: 'mlserve-iris-dev' }))).Rules ?? [];
    expect(rules.map((r) => r.ScheduleExpression)).toEqual(['rate(5 minutes)']);
    expect((await events.send(new ListTargetsByRuleCommand({ Rule: rules[0]!.Name! }))).Targets?.map((t) => t.Arn)).toEqual([aliasArn]);
    const policy = JSON.parse(decodeURIComponent((await new IAMClient(common).send(new GetRolePolicyCommand({ RoleName: 'mlserve-iris-dev', PolicyName: 'mlserve-least-privilege' }))).PolicyDocument!)) as { Statement: { Sid: string; Action: unknown; Resource: unknown }[] };
    expect(policy.Statement.map((s) => [s.Sid, s.Action, s.Resource])).toEqual([
      ['OwnLogGroup', ['logs:CreateLogStream', 'logs:PutLogEvents'], 'arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/iris-dev:*'],
      ['OwnArtifacts', 's3:GetObject', expect.stringMatching(/^arn:aws:s3:::mlserve-iris-dev-[0-9a-f]{10}\/iris\/dev\/artifacts\/\*$/)],
      ['ReadWatched0', 's3:GetObject', 'arn:aws:s3:::incoming-data/batches/*'],
      ['WritePredictions0', 's3:PutObject', 'arn:aws:s3:::predictions-out/predictions/*'],
      ['ConsumeQueues', ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'], [queueArn]],
    ]);
    // Redeploying changes nothing: still one mapping, one rule, one notification.
    expect((await runCli(['deploy'], { cwd: model.dir, env })).code).toBe(0);
    expect((await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: aliasArn }))).EventSourceMappings).toHaveLength(1);
    expect((await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: 'incoming-data' }))).LambdaFunctionConfigurations).toHaveLength(1);

    const destroy = await runCli(['destroy', '--yes', '--json'], { cwd: model.dir, env });
    expect(destroy.json<{ removed: string[] }>().removed).toEqual(expect.arrayContaining([`event source mapping ${queueArn}`, 'schedule rule mlserve-iris-dev-0']));
    expect((await events.send(new ListRulesCommand({ NamePrefix: 'mlserve-iris-dev' }))).Rules).toEqual([]);
    expect((await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: 'incoming-data' }))).LambdaFunctionConfigurations ?? []).toEqual([]);
  });

  it('versions prune --keep deletes old versions no alias points at', async () => {
    await moto.reset();
    const model = await project('custom', ['--provider', 'aws', '--region', 'us-east-1']);
    const env = packagingEnv(moto.env);
    for (let i = 1; i <= 4; i++) {
      writeFileSync(join(model.dir, 'predict.py'), `def load(model_dir):\n    return ${i}\n\n\ndef predict(model, inputs):\n    return [model for _ in inputs]\n`);
      expect((await runCli(['deploy'], { cwd: model.dir, env })).code).toBe(0);
    }
    expect((await runCli(['promote', '1'], { cwd: model.dir, env })).code).toBe(0);
    const dry = await runCli(['versions', 'prune', '--keep', '2', '--dry-run'], { cwd: model.dir, env });
    expect(dry.stdout).toBe('would delete version 2; kept 1, 3, 4\n');
    const pruned = await runCli(['versions', 'prune', '--keep', '2', '--json'], { cwd: model.dir, env });
    expect(pruned.json()).toMatchObject({ deleted: ['2'], kept: ['1', '3', '4'] });
    const lambda = new LambdaClient({ region: 'us-east-1', endpoint: moto.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    expect(((await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: 'iris-dev' }))).Versions ?? []).map((v) => v.Version)).toEqual(['$LATEST', '1', '3', '4']);
  });

  it('prunable never touches the stable or canary version', () => {
    expect(prunable(['1', '2', '3', '4', '5'], 2, { alias: 'dev', version: '1', canary: { version: '2', weight: 0.1 } })).toEqual(['3']);
    expect(prunable(['1', '2'], 5, { alias: 'dev', version: '2' })).toEqual([]);
  });
});
