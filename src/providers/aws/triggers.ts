import { DeleteRuleCommand, ListRulesCommand, ListTargetsByRuleCommand, PutRuleCommand, PutTargetsCommand, RemoveTargetsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  AddPermissionCommand,
  CreateEventSourceMappingCommand,
  DeleteEventSourceMappingCommand,
  ListEventSourceMappingsCommand,
  UpdateEventSourceMappingCommand,
  type LambdaClient,
} from '@aws-sdk/client-lambda';
import { GetBucketNotificationConfigurationCommand, PutBucketNotificationConfigurationCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../../core/config/schema.js';
import type { AwsNames } from './names.js';
import type { AwsPlan, PermissionPlan } from './plan.js';

async function allow(lambda: LambdaClient, names: AwsNames, p: PermissionPlan): Promise<void> {
  try {
    await lambda.send(new AddPermissionCommand({ FunctionName: names.function, Qualifier: names.alias, StatementId: p.statementId, Action: 'lambda:InvokeFunction', Principal: p.principal, SourceArn: p.sourceArn, ...(p.sourceAccount ? { SourceAccount: p.sourceAccount } : {}) }));
  } catch (error) {
    if ((error as { name?: string }).name !== 'ResourceConflictException') throw error;
  }
}

/** The planned S3 notifications, SQS mappings (ReportBatchItemFailures) and schedule rules, all on the alias. */
export async function ensureTriggers(
  c: { lambda: LambdaClient; s3: S3Client; events: EventBridgeClient },
  names: AwsNames,
  plan: AwsPlan['triggers'],
  aliasArn: string,
): Promise<string[]> {
  const done: string[] = [];
  for (const t of plan.s3) {
    await allow(c.lambda, names, t.permission);
    const current = await c.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: t.bucket }));
    const { Id, Events, FilterRules } = t.notification;
    const others = (current.LambdaFunctionConfigurations ?? []).filter((n) => n.Id !== Id);
    await c.s3.send(new PutBucketNotificationConfigurationCommand({
      Bucket: t.bucket,
      NotificationConfiguration: {
        ...current,
        LambdaFunctionConfigurations: [...others, { Id, LambdaFunctionArn: aliasArn, Events, ...(FilterRules.length ? { Filter: { Key: { FilterRules } } } : {}) }],
      },
    }));
    const rule = (name: string) => FilterRules.find((r) => r.Name === name)?.Value ?? '';
    done.push(`s3://${t.bucket}/${rule('prefix')}*${rule('suffix')}`);
  }
  const mappings = (await c.lambda.send(new ListEventSourceMappingsCommand({ FunctionName: aliasArn }))).EventSourceMappings ?? [];
  for (const q of plan.sqs) {
    const existing = mappings.find((m) => m.EventSourceArn === q.eventSourceArn);
    const settings = { BatchSize: q.batchSize, FunctionResponseTypes: q.functionResponseTypes };
    if (existing) await c.lambda.send(new UpdateEventSourceMappingCommand({ UUID: existing.UUID!, FunctionName: aliasArn, ...settings }));
    else await c.lambda.send(new CreateEventSourceMappingCommand({ FunctionName: aliasArn, EventSourceArn: q.eventSourceArn, ...settings }));
    done.push(q.eventSourceArn);
  }
  for (const s of plan.schedule) {
    await c.events.send(new PutRuleCommand({ Name: s.rule, ScheduleExpression: s.expression, State: 'ENABLED', Tags: Object.entries(s.tags).map(([Key, Value]) => ({ Key, Value })) }));
    await c.events.send(new PutTargetsCommand({ Rule: s.rule, Targets: [{ Id: 'mlserve', Arn: aliasArn }] }));
    await allow(c.lambda, names, s.permission);
    done.push(`${s.rule}: ${s.expression}`);
  }
  return done;
}

/** Every trigger mlserve may have created for this function, found by name (works without local state). */
export async function removeTriggers(
  c: { lambda: LambdaClient; s3: S3Client; events: EventBridgeClient },
  names: AwsNames,
  config: Config,
  functionArn: string,
  dryRun: boolean,
): Promise<string[]> {
  const removed: string[] = [];
  for (const qualifier of [`${functionArn}:${names.alias}`, functionArn]) {
    const mappings = await eventSourceMappings(c.lambda, qualifier);
    for (const m of mappings) {
      if (!dryRun) await c.lambda.send(new DeleteEventSourceMappingCommand({ UUID: m.UUID! }));
      removed.push(`event source mapping ${m.EventSourceArn}`);
    }
  }
  for (const [i, t] of config.triggers.s3.entries()) {
    const id = `${names.rulePrefix}-${i}`;
    const current = await c.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: t.bucket })).catch((error: { name?: string }) => {
      if (error.name === 'NoSuchBucket') return undefined; // the watched bucket is gone, and its notifications with it
      throw error;
    });
    if (!current?.LambdaFunctionConfigurations?.some((n) => n.Id === id)) continue;
    if (!dryRun) {
      await c.s3.send(new PutBucketNotificationConfigurationCommand({
        Bucket: t.bucket,
        NotificationConfiguration: { ...current, LambdaFunctionConfigurations: current.LambdaFunctionConfigurations.filter((n) => n.Id !== id) },
      }));
    }
    removed.push(`s3 notification ${t.bucket} (${id})`);
  }
  const rules = (await c.events.send(new ListRulesCommand({ NamePrefix: names.rulePrefix }))).Rules ?? [];
  for (const r of rules) {
    if (!dryRun) {
      const targets = (await c.events.send(new ListTargetsByRuleCommand({ Rule: r.Name! }))).Targets ?? [];
      if (targets.length) await c.events.send(new RemoveTargetsCommand({ Rule: r.Name!, Ids: targets.map((t) => t.Id!) }));
      await c.events.send(new DeleteRuleCommand({ Name: r.Name! }));
    }
    removed.push(`schedule rule ${r.Name}`);
  }
  return removed;
}

/** The mappings of a function or alias; none when it does not exist, any other failure raised. */
async function eventSourceMappings(lambda: LambdaClient, functionName: string) {
  try {
    return (await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: functionName }))).EventSourceMappings ?? [];
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') return [];
    throw error;
  }
}
