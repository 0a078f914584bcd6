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
import type { RolePlan } from './plan.js';

/** Create or update the planned execution role (tagged so destroy knows it is ours). Returns its ARN. */
export async function ensureRole(iam: IAMClient, role: RolePlan): Promise<{ arn: string; created: boolean }> {
  let arn: string;
  let created = false;
  try {
    arn = (await iam.send(new GetRoleCommand({ RoleName: role.name }))).Role!.Arn!;
  } catch (error) {
    if (!isNoSuchEntity(error)) throw error;
    arn = (
      await iam.send(new CreateRoleCommand({
        RoleName: role.name,
        AssumeRolePolicyDocument: JSON.stringify(role.trust),
        Description: role.description,
        Tags: Object.entries(role.tags).map(([Key, Value]) => ({ Key, Value })),
      }))
    ).Role!.Arn!;
    created = true;
  }
  await iam.send(new TagRoleCommand({ RoleName: role.name, Tags: Object.entries(role.tags).map(([Key, Value]) => ({ Key, Value })) }));
  await iam.send(new PutRolePolicyCommand({ RoleName: role.name, PolicyName: role.policyName, PolicyDocument: JSON.stringify(role.policy) }));
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

