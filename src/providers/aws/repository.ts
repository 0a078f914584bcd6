import {
  CreateRepositoryCommand,
  DeleteRepositoryCommand,
  DescribeRepositoriesCommand,
  GetAuthorizationTokenCommand,
  ListTagsForResourceCommand,
  PutLifecyclePolicyCommand,
  RepositoryNotFoundException,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import { MlserveError } from '../../core/errors.js';
import type { RegistryTarget } from '../../packaging/image/registry.js';
import { REPOSITORY } from './plan.js';

export const LIFECYCLE_POLICY = JSON.stringify(REPOSITORY.lifecyclePolicy);

/**
 * The app's private ECR repository, created when missing: immutable tags, scan on push, encrypted,
 * tagged `mlserve:app`/`mlserve:stage`, with the lifecycle policy. One that exists must carry the
 * app's tag: mlserve never pushes into (or later deletes) a repository it did not create.
 */
export async function ensureRepository(ecr: ECRClient, name: string, tags: Record<string, string>): Promise<{ uri: string; created: boolean }> {
  const existing = await describe(ecr, name);
  if (existing) {
    const { tags: current = [] } = await ecr.send(new ListTagsForResourceCommand({ resourceArn: existing.repositoryArn! }));
    if (!ownedBy(current, tags)) {
      throw new MlserveError('NOT_OWNED', `ECR repository ${name} exists but was not created by mlserve for app ${tags['mlserve:app']}, stage ${tags['mlserve:stage']}`, {
        hint: 'choose another app name, or delete the repository if it is no longer used',
      });
    }
    await ecr.send(new PutLifecyclePolicyCommand({ repositoryName: name, lifecyclePolicyText: LIFECYCLE_POLICY }));
    return { uri: existing.repositoryUri!, created: false };
  }
  const created = await ecr.send(
    new CreateRepositoryCommand({
      repositoryName: name,
      imageTagMutability: REPOSITORY.imageTagMutability,
      imageScanningConfiguration: { scanOnPush: REPOSITORY.scanOnPush },
      encryptionConfiguration: { encryptionType: REPOSITORY.encryptionType },
      tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    }),
  );
  await ecr.send(new PutLifecyclePolicyCommand({ repositoryName: name, lifecyclePolicyText: LIFECYCLE_POLICY }));
  return { uri: created.repository!.repositoryUri!, created: true };
}

/**
 * Where and how to push: the registry ECR's token names (or `MLSERVE_REGISTRY_URL`, for LocalStack
 * and tests, the way AWS_ENDPOINT_URL overrides the API's) and the token as Basic credentials.
 */
export async function registryTarget(ecr: ECRClient, repository: string, env: Record<string, string | undefined>): Promise<RegistryTarget> {
  const { authorizationData = [] } = await ecr.send(new GetAuthorizationTokenCommand({}));
  const data = authorizationData[0];
  if (!data?.authorizationToken || !data.proxyEndpoint) {
    throw new MlserveError('PROVIDER_ERROR', 'ECR returned no authorization token', { hint: 'check that the credentials may call ecr:GetAuthorizationToken' });
  }
  return { url: env.MLSERVE_REGISTRY_URL ?? data.proxyEndpoint, repository, authorization: `Basic ${data.authorizationToken}` };
}

function ownedBy(current: { Key?: string | undefined; Value?: string | undefined }[], tags: Record<string, string>): boolean {
  return ['mlserve:app', 'mlserve:stage'].every((k) => current.some((t) => t.Key === k && t.Value === tags[k]));
}

/**
 * Delete the stage's repository and every image in it, when it is one mlserve created for this app
 * and stage; gone already is done. Returns whether there was one to delete.
 */
export async function deleteRepository(ecr: ECRClient, name: string, tags: Record<string, string>, dryRun = false): Promise<boolean> {
  const existing = await describe(ecr, name);
  if (!existing) return false;
  const { tags: current = [] } = await ecr.send(new ListTagsForResourceCommand({ resourceArn: existing.repositoryArn! }));
  if (!ownedBy(current, tags)) return false;
  if (dryRun) return true;
  try {
    await ecr.send(new DeleteRepositoryCommand({ repositoryName: name, force: true }));
    return true;
  } catch (error) {
    if (error instanceof RepositoryNotFoundException) return false;
    throw error;
  }
}

async function describe(ecr: ECRClient, name: string) {
  try {
    const { repositories = [] } = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [name] }));
    return repositories[0];
  } catch (error) {
    if (error instanceof RepositoryNotFoundException) return undefined;
    throw error;
  }
}
