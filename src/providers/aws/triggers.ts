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

async function allow(lambda: LambdaClient, names: AwsNames, id: string, principal: string, sourceArn: string, account?: string): Promise<void> {
  try {
    await lambda.send(new AddPermissionCommand({ FunctionName: names.function, Qualifier: names.alias, StatementId: id, Action: 'lambda:InvokeFunction', Principal: principal, SourceArn: sourceArn, ...(account ? { SourceAccount: account } : {}) }));
  } catch (error) {
    if ((error as { name?: string }).name !== 'ResourceConflictException') throw error;
  }
}

/** S3 notifications, SQS mappings (ReportBatchItemFailures) and schedule rules, all on the alias. */
export async function ensureTriggers(
  c: { lambda: LambdaClient; s3: S3Client; events: EventBridgeClient; partition: string },
  names: AwsNames,
  config: Config,
  aliasArn: string,
  account: string,
): Promise<string[]> {
  const done: string[] = [];
  for (const [i, t] of config.triggers.s3.entries()) {
    await allow(c.lambda, names, `mlserve-s3-${i}`, 's3.amazonaws.com', `arn:${c.partition}:s3:::${t.bucket}`, account);
    const current = await c.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: t.bucket }));
    const id = `${names.rulePrefix}-${i}`;
    const others = (current.LambdaFunctionConfigurations ?? []).filter((n) => n.Id !== id);
    const rules = [...(t.prefix ? [{ Name: 'prefix' as const, Value: t.prefix }] : []), ...(t.suffix ? [{ Name: 'suffix' as const, Value: t.suffix }] : [])];
    await c.s3.send(new PutBucketNotificationConfigurationCommand({
      Bucket: t.bucket,
      NotificationConfiguration: {
        ...current,
        LambdaFunctionConfigurations: [...others, { Id: id, LambdaFunctionArn: aliasArn, Events: ['s3:ObjectCreated:*'], ...(rules.length ? { Filter: { Key: { FilterRules: rules } } } : {}) }],
      },
    }));
    done.push(`s3://${t.bucket}/${t.prefix}*${t.suffix}`);
  }
  const mappings = (await c.lambda.send(new ListEventSourceMappingsCommand({ FunctionName: aliasArn }))).EventSourceMappings ?? [];
  for (const q of config.triggers.sqs) {
    const existing = mappings.find((m) => m.EventSourceArn === q.queueArn);
    const settings = { BatchSize: q.batchSize, FunctionResponseTypes: ['ReportBatchItemFailures' as const] };
    if (existing) await c.lambda.send(new UpdateEventSourceMappingCommand({ UUID: existing.UUID!, FunctionName: aliasArn, ...settings }));
    else await c.lambda.send(new CreateEventSourceMappingCommand({ FunctionName: aliasArn, EventSourceArn: q.queueArn, ...settings }));
    done.push(q.queueArn);
  }
  for (const [i, s] of config.triggers.schedule.entries()) {
    const rule = `${names.rulePrefix}-${i}`;
    const out = await c.events.send(new PutRuleCommand({ Name: rule, ScheduleExpression: s.expression, State: 'ENABLED', Tags: Object.entries(names.tags).map(([Key, Value]) => ({ Key, Value })) }));
    await c.events.send(new PutTargetsCommand({ Rule: rule, Targets: [{ Id: 'mlserve', Arn: aliasArn }] }));
    await allow(c.lambda, names, `mlserve-schedule-${i}`, 'events.amazonaws.com', out.RuleArn!);
    done.push(`${rule}: ${s.expression}`);
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
