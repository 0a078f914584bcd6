import { CreateLogGroupCommand, DescribeLogGroupsCommand, PutRetentionPolicyCommand, TagResourceCommand, type CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { AwsPlan } from './plan.js';

/** The function's log group as planned: created or found, tagged, with its retention. */
export async function ensureLogGroup(logs: CloudWatchLogsClient, plan: AwsPlan['logGroup']): Promise<void> {
  try {
    await logs.send(new CreateLogGroupCommand({ logGroupName: plan.name, tags: plan.tags }));
  } catch (error) {
    if ((error as { name?: string }).name !== 'ResourceAlreadyExistsException') throw error;
    const arn = await logGroupArn(logs, plan.name);
    if (arn) await logs.send(new TagResourceCommand({ resourceArn: arn.replace(/:\*$/, ''), tags: plan.tags }));
  }
  await logs.send(new PutRetentionPolicyCommand({ logGroupName: plan.name, retentionInDays: plan.retentionInDays }));
}

/** The log group's ARN, or undefined when it does not exist. */
export async function logGroupArn(logs: CloudWatchLogsClient, name: string): Promise<string | undefined> {
  const out = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name }));
  return out.logGroups?.find((g) => g.logGroupName === name)?.arn;
}
