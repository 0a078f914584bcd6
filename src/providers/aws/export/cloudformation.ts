import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { codeSha256, REPOSITORY, TOKEN_PATTERN, TOKENS, TRUST_POLICY, versionDescription, type AwsPlan, type BucketPlan, type PermissionPlan } from '../plan.js';

/** What a template is written from: the plan (with account, region, partition and bucket as tokens) and the bundle. */
export interface TemplateInput {
  plan: AwsPlan;
  bundle: { sha256: string; modelSha256: string };
  /** A zip's key in the artifacts bucket. */
  codeKey?: string;
  /** The ArtifactsBucket parameter's default: the configured or uploaded-to bucket, when known. */
  bucketDefault?: string;
  /** An image function's image by digest, once pushed (the ImageUri parameter's default). */
  imageUri?: string;
}

const isImage = (plan: AwsPlan) => plan.function.packageType === 'Image';

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };
type Template = { [k: string]: Json };

const PSEUDO: Record<string, string> = { account: 'AWS::AccountId', region: 'AWS::Region', partition: 'AWS::Partition', bucket: 'ArtifactsBucket' };
const NOTIFIER = fileURLToPath(new URL('../../../../templates/cloudformation/s3_notification.py', import.meta.url));

/**
 * A plan string as CloudFormation: literal, a Ref when it is one token, else Fn::Sub with each
 * token a `${…}` and every literal `${` escaped as `${!`.
 */
export function cfn(value: string): Json {
  const parts = value.split(TOKEN_PATTERN);
  if (parts.length === 1) return value;
  if (parts.length === 3 && parts[0] === '' && parts[2] === '') return { Ref: PSEUDO[parts[1]!]! };
  return { 'Fn::Sub': parts.map((p, i) => (i % 2 === 1 ? `\${${PSEUDO[p]!}}` : p.replaceAll('${', '${!'))).join('') };
}

/** Every string in a value through `cfn`. */
function deep(value: unknown): Json {
  if (typeof value === 'string') return cfn(value);
  if (Array.isArray(value)) return value.map(deep);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deep(v)]));
  return value as Json;
}

function tagList(tags: Record<string, string>): Json {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value: cfn(Value) }));
}

/** The function's tags; whether it owns its role follows the CreateRole condition (`swappable`). */
function functionTags(plan: AwsPlan, swappable: boolean): Record<string, Json> {
  const tags: Record<string, Json> = Object.fromEntries(Object.entries(plan.function.tags).map(([k, v]) => [k, cfn(v)]));
  if (plan.role && swappable) tags['mlserve:owns-role'] = { 'Fn::If': ['CreateRole', 'true', 'false'] };
  return tags;
}

/** The logical ID of this bundle's version: a new code SHA-256 is a new resource, so a stack update publishes exactly when the code changed. */
export function versionLogicalId(sha256: string): string {
  return `Version${sha256.slice(0, 16)}`;
}

/**
 * Where the code goes, on its own (the code must be in S3, an image in ECR, before the function's
 * stack can create the function): the bucket when mlserve owns it, the repository for an image.
 */
export function artifactsTemplate(plan: AwsPlan, app: string, stage: string): Template | undefined {
  const resources: Template = { ...(plan.bucket.create ? bucketResource(plan.bucket) : {}), ...(isImage(plan) ? repositoryResource(plan) : {}) };
  if (!Object.keys(resources).length) return undefined;
  const outputs: Template = {};
  if (plan.bucket.create) outputs.ArtifactsBucket = { Description: 'pass it as the function stack’s ArtifactsBucket parameter', Value: { Ref: 'ArtifactsBucket' } };
  if (isImage(plan)) outputs.RepositoryUri = { Description: 'push the image here, then pass its URI by digest as the ImageUri parameter', Value: { 'Fn::GetAtt': ['Repository', 'RepositoryUri'] } };
  return {
    AWSTemplateFormatVersion: '2010-09-09',
    Description: `mlserve artifacts for ${app} (${stage}): private, encrypted; deploy it once, before the function's stack`,
    Resources: resources,
    Outputs: outputs,
  };
}

