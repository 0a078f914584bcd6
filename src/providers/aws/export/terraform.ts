import { bucketNameParts } from '../names.js';
import { codeSha256, TOKEN_PATTERN, TOKENS, type AwsPlan, type BucketPlan } from '../plan.js';
import type { TemplateInput } from './cloudformation.js';
import { Call, Expr, hclFile, quote, type Block, type Entry, type Value } from './hcl.js';

/** Files Terraform uploads itself (it orders the bucket, the objects and the function). */
interface TerraformObject {
  name: string;
  key: string;
  /** Path relative to the configuration's directory. */
  source: string;
  sha256: string;
}

export interface TerraformInput extends TemplateInput {
  app: string;
  stage: string;
  objects: TerraformObject[];
}

const REF: Record<string, string> = {
  account: 'data.aws_caller_identity.current.account_id',
  region: 'data.aws_region.current.name',
  partition: 'data.aws_partition.current.partition',
  bucket: 'local.artifacts_bucket',
};

/** A plan string as an HCL string: quoted, escaped, each token an interpolation; a lone token is the bare reference. */
function str(s: string): string {
  const lone = /^\uE000(\w+)\uE001$/.exec(s);
  if (lone) return REF[lone[1]!]!;
  return quote(s).replace(TOKEN_PATTERN, (_m, name: string) => `\${${REF[name]}}`);
}

function res(type: string, name: string, body: Entry[], comment?: string[]): Block {
  return { type: 'resource', labels: [type, name], body, ...(comment ? { comment } : {}) };
}

const e = (text: string) => new Expr(text);
const json = (v: unknown) => new Call('jsonencode', v as Value);

function bucketBlocks(b: BucketPlan, t: TerraformInput): Block[] {
  if (!b.create) return [];
  const { head, hashInput } = bucketNameParts(t.app, t.stage, TOKENS.account, TOKENS.region);
  const name = e(`"${quote(head).slice(1, -1)}-\${substr(sha256(${str(hashInput)}), 0, 10)}"`);
  const bucket = { key: 'bucket', value: e('aws_s3_bucket.artifacts.id') };
  return [
    res('aws_s3_bucket', 'artifacts', [{ key: 'bucket', value: name }, { key: 'tags', value: b.tags }], ['The artifacts bucket: private, encrypted, the same name `mlserve deploy` gives it.']),
    res('aws_s3_bucket_public_access_block', 'artifacts', [bucket, ...Object.entries(b.publicAccessBlock).map(([k, v]) => ({ key: snake(k), value: v }))]),
    res('aws_s3_bucket_server_side_encryption_configuration', 'artifacts', [
      bucket,
      { type: 'rule', labels: [], body: [{ key: 'bucket_key_enabled', value: b.encryption.BucketKeyEnabled }, { type: 'apply_server_side_encryption_by_default', labels: [], body: [{ key: 'sse_algorithm', value: b.encryption.SSEAlgorithm }] }] },
    ]),
    res('aws_s3_bucket_lifecycle_configuration', 'artifacts', [
      bucket,
      ...b.lifecycle.map((r): Block => ({
        type: 'rule',
        labels: [],
        body: [
          { key: 'id', value: r.ID },
          { key: 'status', value: 'Enabled' },
          { type: 'filter', labels: [], body: [{ key: 'prefix', value: r.Prefix }] },
          ...(r.ExpirationDays ? [{ type: 'expiration', labels: [], body: [{ key: 'days', value: r.ExpirationDays }] }] : []),
          ...(r.AbortIncompleteMultipartUploadDays ? [{ type: 'abort_incomplete_multipart_upload', labels: [], body: [{ key: 'days_after_initiation', value: r.AbortIncompleteMultipartUploadDays }] }] : []),
        ],
      })),
    ]),
  ];
}

function snake(s: string): string {
  return s.replace(/[A-Z]/g, (c, i: number) => `${i ? '_' : ''}${c.toLowerCase()}`);
}

function objectBlocks(t: TerraformInput): Block[] {
  return t.objects.map((o) =>
    res('aws_s3_object', o.name, [
      { key: 'bucket', value: e('local.artifacts_bucket') },
      { key: 'key', value: o.key },
      { key: 'source', value: `\${path.module}/${o.source}` },
      { key: 'source_hash', value: o.sha256 },
      { key: 'server_side_encryption', value: 'AES256' },
      { key: 'metadata', value: { sha256: o.sha256 } },
    ]),
  );
}

