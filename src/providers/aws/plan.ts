import type { Config } from '../../core/config/schema.js';
import type { PackagedBundle } from '../../packaging/packaged.js';
import { awsNames, type AwsNames } from './names.js';

/**
 * What `deploy --provider aws` creates for an app and stage, as plain values: the one source that
 * the deploy applies (bucket.ts, role.ts, log-group.ts, function.ts, triggers.ts, monitoring.ts read
 * it) and that `export` writes as CloudFormation, SAM or Terraform. Pure: no SDK, no network.
 *
 * Where the deployment lives (account, region, partition, bucket) is given by the caller: a deploy
 * passes real values, an export passes tokens (`TOKENS`) that each template format resolves its own
 * way (`${AWS::AccountId}`, `data.aws_caller_identity…`). The stage is always real: the config is
 * resolved for it and the bundle's offloaded-artifact keys carry it.
 */
export interface AwsWhere {
  account: string;
  region: string;
  partition: string;
  /** The bucket artifacts and code go to: the configured aws.bucket, else mlserve's own. */
  bucket: string;
  stage: string;
}

/** Placeholders for values only the account a template is deployed to knows (private-use characters: never in real input). */
export const TOKENS = {
  account: '\uE000account\uE001',
  region: '\uE000region\uE001',
  partition: '\uE000partition\uE001',
  bucket: '\uE000bucket\uE001',
} as const;
export const TOKEN_PATTERN = /\uE000(account|region|partition|bucket)\uE001/g;

export const TRUST_POLICY = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
};

const LOG_RETENTION_DAYS = 30;

/**
 * The stage's ECR repository (container images): immutable tags, scanned on push, encrypted; untagged
 * images (what every replaced build leaves) expire after a day, tagged ones are versions.
 */
export const REPOSITORY = {
  imageTagMutability: 'IMMUTABLE',
  scanOnPush: true,
  encryptionType: 'AES256',
  lifecyclePolicy: {
    rules: [
      {
        rulePriority: 1,
        description: 'mlserve: expire untagged images after a day',
        selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 },
        action: { type: 'expire' },
      },
    ],
  },
} as const;

/** The statement that makes a Function URL with auth NONE callable by anyone (removed when auth goes back to AWS_IAM). */
export const PUBLIC_URL_STATEMENT = 'mlserve-public-url';

/** Lambda's CodeSha256: the base64 SHA-256 of the zip. */
export function codeSha256(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}

/** A version's description: the bundle and model it runs (what `versions` lists). */
export function versionDescription(bundleSha256: string, modelSha256: string): string {
  return `mlserve bundle=${bundleSha256} model=${modelSha256}`;
}

export interface BucketPlan {
  name: string;
  /** mlserve creates (and may delete) it: aws.bucket is not set. */
  create: boolean;
  publicAccessBlock: { BlockPublicAcls: true; IgnorePublicAcls: true; BlockPublicPolicy: true; RestrictPublicBuckets: true };
  encryption: { SSEAlgorithm: 'AES256'; BucketKeyEnabled: true };
  lifecycle: { ID: string; Prefix: string; ExpirationDays?: number; AbortIncompleteMultipartUploadDays?: number }[];
  tags: Record<string, string>;
}

export interface RolePlan {
  name: string;
  description: string;
  trust: typeof TRUST_POLICY;
  policyName: string;
  policy: { Version: string; Statement: Statement[] };
  tags: Record<string, string>;
}

export interface Statement {
  Sid: string;
  Effect: 'Allow';
  Action: string | string[];
  Resource: string | string[];
}

export interface FunctionPlan {
  name: string;
  packageType: 'Zip' | 'Image';
  /** Zip only: an image's command names its handler. */
  runtime?: string;
  handler?: string;
  memory: number;
  timeout: number;
  ephemeralStorageMb: number;
  architecture: 'x86_64' | 'arm64';
  environment: Record<string, string>;
  description: string;
  tags: Record<string, string>;
  reservedConcurrency?: number;
}

export interface UrlPlan {
  authType: 'AWS_IAM' | 'NONE';
  cors?: { AllowOrigins: string[]; AllowMethods: string[]; AllowHeaders: string[]; MaxAge: number };
  /** With auth NONE: the resource-based statement that lets anyone call the URL. */
  publicStatementId?: string;
}

export interface PermissionPlan {
  statementId: string;
  principal: string;
  sourceArn: string;
  sourceAccount?: string;
}