function repositoryResource(plan: AwsPlan): Template {
  return {
    Repository: {
      Type: 'AWS::ECR::Repository',
      Properties: {
        RepositoryName: plan.names.repository,
        ImageTagMutability: REPOSITORY.imageTagMutability,
        ImageScanningConfiguration: { ScanOnPush: REPOSITORY.scanOnPush },
        EncryptionConfiguration: { EncryptionType: REPOSITORY.encryptionType },
        LifecyclePolicy: { LifecyclePolicyText: JSON.stringify(REPOSITORY.lifecyclePolicy) },
        Tags: tagList(plan.names.tags),
      },
    },
  };
}

function bucketResource(bucket: BucketPlan): Template {
  return {
      ArtifactsBucket: {
        Type: 'AWS::S3::Bucket',
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
        Properties: {
          PublicAccessBlockConfiguration: { ...bucket.publicAccessBlock },
          BucketEncryption: {
            ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: bucket.encryption.SSEAlgorithm }, BucketKeyEnabled: bucket.encryption.BucketKeyEnabled }],
          },
          LifecycleConfiguration: {
            Rules: bucket.lifecycle.map((r) => ({
              Id: r.ID,
              Status: 'Enabled',
              Prefix: r.Prefix,
              ...(r.ExpirationDays ? { ExpirationInDays: r.ExpirationDays } : {}),
              ...(r.AbortIncompleteMultipartUploadDays ? { AbortIncompleteMultipartUpload: { DaysAfterInitiation: r.AbortIncompleteMultipartUploadDays } } : {}),
            })),
          },
          Tags: tagList(bucket.tags),
        },
      },
  };
}

/**
 * Parameters a function template takes: what differs between accounts. `swappable`: the role this
 * template creates can be replaced by an existing one (ExecutionRoleArn); not in SAM, whose
 * translation (as cfn-lint runs it) resolves the parameter's empty default into the function's Role.
 */
function parameters(t: TemplateInput, swappable: boolean): Template {
  const role = {
    Type: 'String',
    Description: t.plan.role ? 'An existing execution role to use instead of the least-privilege one this stack creates (empty: create it)' : 'The function’s execution role (aws.role)',
    Default: t.plan.roleArn ?? '',
  };
  return {
    ArtifactsBucket: {
      Type: 'String',
      Description: `Bucket holding ${t.codeKey ? `the code (${t.codeKey}) and ` : ''}offloaded artifacts${t.plan.bucket.create ? ': the artifacts stack’s output' : ''}`,
      ...(t.bucketDefault ? { Default: t.bucketDefault } : {}),
    },
    ...(isImage(t.plan) ? { ImageUri: { Type: 'String', Description: `The function's image by digest, in ${t.plan.names.repository}`, ...(t.imageUri ? { Default: t.imageUri } : {}) } } : {}),
    ...(t.plan.roleArn || swappable ? { ExecutionRoleArn: role } : {}),
  };
}

/** With the role mlserve would create: it is created unless ExecutionRoleArn names another. */
function conditions(plan: AwsPlan, swappable: boolean): Template {
  return plan.role && swappable ? { Conditions: { CreateRole: { 'Fn::Equals': [{ Ref: 'ExecutionRoleArn' }, ''] } } } : {};
}

function role(plan: AwsPlan, swappable: boolean): Template {
  if (!plan.role) return {};
  const r = plan.role;
  return {
    ExecutionRole: {
      Type: 'AWS::IAM::Role',
      ...(swappable ? { Condition: 'CreateRole' } : {}),
      Properties: {
        RoleName: r.name,
        Description: r.description,
        AssumeRolePolicyDocument: deep(r.trust),
        Policies: [{ PolicyName: r.policyName, PolicyDocument: deep(r.policy) }],
        Tags: tagList(r.tags),
      },
    },
  };
}