function roleBlocks(plan: AwsPlan): Block[] {
  if (!plan.role) return [];
  const r = plan.role;
  return [
    res('aws_iam_role', 'execution', [{ key: 'count', value: e('local.create_role ? 1 : 0') }, { key: 'name', value: r.name }, { key: 'description', value: r.description }, { key: 'assume_role_policy', value: json(r.trust) }, { key: 'tags', value: r.tags }], ['Least privilege: its own log group, its own artifacts, what its triggers need.']),
    res('aws_iam_role_policy', 'least_privilege', [{ key: 'count', value: e('local.create_role ? 1 : 0') }, { key: 'name', value: r.policyName }, { key: 'role', value: e('aws_iam_role.execution[0].id') }, { key: 'policy', value: json(r.policy) }]),
  ];
}

function functionBlock(plan: AwsPlan, t: TerraformInput): Block {
  const f = plan.function;
  return res('aws_lambda_function', 'function', [
    { key: 'function_name', value: f.name },
    { key: 'description', value: f.description },
    { key: 'package_type', value: f.packageType },
    ...(f.runtime && f.handler ? [{ key: 'runtime', value: f.runtime }, { key: 'handler', value: f.handler }] : []),
    { key: 'role', value: e(plan.role ? 'local.create_role ? aws_iam_role.execution[0].arn : var.execution_role_arn' : 'var.execution_role_arn') },
    { key: 'memory_size', value: f.memory },
    { key: 'timeout', value: f.timeout },
    { key: 'architectures', value: [f.architecture] },
    ...(f.packageType === 'Image'
      ? [{ key: 'image_uri', value: e('var.image_uri') }]
      : [{ key: 's3_bucket', value: e('aws_s3_object.code.bucket') }, { key: 's3_key', value: e('aws_s3_object.code.key') }, { key: 'source_code_hash', value: codeSha256(t.bundle.sha256) }]),
    { key: 'publish', value: true },
    ...(f.reservedConcurrency !== undefined ? [{ key: 'reserved_concurrent_executions', value: f.reservedConcurrency }] : []),
    { type: 'ephemeral_storage', labels: [], body: [{ key: 'size', value: f.ephemeralStorageMb }] },
    { type: 'environment', labels: [], body: [{ key: 'variables', value: f.environment }] },
    { key: 'tags', value: plan.role ? { ...f.tags, 'mlserve:owns-role': e('tostring(local.create_role)') } : f.tags },
    { key: 'depends_on', value: [e('aws_cloudwatch_log_group.function')] },
  ], [`\`publish = true\`: a new version whenever the ${f.packageType === 'Image' ? 'image' : 'code (source_code_hash)'} or configuration changes.`]);
}

function urlBlocks(plan: AwsPlan): Block[] {
  const cors = plan.url.cors;
  const out = [
    res('aws_lambda_function_url', 'stage', [
      { key: 'function_name', value: e('aws_lambda_function.function.function_name') },
      { key: 'qualifier', value: e('aws_lambda_alias.stage.name') },
      { key: 'authorization_type', value: plan.url.authType },
      ...(cors ? [{ type: 'cors', labels: [], body: [{ key: 'allow_origins', value: cors.AllowOrigins }, { key: 'allow_methods', value: cors.AllowMethods }, { key: 'allow_headers', value: cors.AllowHeaders }, { key: 'max_age', value: cors.MaxAge }] }] : []),
    ], [plan.url.authType === 'NONE' ? 'endpoint.public is true: anyone with the URL can call it.' : 'Callers sign their requests (AWS_IAM).']),
  ];
  if (plan.url.publicStatementId) {
    out.push(res('aws_lambda_permission', 'public_url', [
      { key: 'statement_id', value: plan.url.publicStatementId },
      { key: 'action', value: 'lambda:InvokeFunctionUrl' },
      { key: 'function_name', value: e('aws_lambda_function.function.function_name') },
      { key: 'qualifier', value: e('aws_lambda_alias.stage.name') },
      { key: 'principal', value: '*' },
      { key: 'function_url_auth_type', value: 'NONE' },
    ]));
  }
  return out;
}

function permissionBlock(name: string, p: { statementId: string; principal: string; sourceArn: Value; sourceAccount?: string | undefined }): Block {
  return res('aws_lambda_permission', name, [
    { key: 'statement_id', value: p.statementId },
    { key: 'action', value: 'lambda:InvokeFunction' },
    { key: 'function_name', value: e('aws_lambda_function.function.function_name') },
    { key: 'qualifier', value: e('aws_lambda_alias.stage.name') },
    { key: 'principal', value: p.principal },
    { key: 'source_arn', value: p.sourceArn },
    ...(p.sourceAccount ? [{ key: 'source_account', value: p.sourceAccount }] : []),
  ]);
}

