import { CreateLogGroupCommand, DescribeLogGroupsCommand, PutRetentionPolicyCommand, TagResourceCommand, type CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { AwsNames } from './names.js';

/** The function's log group, created or found, tagged, with 30-day retention. */
export async function ensureLogGroup(logs: CloudWatchLogsClient, names: AwsNames): Promise<void> {
  try {
    await logs.send(new CreateLogGroupCommand({ logGroupName: names.logGroup, tags: names.tags }));
  } catch (error) {
    if ((error as { name?: string }).name !== 'ResourceAlreadyExistsException') throw error;
    const arn = await logGroupArn(logs, names.logGroup);
    if (arn) await logs.send(new TagResourceCommand({ resourceArn: arn.replace(/:\*$/, ''), tags: names.tags }));
  }
  await logs.send(new PutRetentionPolicyCommand({ logGroupName: names.logGroup, retentionInDays: 30 }));
}

/** The log group's ARN, or undefined when it does not exist. */
export async function logGroupArn(logs: CloudWatchLogsClient, name: string): Promise<string | undefined> {
  const out = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name }));
  return out.logGroups?.find((g) => g.logGroupName === name)?.arn;
}