function roleRef(plan: AwsPlan, swappable: boolean): Json {
  if (!plan.role) return { Ref: 'ExecutionRoleArn' };
  const created = { 'Fn::GetAtt': ['ExecutionRole', 'Arn'] };
  return swappable ? { 'Fn::If': ['CreateRole', created, { Ref: 'ExecutionRoleArn' }] } : created;
}

function logGroup(plan: AwsPlan): Template {
  return { LogGroup: { Type: 'AWS::Logs::LogGroup', Properties: { LogGroupName: plan.logGroup.name, RetentionInDays: plan.logGroup.retentionInDays, Tags: tagList(plan.logGroup.tags) } } };
}

/** The function's properties both flavours share (SAM's function takes the same names). */
function functionProperties(plan: AwsPlan, swappable: boolean): Template {
  const f = plan.function;
  return {
    FunctionName: f.name,
    Description: f.description,
    ...(f.runtime && f.handler ? { Runtime: f.runtime, Handler: f.handler } : {}),
    Role: roleRef(plan, swappable),
    MemorySize: f.memory,
    Timeout: f.timeout,
    EphemeralStorage: { Size: f.ephemeralStorageMb },
    Architectures: [f.architecture],
    Environment: { Variables: deep(f.environment) },
    ...(f.reservedConcurrency !== undefined ? { ReservedConcurrentExecutions: f.reservedConcurrency } : {}),
  };
}

function urlProperties(plan: AwsPlan): Template {
  return { AuthType: plan.url.authType, ...(plan.url.cors ? { Cors: { ...plan.url.cors } } : {}) };
}

function permission(p: PermissionPlan, target: Json): Json {
  return {
    Type: 'AWS::Lambda::Permission',
    Properties: { Action: 'lambda:InvokeFunction', FunctionName: target, Principal: p.principal, SourceArn: cfn(p.sourceArn), ...(p.sourceAccount ? { SourceAccount: cfn(p.sourceAccount) } : {}) },
  };
}

/** S3 triggers: the permission, and the notification on a bucket this stack does not own (a custom resource). */
function s3Triggers(plan: AwsPlan, target: Json): Template {
  if (!plan.triggers.s3.length) return {};
  const out: Template = {};
  for (const [i, t] of plan.triggers.s3.entries()) {
    out[`S3Permission${i}`] = permission(t.permission, target);
    out[`S3Notification${i}`] = {
      Type: 'Custom::S3Notification',
      DependsOn: [`S3Permission${i}`],
      Properties: {
        ServiceToken: { 'Fn::GetAtt': ['S3NotificationFunction', 'Arn'] },
        Bucket: t.bucket,
        Id: t.notification.Id,
        LambdaFunctionArn: target,
        Events: [...t.notification.Events],
        FilterRules: t.notification.FilterRules.map((r) => ({ ...r })),
      },
    };
  }
  const buckets = [...new Set(plan.triggers.s3.map((t) => t.bucket))];
  const notifier = `${plan.function.name}-s3-notify`.slice(0, 64);
  const ownLogs = `arn:${TOKENS.partition}:logs:${TOKENS.region}:${TOKENS.account}:log-group:/aws/lambda/${notifier}`;
  out.S3NotificationRole = {
    Type: 'AWS::IAM::Role',
    Properties: {
      Description: `mlserve: lets ${plan.function.name}'s notification resource edit the watched buckets' notifications`,
      AssumeRolePolicyDocument: deep(TRUST_POLICY),
      Policies: [{
        PolicyName: 'mlserve-bucket-notifications',
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            { Sid: 'WatchedBuckets', Effect: 'Allow', Action: ['s3:GetBucketNotification', 's3:PutBucketNotification'], Resource: buckets.map((b) => cfn(`arn:${TOKENS.partition}:s3:::${b}`)) },
            { Sid: 'OwnLogs', Effect: 'Allow', Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'], Resource: [cfn(ownLogs), cfn(`${ownLogs}:*`)] },
          ],
        },
      }],
      Tags: tagList(plan.logGroup.tags),
    },
  };
  out.S3NotificationFunction = {
    Type: 'AWS::Lambda::Function',
    Properties: {
      FunctionName: notifier,
      Description: 'mlserve: adds or removes one notification on a bucket the stack does not own',
      Runtime: 'python3.12',
      Handler: 'index.handler',
      Timeout: 60,
      Role: { 'Fn::GetAtt': ['S3NotificationRole', 'Arn'] },
      Code: { ZipFile: readFileSync(NOTIFIER, 'utf8') },
      Tags: tagList(plan.logGroup.tags),
    },
  };
  return out;
}