function triggerBlocks(plan: AwsPlan): Block[] {
  const out: Block[] = [];
  for (const [i, t] of plan.triggers.s3.entries()) {
    out.push(permissionBlock(`s3_${i}`, t.permission));
    const n = t.notification;
    const filter = Object.fromEntries(n.FilterRules.map((r) => [`filter_${r.Name}`, r.Value]));
    out.push(res('aws_s3_bucket_notification', `watched_${i}`, [
      { key: 'bucket', value: t.bucket },
      { type: 'lambda_function', labels: [], body: [{ key: 'id', value: n.Id }, { key: 'lambda_function_arn', value: e('aws_lambda_alias.stage.arn') }, { key: 'events', value: [...n.Events] }, ...Object.entries(filter).map(([key, value]) => ({ key, value }))] },
      { key: 'depends_on', value: [e(`aws_lambda_permission.s3_${i}`)] },
    ], [`Terraform's aws_s3_bucket_notification owns ${t.bucket}'s whole notification configuration: add any other notifications that bucket has here.`]));
  }
  for (const [i, q] of plan.triggers.sqs.entries()) {
    out.push(res('aws_lambda_event_source_mapping', `queue_${i}`, [
      { key: 'function_name', value: e('aws_lambda_alias.stage.arn') },
      { key: 'event_source_arn', value: q.eventSourceArn },
      { key: 'batch_size', value: q.batchSize },
      { key: 'function_response_types', value: [...q.functionResponseTypes] },
    ]));
  }
  for (const [i, s] of plan.triggers.schedule.entries()) {
    out.push(res('aws_cloudwatch_event_rule', `schedule_${i}`, [{ key: 'name', value: s.rule }, { key: 'schedule_expression', value: s.expression }, { key: 'state', value: 'ENABLED' }, { key: 'tags', value: s.tags }]));
    out.push(res('aws_cloudwatch_event_target', `schedule_${i}`, [{ key: 'rule', value: e(`aws_cloudwatch_event_rule.schedule_${i}.name`) }, { key: 'target_id', value: 'mlserve' }, { key: 'arn', value: e('aws_lambda_alias.stage.arn') }]));
    out.push(permissionBlock(`schedule_${i}`, { ...s.permission, sourceArn: e(`aws_cloudwatch_event_rule.schedule_${i}.arn`) }));
  }
  return out;
}

const snakeId = (s: string) => s.replace(/-/g, '_');

function dimensionsOf(d: { Name: string; Value: string }[] | undefined): Record<string, string> {
  return Object.fromEntries((d ?? []).map((x) => [x.Name, x.Value]));
}

/** The stage's alarms and dashboard, as deploy puts them. */
function monitoringBlocks(plan: AwsPlan): Block[] {
  const out = plan.monitoring.alarms.map((a) => {
    const body: Entry[] = [
      { key: 'alarm_name', value: a.AlarmName },
      { key: 'alarm_description', value: a.AlarmDescription },
      { key: 'comparison_operator', value: a.ComparisonOperator },
      { key: 'threshold', value: a.Threshold },
      { key: 'evaluation_periods', value: a.EvaluationPeriods },
      { key: 'datapoints_to_alarm', value: a.DatapointsToAlarm },
      { key: 'treat_missing_data', value: a.TreatMissingData },
      ...(a.Namespace ? [{ key: 'namespace', value: a.Namespace }, { key: 'metric_name', value: a.MetricName! }, { key: 'dimensions', value: dimensionsOf(a.Dimensions) }, { key: 'period', value: a.Period! }] : []),
      ...(a.Statistic ? [{ key: 'statistic', value: a.Statistic }] : []),
      ...(a.ExtendedStatistic ? [{ key: 'extended_statistic', value: a.ExtendedStatistic }] : []),
      ...(a.Metrics ?? []).map((m): Block => ({
        type: 'metric_query',
        labels: [],
        body: 'Expression' in m
          ? [{ key: 'id', value: m.Id }, { key: 'expression', value: m.Expression }, { key: 'label', value: m.Label }, { key: 'return_data', value: true }]
          : [{ key: 'id', value: m.Id }, { key: 'return_data', value: false }, { type: 'metric', labels: [], body: [{ key: 'namespace', value: m.MetricStat.Metric.Namespace }, { key: 'metric_name', value: m.MetricStat.Metric.MetricName }, { key: 'dimensions', value: dimensionsOf(m.MetricStat.Metric.Dimensions) }, { key: 'period', value: m.MetricStat.Period }, { key: 'stat', value: m.MetricStat.Stat }] }],
      })),
      { key: 'alarm_actions', value: a.AlarmActions },
      { key: 'ok_actions', value: a.OKActions },
      { key: 'tags', value: Object.fromEntries(a.Tags.map((t) => [t.Key, t.Value])) },
    ];
    return res('aws_cloudwatch_metric_alarm', snakeId(a.AlarmName.slice(plan.names.alarmPrefix.length)), body);
  });
  const d = plan.monitoring.dashboard;
  if (d) out.push(res('aws_cloudwatch_dashboard', 'stage', [{ key: 'dashboard_name', value: d.name }, { key: 'dashboard_body', value: json(d.body) }]));
  return out;
}

