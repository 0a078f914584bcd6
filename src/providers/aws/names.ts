import { createHash } from 'node:crypto';

/** Every name mlserve gives an AWS resource, derived from app, stage, account and region. */
export interface AwsNames {
  function: string;
  alias: string;
  role: string;
  policy: string;
  bucket: string;
  logGroup: string;
  /** The stage's private ECR repository (container images). */
  repository: string;
  /** Key prefix for this app and stage in the bucket. */
  prefix: string;
  rulePrefix: string;
  /** Every alarm of the stage starts with it; the dashboard's name. */
  alarmPrefix: string;
  dashboard: string;
  tags: Record<string, string>;
}

/**
 * Bucket names are global and at most 63 characters: a readable head and the first 10 hex digits of
 * the SHA-256 of `hashInput`, which make it unique per account and region (Terraform computes the
 * same name from the same two parts).
 */
export function bucketNameParts(app: string, stage: string, account: string, region: string): { head: string; hashInput: string } {
  return { head: `mlserve-${app}-${stage}`.slice(0, 63 - 11).replace(/-+$/, ''), hashInput: `${account}/${region}/${app}/${stage}` };
}

export function awsNames(app: string, stage: string, account: string, region: string, userTags: Record<string, string> = {}): AwsNames {
  const fn = `${app}-${stage}`.slice(0, 64);
  const { head, hashInput } = bucketNameParts(app, stage, account, region);
  const bucket = `${head}-${createHash('sha256').update(hashInput).digest('hex').slice(0, 10)}`;
  return {
    function: fn,
    alias: stage,
    role: `mlserve-${fn}`.slice(0, 64),
    policy: 'mlserve-least-privilege',
    bucket,
    logGroup: `/aws/lambda/${fn}`,
    repository: `mlserve/${fn}`,
    prefix: `${app}/${stage}`,
    rulePrefix: `mlserve-${fn}`.slice(0, 56),
    alarmPrefix: `mlserve-${fn}-`,
    dashboard: `mlserve-${fn}`,
    tags: { ...userTags, 'mlserve:app': app, 'mlserve:stage': stage },
  };
}