/** The logical ID of a planned alarm: `Alarm` and its name after the prefix, in words (error-rate → AlarmErrorRate). */
function alarmLogicalId(plan: AwsPlan, name: string): string {
  return `Alarm${name.slice(plan.names.alarmPrefix.length).split('-').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('')}`;
}

/** The stage's alarms (empty action lists left out) and dashboard, as deploy puts them. */
function monitoring(plan: AwsPlan): Template {
  const out: Template = {};
  for (const alarm of plan.monitoring.alarms) {
    const properties = Object.fromEntries(Object.entries(alarm).filter(([, v]) => !(Array.isArray(v) && v.length === 0)));
    out[alarmLogicalId(plan, alarm.AlarmName)] = { Type: 'AWS::CloudWatch::Alarm', Properties: deep(properties) };
  }
  const dashboard = plan.monitoring.dashboard;
  if (dashboard) out.Dashboard = { Type: 'AWS::CloudWatch::Dashboard', Properties: { DashboardName: dashboard.name, DashboardBody: cfn(JSON.stringify(dashboard.body)) } };
  return out;
}

function outputs(alias: Json, url: Json): Template {
  return {
    Endpoint: { Description: 'The stage’s HTTPS endpoint (Function URL on the alias)', Value: url },
    FunctionArn: { Description: 'The function', Value: { 'Fn::GetAtt': ['Function', 'Arn'] } },
    AliasArn: { Description: 'The stage alias: what triggers and callers invoke', Value: alias },
  };
}

/** The plain CloudFormation template: function, this bundle's version, the stage alias and its URL, triggers. */
export function cloudFormationTemplate(t: TemplateInput): Template {
  const { plan } = t;
  const version = versionLogicalId(t.bundle.sha256);
  const alias: Json = { Ref: 'Alias' };
  const resources: Template = {
    ...role(plan, true),
    ...logGroup(plan),
    Function: {
      Type: 'AWS::Lambda::Function',
      DependsOn: ['LogGroup'],
      Properties: {
        ...functionProperties(plan, true),
        PackageType: plan.function.packageType,
        Code: isImage(plan) ? { ImageUri: { Ref: 'ImageUri' } } : { S3Bucket: { Ref: 'ArtifactsBucket' }, S3Key: t.codeKey! },
        Tags: Object.entries(functionTags(plan, true)).map(([Key, Value]) => ({ Key, Value })),
      },
    },
    [version]: {
      Type: 'AWS::Lambda::Version',
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      // CodeSha256 (a zip's): the stack publishes this version only from this exact code.
      Properties: { FunctionName: { Ref: 'Function' }, ...(isImage(plan) ? {} : { CodeSha256: codeSha256(t.bundle.sha256) }), Description: versionDescription(t.bundle.sha256, t.bundle.modelSha256) },
    },
    Alias: { Type: 'AWS::Lambda::Alias', Properties: { FunctionName: { Ref: 'Function' }, Name: plan.alias, FunctionVersion: { 'Fn::GetAtt': [version, 'Version'] } } },
    FunctionUrl: { Type: 'AWS::Lambda::Url', Properties: { TargetFunctionArn: alias, ...urlProperties(plan) } },
    ...(plan.url.authType === 'NONE'
      ? { PublicUrlPermission: { Type: 'AWS::Lambda::Permission', Properties: { Action: 'lambda:InvokeFunctionUrl', FunctionName: alias, Principal: '*', FunctionUrlAuthType: 'NONE' } } }
      : {}),
    ...s3Triggers(plan, alias),
    ...Object.fromEntries(plan.triggers.sqs.map((q, i) => [`QueueMapping${i}`, { Type: 'AWS::Lambda::EventSourceMapping', Properties: { FunctionName: alias, EventSourceArn: q.eventSourceArn, BatchSize: q.batchSize, FunctionResponseTypes: [...q.functionResponseTypes] } }])),
    ...scheduleResources(plan, alias),
    ...monitoring(plan),
  };
  return {
    AWSTemplateFormatVersion: '2010-09-09',
    Description: `mlserve: ${plan.function.name}, exported from the plan \`mlserve deploy --provider aws\` applies`,
    Parameters: parameters(t, true),
    ...conditions(plan, true),
    Resources: resources,
    Outputs: outputs(alias, { 'Fn::GetAtt': ['FunctionUrl', 'FunctionUrl'] }),
  };
}

