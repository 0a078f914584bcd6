import {
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  GetRoleCommand,
  ListRolePoliciesCommand,
  ListRoleTagsCommand,
  PutRolePolicyCommand,
  TagRoleCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';
import type { Config } from '../../core/config/schema.js';
import type { AwsNames } from './names.js';

export const TRUST_POLICY = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
};

/**
 * Least privilege: write logs to the function's own log group, read its own artifacts, and only
 * what its configured triggers need (read the watched prefix, write the output prefix, consume the
 * queue). Nothing else.
 */
export function executionPolicy(names: AwsNames, where: { account: string; region: string; partition: string; bucket: string }, config: Config): Record<string, unknown> {
  const { account, region, partition, bucket } = where;
  const logGroup = `arn:${partition}:logs:${region}:${account}:log-group:${names.logGroup}`;
  const statements: Record<string, unknown>[] = [
    { Sid: 'OwnLogGroup', Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: `${logGroup}:*` },
    // The bucket the artifacts really go to: the configured aws.bucket, else the generated one.
    { Sid: 'OwnArtifacts', Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:${partition}:s3:::${bucket}/${names.prefix}/artifacts/*` },
  ];
  for (const [i, t] of config.triggers.s3.entries()) {
    statements.push({ Sid: `ReadWatched${i}`, Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:${partition}:s3:::${t.bucket}/${t.prefix}*` });
    statements.push({ Sid: `WritePredictions${i}`, Effect: 'Allow', Action: 's3:PutObject', Resource: `arn:${partition}:s3:::${t.output.bucket}/${t.output.prefix}*` });
  }
  if (config.triggers.sqs.length > 0) {
    statements.push({ Sid: 'ConsumeQueues', Effect: 'Allow', Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'], Resource: config.triggers.sqs.map((q) => q.queueArn) });
  }
  return { Version: '2012-10-17', Statement: statements };
}

/** Create or update the execution role (tagged so destroy knows it is ours). Returns its ARN. */
export async function ensureRole(iam: IAMClient, names: AwsNames, policy: Record<string, unknown>): Promise<{ arn: string; created: boolean }> {
  let arn: string;
  let created = false;
  try {
    arn = (await iam.send(new GetRoleCommand({ RoleName: names.role }))).Role!.Arn!;
  } catch (error) {
    if (!isNoSuchEntity(error)) throw error;
    arn = (
      await iam.send(new CreateRoleCommand({
        RoleName: names.role,
        AssumeRolePolicyDocument: JSON.stringify(TRUST_POLICY),
        Description: `mlserve execution role for ${names.function}`,
        Tags: Object.entries(names.tags).map(([Key, Value]) => ({ Key, Value })),
      }))
    ).Role!.Arn!;
    created = true;
  }
  await iam.send(new TagRoleCommand({ RoleName: names.role, Tags: Object.entries(names.tags).map(([Key, Value]) => ({ Key, Value })) }));
  await iam.send(new PutRolePolicyCommand({ RoleName: names.role, PolicyName: names.policy, PolicyDocument: JSON.stringify(policy) }));
  return { arn, created };
}

/** IAM's "not found" (the SDK names it NoSuchEntityException; some endpoints say NoSuchEntity). */
export function isNoSuchEntity(error: unknown): boolean {
  const name = (error as { name?: string }).name;
  return name === 'NoSuchEntityException' || name === 'NoSuchEntity';
}

/** The role's tags, or undefined when the role does not exist (any other failure is raised). */
export async function roleTags(iam: IAMClient, role: string): Promise<Record<string, string> | undefined> {
  try {
    await iam.send(new GetRoleCommand({ RoleName: role }));
  } catch (error) {
    if (isNoSuchEntity(error)) return undefined;
    throw error;
  }
  return Object.fromEntries(((await iam.send(new ListRoleTagsCommand({ RoleName: role }))).Tags ?? []).map((t) => [t.Key!, t.Value!]));
}

export async function deleteRole(iam: IAMClient, role: string): Promise<void> {
  const policies = await iam.send(new ListRolePoliciesCommand({ RoleName: role }));
  for (const name of policies.PolicyNames ?? []) await iam.send(new DeleteRolePolicyCommand({ RoleName: role, PolicyName: name }));
  await iam.send(new DeleteRoleCommand({ RoleName: role }));
}

export type { Config };