export interface S3TriggerPlan {
  bucket: string;
  permission: PermissionPlan;
  notification: { Id: string; Events: ['s3:ObjectCreated:*']; FilterRules: { Name: 'prefix' | 'suffix'; Value: string }[] };
}

/** A metric alarm in the shape CloudWatch's PutMetricAlarm and CloudFormation's AWS::CloudWatch::Alarm share. */
export interface AlarmPlan {
  AlarmName: string;
  AlarmDescription: string;
  ComparisonOperator: 'GreaterThanThreshold';
  Threshold: number;
  EvaluationPeriods: number;
  DatapointsToAlarm: number;
  TreatMissingData: 'notBreaching';
  /** One metric and statistic ... */
  Namespace?: string;
  MetricName?: string;
  Dimensions?: { Name: string; Value: string }[];
  Period?: number;
  Statistic?: 'Sum';
  ExtendedStatistic?: string;
  /** ... or metric math over several. */
  Metrics?: ({ Id: string; MetricStat: { Metric: { Namespace: string; MetricName: string; Dimensions: { Name: string; Value: string }[] }; Period: number; Stat: 'Sum' }; ReturnData: false } | { Id: string; Expression: string; Label: string; ReturnData: true })[];
  AlarmActions: string[];
  OKActions: string[];
  Tags: { Key: string; Value: string }[];
}

/** Every alarm's name starts with the stage's `names.alarmPrefix`: destroy and a deploy with alarms off find them by it. */
export interface MonitoringPlan {
  alarms: AlarmPlan[];
  /** Absent when monitoring.alarms is false. */
  dashboard?: { name: string; body: Record<string, unknown> };
}

export interface AwsPlan {
  names: AwsNames;
  bucket: BucketPlan;
  /** Absent when aws.role names the user's own role. */
  role?: RolePlan;
  roleArn?: string;
  logGroup: { name: string; retentionInDays: number; tags: Record<string, string> };
  function: FunctionPlan;
  alias: string;
  url: UrlPlan;
  triggers: {
    s3: S3TriggerPlan[];
    sqs: { eventSourceArn: string; batchSize: number; functionResponseTypes: ['ReportBatchItemFailures'] }[];
    schedule: { rule: string; expression: string; permission: PermissionPlan; tags: Record<string, string> }[];
  };
  monitoring: MonitoringPlan;
}

/** Where deploy puts a zip too big to send in the call (content-addressed; expires: Lambda keeps its own copy). */
export function codeKeyOf(names: AwsNames, sha256: string): string {
  return `${names.prefix}/code/${sha256}.zip`;
}

/**
 * Where an exported template's zip lives: outside the expiring `code/` prefix, because
 * CloudFormation and Terraform read it again whenever they replace the function, long after.
 */
export function exportCodeKeyOf(names: AwsNames, sha256: string): string {
  return `${names.prefix}/export/${sha256}.zip`;
}

/** The whole deployment for this config and bundle, in `where`. */
export function awsPlan(config: Config, bundle: Pick<PackagedBundle, 'ephemeralStorageMb' | 'packageType'>, where: AwsWhere): AwsPlan {
  const names = awsNames(config.name, where.stage, where.account, where.region, config.tags);
  const ownBucket = !config.aws.bucket;
  return {
    names,
    bucket: bucketPlan(where.bucket, ownBucket, names),
    ...(config.aws.role ? { roleArn: config.aws.role } : { role: rolePlan(names, where, config) }),
    logGroup: { name: names.logGroup, retentionInDays: LOG_RETENTION_DAYS, tags: names.tags },
    function: functionPlan(config, names, bundle, where),
    alias: names.alias,
    url: urlPlan(config),
    triggers: triggersPlan(config, names, where),
    monitoring: monitoringPlan(config, names, where),
  };
}

/** Lambda's own metrics for the stage: the function's, through its alias. */
function aliasDimensions(names: AwsNames): { Name: string; Value: string }[] {
  return [{ Name: 'FunctionName', Value: names.function }, { Name: 'Resource', Value: `${names.function}:${names.alias}` }];
}

/**
 * Alarms on the stage's alias, each in 3 of the last 5 minutes so one bad minute does not page:
 * error rate over `monitoring.errorRate` %, p99 duration over `monitoring.p99` ms, any throttle.
 * Minutes without requests count as fine.
 */
