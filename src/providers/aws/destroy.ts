import { DeleteLogGroupCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DeleteFunctionCommand } from '@aws-sdk/client-lambda';
import type { LoadedConfig } from '../../core/config/load.js';
import { MlserveError } from '../../core/errors.js';
import { bucketExists, bucketTags, deleteBucket, deleteObjects } from './bucket.js';
import type { AwsClients } from './clients.js';
import { getFunction } from './function.js';
import { logGroupArn } from './log-group.js';
import { removeMonitoring } from './monitoring.js';
import type { AwsNames } from './names.js';
import { withRetry, type RetryOptions } from './retry.js';
import { deleteRepository } from './repository.js';
import { deleteRole, roleTags } from './role.js';
import { removeTriggers } from './triggers.js';

/**
 * Remove everything mlserve created for this app and stage, found by name and checked by its
 * mlserve:app / mlserve:stage tags (so it needs no local state and never touches what it did not
 * create). Only "not found" counts as already gone; every other failure is raised.
 */
export async function destroyAll(c: AwsClients, names: AwsNames, loaded: LoadedConfig, o: { dryRun: boolean; retry: RetryOptions }): Promise<string[]> {
  const { config, stage } = loaded;
  const removed: string[] = [];
  const mine = (tags: Record<string, string>) => tags['mlserve:app'] === names.tags['mlserve:app'] && tags['mlserve:stage'] === names.tags['mlserve:stage'];
  const fn = await getFunction(c.lambda, names.function);
  let bucket = config.aws.bucket ?? names.bucket;
  let ownsBucket = !config.aws.bucket;
  let ownsRole = !config.aws.role;
  if (fn) {
    if (!mine(fn.tags)) {
      throw new MlserveError('NOT_OWNED', `function ${names.function} exists but is not tagged mlserve:app=${config.name}, mlserve:stage=${stage}`, { hint: 'mlserve only removes what it created; delete it by hand if it is yours' });
    }
    bucket = fn.tags['mlserve:bucket'] ?? bucket;
    ownsBucket = fn.tags['mlserve:owns-bucket'] !== 'false';
    ownsRole = fn.tags['mlserve:owns-role'] !== 'false';
    removed.push(...(await removeTriggers(c, names, config, fn.configuration.FunctionArn!, o.dryRun)));
    if (!o.dryRun) await withRetry(() => c.lambda.send(new DeleteFunctionCommand({ FunctionName: names.function })), o.retry);
    removed.push(`function ${names.function} (all versions, the ${names.alias} alias and its URL)`);
  }
  removed.push(...(await removeMonitoring(c.cloudwatch, names, o.dryRun)));
  if (await deleteRepository(c.ecr, names.repository, names.tags, o.dryRun)) removed.push(`ECR repository ${names.repository} and its images`);
  if (await logGroupArn(c.logs, names.logGroup)) {
    if (!o.dryRun) await c.logs.send(new DeleteLogGroupCommand({ logGroupName: names.logGroup }));
    removed.push(`log group ${names.logGroup}`);
  }
  const tags = ownsRole ? await roleTags(c.iam, names.role) : undefined;
  if (tags && mine(tags)) {
    if (!o.dryRun) await deleteRole(c.iam, names.role);
    removed.push(`role ${names.role}`);
  }
  if (await bucketExists(c.s3, bucket)) {
    const btags = await bucketTags(c.s3, bucket);
    if (ownsBucket && mine(btags) && btags['mlserve:created'] === 'true') {
      if (!o.dryRun) await deleteBucket(c.s3, bucket);
      removed.push(`bucket ${bucket} and its objects`);
    } else {
      const n = o.dryRun ? 0 : await deleteObjects(c.s3, bucket, `${names.prefix}/`);
      removed.push(`objects under s3://${bucket}/${names.prefix}/${o.dryRun ? '' : ` (${n})`}`);
    }
  }
  return removed;
}