function scheduleResources(plan: AwsPlan, alias: Json): Template {
  const out: Template = {};
  for (const [i, s] of plan.triggers.schedule.entries()) {
    out[`Schedule${i}`] = { Type: 'AWS::Events::Rule', Properties: { Name: s.rule, ScheduleExpression: s.expression, State: 'ENABLED', Targets: [{ Id: 'mlserve', Arn: alias }], Tags: tagList(s.tags) } };
    out[`SchedulePermission${i}`] = { ...(permission(s.permission, alias) as Template), DependsOn: [`Schedule${i}`] };
  }
  return out;
}

/**
 * The same deployment as SAM: the function with AutoPublishAlias (a version published exactly when
 * AutoPublishCodeSha256, the bundle's SHA-256, changes), its URL and its SQS and schedule events.
 * The role, log group and S3 notifications are the plain template's: SAM's generated role is
 * broader, and SAM's S3 event needs the bucket in the same template.
 */
export function samTemplate(t: TemplateInput): Template {
  const { plan } = t;
  const alias: Json = { Ref: 'Function.Alias' };
  const events: Template = {};
  for (const [i, q] of plan.triggers.sqs.entries()) {
    events[`Queue${i}`] = { Type: 'SQS', Properties: { Queue: q.eventSourceArn, BatchSize: q.batchSize, FunctionResponseTypes: [...q.functionResponseTypes] } };
  }
  for (const [i, s] of plan.triggers.schedule.entries()) events[`Schedule${i}`] = { Type: 'Schedule', Properties: { Name: s.rule, Schedule: s.expression, State: 'ENABLED' } };
  const fn: Template = {
    ...functionProperties(plan, false),
    PackageType: plan.function.packageType,
    ...(isImage(plan) ? { ImageUri: { Ref: 'ImageUri' } } : { CodeUri: { Bucket: { Ref: 'ArtifactsBucket' }, Key: t.codeKey! } }),
    AutoPublishAlias: plan.alias,
    AutoPublishCodeSha256: t.bundle.sha256,
    VersionDescription: versionDescription(t.bundle.sha256, t.bundle.modelSha256),
    FunctionUrlConfig: urlProperties(plan),
    ...(Object.keys(events).length ? { Events: events } : {}),
    Tags: functionTags(plan, false),
  };
  return {
    AWSTemplateFormatVersion: '2010-09-09',
    Transform: 'AWS::Serverless-2016-10-31',
    Description: `mlserve: ${plan.function.name} (SAM), exported from the plan \`mlserve deploy --provider aws\` applies`,
    Parameters: parameters(t, false),
    Resources: { ...role(plan, false), ...logGroup(plan), Function: { Type: 'AWS::Serverless::Function', DependsOn: ['LogGroup'], Properties: fn }, ...s3Triggers(plan, alias), ...monitoring(plan) },
    Outputs: outputs(alias, { 'Fn::GetAtt': ['FunctionUrl', 'FunctionUrl'] }),
  };
}