function monitoringPlan(config: Config, names: AwsNames, where: AwsWhere): MonitoringPlan {
  const prefix = names.alarmPrefix;
  if (!config.monitoring.alarms) return { alarms: [] };
  const Dimensions = aliasDimensions(names);
  const topic = config.monitoring.alarmTopic ? [config.monitoring.alarmTopic] : [];
  const common = {
    ComparisonOperator: 'GreaterThanThreshold' as const,
    EvaluationPeriods: 5,
    DatapointsToAlarm: 3,
    TreatMissingData: 'notBreaching' as const,
    AlarmActions: topic,
    OKActions: topic,
    Tags: Object.entries(names.tags).map(([Key, Value]) => ({ Key, Value })),
  };
  const sum = (Id: string, MetricName: string) => ({ Id, MetricStat: { Metric: { Namespace: 'AWS/Lambda', MetricName, Dimensions }, Period: 60, Stat: 'Sum' as const }, ReturnData: false as const });
  const alarms: AlarmPlan[] = [
    {
      AlarmName: `${prefix}error-rate`,
      AlarmDescription: `mlserve: more than ${config.monitoring.errorRate}% of ${names.alias}'s requests failed (monitoring.errorRate)`,
      Threshold: config.monitoring.errorRate,
      Metrics: [sum('errors', 'Errors'), sum('invocations', 'Invocations'), { Id: 'rate', Expression: 'IF(invocations > 0, 100 * errors / invocations, 0)', Label: 'Error rate (%)', ReturnData: true }],
      ...common,
    },
    { AlarmName: `${prefix}p99`, AlarmDescription: `mlserve: ${names.alias}'s p99 latency is over ${config.monitoring.p99} ms (monitoring.p99)`, Threshold: config.monitoring.p99, Namespace: 'AWS/Lambda', MetricName: 'Duration', Dimensions, Period: 60, ExtendedStatistic: 'p99', ...common },
    { AlarmName: `${prefix}throttles`, AlarmDescription: `mlserve: ${names.alias}'s requests are being throttled (raise resources.concurrency or the account's limit)`, Threshold: 0, Namespace: 'AWS/Lambda', MetricName: 'Throttles', Dimensions, Period: 60, Statistic: 'Sum', ...common },
  ];
  return { alarms, dashboard: { name: names.dashboard, body: dashboardBody(config, names, where, alarms) } };
}

/** The stage at a glance: requests, errors and throttles; p50/p90/p99 against the target; cold starts; the alarms. */
function dashboardBody(config: Config, names: AwsNames, where: AwsWhere, alarms: AlarmPlan[]): Record<string, unknown> {
  const dims = aliasDimensions(names).flatMap((d) => [d.Name, d.Value]);
  const widget = (x: number, y: number, properties: Record<string, unknown>) => ({ type: 'metric', x, y, width: 12, height: 6, properties: { region: where.region, period: 60, ...properties } });
  return {
    widgets: [
      widget(0, 0, { title: 'Requests, errors, throttles', stat: 'Sum', metrics: ['Invocations', 'Errors', 'Throttles'].map((m) => ['AWS/Lambda', m, ...dims]) }),
      widget(12, 0, {
        title: 'Latency (ms)',
        metrics: ['p50', 'p90', 'p99'].map((stat) => ['AWS/Lambda', 'Duration', ...dims, { stat }]),
        annotations: { horizontal: [{ label: 'p99 target (monitoring.p99)', value: config.monitoring.p99 }] },
      }),
      widget(0, 6, { title: 'Cold starts and model latency (the handler’s metrics)', metrics: [['mlserve', 'ColdStart', 'Model', config.name, { stat: 'Sum' }], ['mlserve', 'Latency', 'Model', config.name, { stat: 'p99' }]] }),
      { type: 'alarm', x: 12, y: 6, width: 12, height: 6, properties: { title: 'Alarms', alarms: alarms.map((a) => `arn:${where.partition}:cloudwatch:${where.region}:${where.account}:alarm:${a.AlarmName}`) } },
    ],
  };
}