function variables(plan: AwsPlan, t: TerraformInput): Block[] {
  const out: Block[] = [];
  if (!plan.bucket.create) {
    out.push({ type: 'variable', labels: ['artifacts_bucket'], body: [{ key: 'description', value: 'The artifacts bucket (aws.bucket): code and offloaded artifacts go here' }, { key: 'type', value: e('string') }, { key: 'default', value: plan.bucket.name === TOKENS.bucket ? (t.bucketDefault ?? '') : plan.bucket.name }] });
  }
  if (plan.function.packageType === 'Image') {
    out.push({ type: 'variable', labels: ['image_uri'], body: [{ key: 'description', value: `The function's image by digest, in ${plan.names.repository} (mlserve export pushes it)` }, { key: 'type', value: e('string') }, ...(t.imageUri ? [{ key: 'default', value: t.imageUri }] : [])] });
  }
  out.push({
    type: 'variable',
    labels: ['execution_role_arn'],
    body: [
      { key: 'description', value: plan.role ? 'An existing execution role to use instead of the least-privilege one this configuration creates (empty: create it)' : 'The function’s execution role (aws.role)' },
      { key: 'type', value: e('string') },
      { key: 'default', value: plan.roleArn ?? '' },
    ],
  });
  return out;
}

/** The deployment as one Terraform configuration for the AWS provider: variables, resources, outputs. */
export function terraformFile(t: TerraformInput, header: string[]): string {
  const { plan } = t;
  const blocks: Block[] = [
    { type: 'terraform', labels: [], body: [{ key: 'required_version', value: '>= 1.5' }, { type: 'required_providers', labels: [], body: [{ key: 'aws', value: { source: 'hashicorp/aws', version: '~> 5.0' } }] }] },
    ...variables(plan, t),
    { type: 'data', labels: ['aws_caller_identity', 'current'], body: [] },
    { type: 'data', labels: ['aws_region', 'current'], body: [] },
    { type: 'data', labels: ['aws_partition', 'current'], body: [] },
    { type: 'locals', labels: [], body: [{ key: 'artifacts_bucket', value: e(plan.bucket.create ? 'aws_s3_bucket.artifacts.id' : 'var.artifacts_bucket') }, { key: 'create_role', value: e(plan.role ? 'var.execution_role_arn == ""' : 'false') }] },
    ...bucketBlocks(plan.bucket, t),
    ...objectBlocks(t),
    ...roleBlocks(plan),
    res('aws_cloudwatch_log_group', 'function', [{ key: 'name', value: plan.logGroup.name }, { key: 'retention_in_days', value: plan.logGroup.retentionInDays }, { key: 'tags', value: plan.logGroup.tags }]),
    functionBlock(plan, t),
    res('aws_lambda_alias', 'stage', [{ key: 'name', value: plan.alias }, { key: 'function_name', value: e('aws_lambda_function.function.function_name') }, { key: 'function_version', value: e('aws_lambda_function.function.version') }]),
    ...urlBlocks(plan),
    ...triggerBlocks(plan),
    ...monitoringBlocks(plan),
    { type: 'output', labels: ['endpoint'], body: [{ key: 'description', value: 'The stage’s HTTPS endpoint (Function URL on the alias)' }, { key: 'value', value: e('aws_lambda_function_url.stage.function_url') }] },
    { type: 'output', labels: ['function_arn'], body: [{ key: 'value', value: e('aws_lambda_function.function.arn') }] },
    { type: 'output', labels: ['alias_arn'], body: [{ key: 'value', value: e('aws_lambda_alias.stage.arn') }] },
  ];
  return hclFile(blocks, str, header);
}