function bucketPlan(name: string, create: boolean, names: AwsNames): BucketPlan {
  return {
    name,
    create,
    publicAccessBlock: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true },
    encryption: { SSEAlgorithm: 'AES256', BucketKeyEnabled: true },
    // Uploaded code expires (Lambda keeps its own copy); stale multipart uploads are aborted.
    lifecycle: [
      { ID: 'mlserve-superseded-code', Prefix: `${names.prefix}/code/`, ExpirationDays: 30 },
      { ID: 'mlserve-abort-multipart', Prefix: '', AbortIncompleteMultipartUploadDays: 1 },
    ],
    tags: { ...names.tags, 'mlserve:created': 'true' },
  };
}

function rolePlan(names: AwsNames, where: AwsWhere, config: Config): RolePlan {
  return {
    name: names.role,
    description: `mlserve execution role for ${names.function}`,
    trust: TRUST_POLICY,
    policyName: names.policy,
    policy: executionPolicy(names, where, config),
    tags: names.tags,
  };
}

/**
 * Least privilege: write logs to the function's own log group, read its own artifacts, and only
 * what its configured triggers need (read the watched prefix, write the output prefix, consume the
 * queue). Nothing else.
 */
export function executionPolicy(names: AwsNames, where: Pick<AwsWhere, 'account' | 'region' | 'partition' | 'bucket'>, config: Config): RolePlan['policy'] {
  const { account, region, partition, bucket } = where;
  const logGroup = `arn:${partition}:logs:${region}:${account}:log-group:${names.logGroup}`;
  const statements: Statement[] = [
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

function functionPlan(config: Config, names: AwsNames, bundle: Pick<PackagedBundle, 'ephemeralStorageMb' | 'packageType'>, where: AwsWhere): FunctionPlan {
  const zip = bundle.packageType === 'zip';
  return {
    name: names.function,
    packageType: zip ? 'Zip' : 'Image',
    ...(zip ? { runtime: `python${config.runtime.python}`, handler: 'mlserve_handler.handler' } : {}),
    memory: config.resources.memory,
    timeout: config.resources.timeout,
    ephemeralStorageMb: bundle.ephemeralStorageMb,
    architecture: config.runtime.arch,
    environment: { ...config.environment, MLSERVE_ARTIFACTS_BUCKET: where.bucket, MLSERVE_STAGE: where.stage },
    description: `mlserve: ${names.tags['mlserve:app']} (${names.tags['mlserve:stage']})`,
    // Destroy reads these to know what it may delete without any local state.
    tags: { ...names.tags, 'mlserve:bucket': where.bucket, 'mlserve:owns-bucket': String(!config.aws.bucket), 'mlserve:owns-role': String(!config.aws.role) },
    ...(config.resources.concurrency !== undefined ? { reservedConcurrency: config.resources.concurrency } : {}),
  };
}

function urlPlan(config: Config): UrlPlan {
  const cors = config.endpoint.cors;
  return {
    authType: config.endpoint.public ? 'NONE' : 'AWS_IAM',
    ...(cors ? { cors: { AllowOrigins: cors.origins, AllowMethods: cors.methods, AllowHeaders: cors.headers, MaxAge: cors.maxAge } } : {}),
    ...(config.endpoint.public ? { publicStatementId: PUBLIC_URL_STATEMENT } : {}),
  };
}

function triggersPlan(config: Config, names: AwsNames, where: AwsWhere): AwsPlan['triggers'] {
  const { partition, region, account } = where;
  return {
    s3: config.triggers.s3.map((t, i) => ({
      bucket: t.bucket,
      permission: { statementId: `mlserve-s3-${i}`, principal: 's3.amazonaws.com', sourceArn: `arn:${partition}:s3:::${t.bucket}`, sourceAccount: account },
      notification: {
        Id: `${names.rulePrefix}-${i}`,
        Events: ['s3:ObjectCreated:*'],
        FilterRules: [...(t.prefix ? [{ Name: 'prefix' as const, Value: t.prefix }] : []), ...(t.suffix ? [{ Name: 'suffix' as const, Value: t.suffix }] : [])],
      },
    })),
    sqs: config.triggers.sqs.map((q) => ({ eventSourceArn: q.queueArn, batchSize: q.batchSize, functionResponseTypes: ['ReportBatchItemFailures'] })),
    schedule: config.triggers.schedule.map((s, i) => {
      const rule = `${names.rulePrefix}-${i}`;
      return {
        rule,
        expression: s.expression,
        permission: { statementId: `mlserve-schedule-${i}`, principal: 'events.amazonaws.com', sourceArn: `arn:${partition}:events:${region}:${account}:rule/${rule}` },
        tags: names.tags,
      };
    }),
  };
}
