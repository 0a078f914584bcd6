import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CloudWatchClient, DescribeAlarmsCommand, GetDashboardCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeRepositoriesCommand, ECRClient, GetLifecyclePolicyCommand } from '@aws-sdk/client-ecr';
import { CloudWatchLogsClient, DescribeLogGroupsCommand, ListTagsForResourceCommand } from '@aws-sdk/client-cloudwatch-logs';
import { GetRoleCommand, GetRolePolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import { GetAliasCommand, GetFunctionCommand, GetFunctionUrlConfigCommand, LambdaClient, ListEventSourceMappingsCommand } from '@aws-sdk/client-lambda';
import {
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketNotificationConfigurationCommand,
  GetBucketTaggingCommand,
  GetPublicAccessBlockCommand,
  HeadObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { startMoto, type Moto } from '../helpers/moto.js';
import { seedPythonBase, startRegistry, type Registry } from '../helpers/registry.js';
import { triggerSources, triggersConfig } from '../helpers/trigger-sources.js';
import { packagingEnv, project } from '../helpers/project.js';

type Template = { Parameters?: Record<string, unknown>; Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };

/** CloudFormation's intrinsics, as far as the exported templates use them, resolved against one account. */
function resolve(value: unknown, refs: Record<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => resolve(v, refs));
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.Ref === 'string') return refs[o.Ref] ?? `<Ref ${o.Ref}>`;
    if (typeof o['Fn::Sub'] === 'string') return o['Fn::Sub'].replace(/\$\{([^!}][^}]*)\}/g, (_m, n: string) => refs[n] ?? `<${n}>`).replaceAll('${!', '${');
    if (Array.isArray(o['Fn::If'])) {
      const [condition, yes, no] = o['Fn::If'] as [string, unknown, unknown];
      return resolve(refs[`Condition:${condition}`] === 'true' ? yes : no, refs);
    }
    if (Array.isArray(o['Fn::GetAtt'])) return refs[(o['Fn::GetAtt'] as string[]).join('.')] ?? `<GetAtt ${(o['Fn::GetAtt'] as string[]).join('.')}>`;
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, resolve(v, refs)]));
  }
  return value;
}

const tagMap = (tags: unknown) => Object.fromEntries((tags as { Key: string; Value: string }[]).map((t) => [t.Key, t.Value]));

function lint(file: string): { code: number; out: string } {
  const r = spawnSync('cfn-lint', ['--', file], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** Every file under a directory with its bytes, by relative path. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (f.isFile()) out[relative(dir, join(f.parentPath, f.name))] = readFileSync(join(f.parentPath, f.name)).toString('base64');
  }
  return out;
}

let moto: Moto;
beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});

describe('mlserve export (CloudFormation, SAM, Terraform)', () => {
  it('writes templates cfn-lint passes and terraform fmt accepts, declaring what deploy creates in moto, byte-identical on a re-export', async () => {
    await moto.reset();
    const common = { region: 'us-east-1', endpoint: moto.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
    const { s3, queueArn } = await triggerSources(moto);
    // Python 3.12: Lambda deprecated 3.11 (cfn-lint says so); a custom model needs no wheels for it.
    const model = await project('custom', ['--provider', 'aws', '--region', 'us-east-1', '--python', '3.12'], `${triggersConfig(queueArn)}
environment:
  LABELS: "setosa,versicolor"
`);
    writeFileSync(join(model.dir, 'weights.bin'), Buffer.alloc(4096, 7));
    const config = join(model.dir, 'mlserve.config.yaml');
    writeFileSync(config, readFileSync(config, 'utf8').replace(/^model:\n/m, 'model:\n  offload: always\n'));
    const env = packagingEnv(moto.env);

    const exported: Record<string, string> = {};
    for (const format of ['cloudformation', 'sam', 'terraform']) {
      const out = join(model.dir, 'infrastructure', format);
      const r = await runCli(['export', '--format', format, '--no-upload', '--out', out, '--json'], { cwd: model.dir, env: { ...env, AWS_ENDPOINT_URL: 'http://127.0.0.1:9' } });
      expect(r.code, r.stderr).toBe(0);
      exported[format] = out;
    }
    // Offload: the model's weights go beside the template under the key the bundle fetches at cold start.
    const cfnFiles = readdirSync(join(exported.cloudformation!, 'artifacts'), { recursive: true }).map(String);
    expect(cfnFiles.filter((f) => f.includes('/artifacts/'))).toHaveLength(1);
    for (const file of ['cloudformation/template.yaml', 'cloudformation/artifacts.yaml', 'sam/template.yaml']) {
      const result = lint(join(model.dir, 'infrastructure', file));
      expect(result, file).toEqual({ code: 0, out: '' });
    }
    const fmt = spawnSync('terraform', ['fmt', '-check', '-diff', join(exported.terraform!, 'main.tf')], { encoding: 'utf8' });
    expect(`${fmt.status} ${fmt.stdout}`).toBe('0 ');

    // The same inputs give the same bytes.
    const before = { cfn: snapshot(exported.cloudformation!), sam: snapshot(exported.sam!), tf: snapshot(exported.terraform!) };
    for (const format of ['cloudformation', 'sam', 'terraform']) {
      expect((await runCli(['export', '--format', format, '--no-upload', '--out', exported[format]!], { cwd: model.dir, env })).code).toBe(0);
    }
    expect({ cfn: snapshot(exported.cloudformation!), sam: snapshot(exported.sam!), tf: snapshot(exported.terraform!) }).toEqual(before);

    // Deploy the same app with the provider, read it back, and compare with what the template declares.
    const deploy = await runCli(['deploy', '--json'], { cwd: model.dir, env });
    expect(deploy.code, deploy.stderr).toBe(0);
    const template = parse(readFileSync(join(exported.cloudformation!, 'template.yaml'), 'utf8')) as Template;
    const bucketTemplate = parse(readFileSync(join(exported.cloudformation!, 'artifacts.yaml'), 'utf8')) as Template;
    const lambda = new LambdaClient(common);
    const fn = await lambda.send(new GetFunctionCommand({ FunctionName: 'iris-dev' }));
    const bucket = fn.Configuration!.Environment!.Variables!.MLSERVE_ARTIFACTS_BUCKET!;
    const refs = { 'AWS::AccountId': '123456789012', 'AWS::Region': 'us-east-1', 'AWS::Partition': 'aws', ArtifactsBucket: bucket, 'ExecutionRole.Arn': fn.Configuration!.Role!, 'Condition:CreateRole': 'true', Alias: 'arn:aws:lambda:us-east-1:123456789012:function:iris-dev:dev' };
    const declared = resolve(template.Resources.Function!.Properties, refs) as Record<string, unknown>;
    const c = fn.Configuration!;
    const { Code: _code, ...withoutCode } = declared;
    expect({
      FunctionName: c.FunctionName, Description: c.Description, Runtime: c.Runtime, Handler: c.Handler, Role: c.Role, MemorySize: c.MemorySize, Timeout: c.Timeout,
      EphemeralStorage: c.EphemeralStorage, Architectures: c.Architectures, Environment: c.Environment, PackageType: c.PackageType,
      Tags: Object.fromEntries(Object.entries(fn.Tags ?? {}).filter(([k]) => !k.startsWith('aws:'))),
    }).toEqual({ ...withoutCode, Tags: tagMap(declared.Tags) });

    const alias = await lambda.send(new GetAliasCommand({ FunctionName: 'iris-dev', Name: 'dev' }));
    expect(alias.Name).toBe(template.Resources.Alias!.Properties.Name);
    const url = await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'iris-dev', Qualifier: 'dev' }));
    expect({ AuthType: url.AuthType }).toEqual(resolve({ AuthType: template.Resources.FunctionUrl!.Properties.AuthType }, refs));

    const iam = new IAMClient(common);
    const roleName = c.Role!.split('/').pop()!;
    const role = resolve(template.Resources.ExecutionRole!.Properties, refs) as { RoleName: string; AssumeRolePolicyDocument: unknown; Policies: { PolicyName: string; PolicyDocument: unknown }[]; Tags: unknown };
    expect(roleName).toBe(role.RoleName);
    const got = await iam.send(new GetRoleCommand({ RoleName: roleName }));
    expect(JSON.parse(decodeURIComponent(got.Role!.AssumeRolePolicyDocument!))).toEqual(role.AssumeRolePolicyDocument);
    expect(tagMap(got.Role!.Tags)).toEqual(tagMap(role.Tags));
    const policy = await iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: role.Policies[0]!.PolicyName }));
    expect(JSON.parse(decodeURIComponent(policy.PolicyDocument!))).toEqual(role.Policies[0]!.PolicyDocument);

    const logs = new CloudWatchLogsClient(common);
    const group = (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/aws/lambda/iris-dev' }))).logGroups![0]!;
    const lg = template.Resources.LogGroup!.Properties as { LogGroupName: string; RetentionInDays: number; Tags: unknown };
    expect({ name: group.logGroupName, retention: group.retentionInDays }).toEqual({ name: lg.LogGroupName, retention: lg.RetentionInDays });
    expect((await logs.send(new ListTagsForResourceCommand({ resourceArn: group.arn!.replace(/:\*$/, '') }))).tags).toEqual(tagMap(lg.Tags));

    const b = bucketTemplate.Resources.ArtifactsBucket!.Properties as Record<string, { Rules?: unknown[]; ServerSideEncryptionConfiguration?: unknown[] } & Record<string, unknown>>;
    expect((await s3.send(new GetPublicAccessBlockCommand({ Bucket: bucket }))).PublicAccessBlockConfiguration).toEqual(b.PublicAccessBlockConfiguration);
    const sse = (await s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }))).ServerSideEncryptionConfiguration!.Rules!;
    expect(sse.map((r) => ({ ServerSideEncryptionByDefault: r.ApplyServerSideEncryptionByDefault, BucketKeyEnabled: r.BucketKeyEnabled }))).toEqual(b.BucketEncryption!.ServerSideEncryptionConfiguration);
    const lifecycle = (await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))).Rules!;
    expect(lifecycle.map((r) => ({ Id: r.ID, Status: r.Status, Prefix: r.Filter?.Prefix ?? r.Prefix, ...(r.Expiration ? { ExpirationInDays: r.Expiration.Days } : {}), ...(r.AbortIncompleteMultipartUpload ? { AbortIncompleteMultipartUpload: { DaysAfterInitiation: r.AbortIncompleteMultipartUpload.DaysAfterInitiation } } : {}) })))
      .toEqual(b.LifecycleConfiguration!.Rules);
    expect(tagMap((await s3.send(new GetBucketTaggingCommand({ Bucket: bucket }))).TagSet)).toEqual(tagMap(b.Tags));

    const mappings = (await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: refs.Alias }))).EventSourceMappings!;
    expect(mappings.map((m) => ({ FunctionName: refs.Alias, EventSourceArn: m.EventSourceArn, BatchSize: m.BatchSize, FunctionResponseTypes: m.FunctionResponseTypes }))).toEqual([resolve(template.Resources.QueueMapping0!.Properties, refs)]);
    const notification = (await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: 'incoming-data' }))).LambdaFunctionConfigurations!;
    const n = resolve(template.Resources.S3Notification0!.Properties, refs) as { Id: string; LambdaFunctionArn: string; Events: string[]; FilterRules: unknown[] };
    expect(notification.map((x) => ({ Id: x.Id, LambdaFunctionArn: x.LambdaFunctionArn, Events: x.Events, FilterRules: x.Filter?.Key?.FilterRules?.map((r) => ({ Name: r.Name!.toLowerCase(), Value: r.Value })) })))
      .toEqual([{ Id: n.Id, LambdaFunctionArn: n.LambdaFunctionArn, Events: n.Events, FilterRules: n.FilterRules }]);

    // Alarms and the dashboard: what CloudWatch reports equals what the template declares.
    const cw = new CloudWatchClient(common);
    const alarms = (await cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: 'mlserve-iris-dev-' }))).MetricAlarms!;
    const declaredAlarms = Object.values(template.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm').map((r) => resolve(r.Properties, refs) as Record<string, unknown>);
    expect(declaredAlarms.map((a) => a.AlarmName)).toEqual(['mlserve-iris-dev-error-rate', 'mlserve-iris-dev-p99', 'mlserve-iris-dev-throttles']);
    for (const want of declaredAlarms) {
      const got = alarms.find((a) => a.AlarmName === want.AlarmName) as unknown as Record<string, unknown>;
      const { Tags: _tags, ...fields } = want;
      const seen = Object.fromEntries(Object.keys(fields).map((k) => [k, k === 'Metrics' ? (got.Metrics as Record<string, unknown>[]).map((m) => Object.fromEntries(Object.entries(m).filter(([, v]) => v !== undefined))) : got[k]]));
      expect(seen, String(want.AlarmName)).toEqual(fields);
    }
    const dashboard = (await cw.send(new GetDashboardCommand({ DashboardName: 'mlserve-iris-dev' }))).DashboardBody!;
    expect(JSON.parse(dashboard)).toEqual(JSON.parse(resolve(template.Resources.Dashboard!.Properties.DashboardBody, refs) as string));

    // SAM declares the same function properties (its own shape for code, versions, URL and events).
    const sam = parse(readFileSync(join(exported.sam!, 'template.yaml'), 'utf8')) as Template;
    const samFn = resolve(sam.Resources.Function!.Properties, refs) as Record<string, unknown>;
    for (const key of ['FunctionName', 'Description', 'Runtime', 'Handler', 'Role', 'MemorySize', 'Timeout', 'EphemeralStorage', 'Architectures', 'Environment']) expect(samFn[key], key).toEqual(declared[key]);
    expect(samFn.FunctionUrlConfig).toEqual({ AuthType: url.AuthType });
    expect(samFn.AutoPublishAlias).toBe('dev');

    // A changed model: a new version logical ID and new keys, nothing unrelated.
    const oldYaml = readFileSync(join(exported.cloudformation!, 'template.yaml'), 'utf8');
    writeFileSync(join(model.dir, 'weights.bin'), Buffer.alloc(4096, 8));
    expect((await runCli(['export', '--format', 'cloudformation', '--no-upload', '--out', exported.cloudformation!], { cwd: model.dir, env })).code).toBe(0);
    const newYaml = readFileSync(join(exported.cloudformation!, 'template.yaml'), 'utf8');
    const oldIds = Object.keys((parse(oldYaml) as Template).Resources);
    const newIds = Object.keys((parse(newYaml) as Template).Resources);
    expect(newIds.filter((id) => !oldIds.includes(id))).toEqual([expect.stringMatching(/^Version[0-9a-f]{16}$/)]);
    expect(oldIds.filter((id) => !newIds.includes(id))).toEqual([expect.stringMatching(/^Version[0-9a-f]{16}$/)]);
    const changed = newYaml.split('\n').filter((line, i) => line !== oldYaml.split('\n')[i]);
    for (const line of changed) expect(line, line).toMatch(/sha256|Version[0-9a-f]{16}|CodeSha256|[0-9a-f]{64}/);
    // The stale artifact beside the template is gone; only the new one is left to upload.
    expect(readdirSync(join(exported.cloudformation!, 'artifacts'), { recursive: true }).map(String).filter((f) => f.includes('/artifacts/'))).toHaveLength(1);
  }, 240_000);

  it('uploads the code and offloaded artifacts to mlserve’s private bucket, and the template defaults to it', async () => {
    await moto.reset();
    const s3 = new S3Client({ region: 'us-east-1', endpoint: moto.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true });
    const model = await project('custom', ['--provider', 'aws', '--region', 'us-east-1', '--python', '3.12']);
    writeFileSync(join(model.dir, 'weights.bin'), Buffer.alloc(2048, 1));
    const config = join(model.dir, 'mlserve.config.yaml');
    writeFileSync(config, readFileSync(config, 'utf8').replace(/^model:\n/m, 'model:\n  offload: always\n'));
    const r = await runCli(['export', '--format', 'cloudformation', '--json'], { cwd: model.dir, env: packagingEnv(moto.env) });
    expect(r.code, r.stderr).toBe(0);
    const out = r.json<{ out: string; bucket: string; uploaded: string[]; toUpload: unknown[]; files: string[] }>();
    expect(out.out).toBe(join(model.dir, 'infrastructure', 'aws', 'cloudformation', 'dev'));
    expect(out.files).toEqual(['artifacts.yaml', 'template.yaml']);
    expect(out.toUpload).toEqual([]);
    expect(out.uploaded).toEqual([expect.stringMatching(/^iris\/dev\/artifacts\/[0-9a-f]{64}$/), expect.stringMatching(/^iris\/dev\/export\/[0-9a-f]{64}\.zip$/)]);
    const template = parse(readFileSync(join(out.out, 'template.yaml'), 'utf8')) as Template & { Parameters: { ArtifactsBucket: { Default: string } } };
    expect(template.Parameters.ArtifactsBucket.Default).toBe(out.bucket);
    expect((await s3.send(new GetPublicAccessBlockCommand({ Bucket: out.bucket }))).PublicAccessBlockConfiguration?.BlockPublicPolicy).toBe(true);
    const code = template.Resources.Function!.Properties.Code as { S3Key: string };
    for (const key of out.uploaded) expect((await s3.send(new HeadObjectCommand({ Bucket: out.bucket, Key: key }))).ServerSideEncryption).toBe('AES256');
    expect(out.uploaded).toContain(code.S3Key);
    // The stack reads its code again whenever it replaces the function: no lifecycle rule expires it.
    const expiring = ((await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: out.bucket }))).Rules ?? []).filter((rule) => rule.Expiration);
    expect(expiring.length).toBeGreaterThan(0);
    for (const rule of expiring) expect(code.S3Key.startsWith(rule.Filter?.Prefix ?? rule.Prefix ?? '')).toBe(false);
    // Nothing changed: nothing uploaded again.
    const again = await runCli(['export', '--format', 'cloudformation', '--json'], { cwd: model.dir, env: packagingEnv(moto.env) });
    expect(again.json<{ uploaded: string[] }>().uploaded).toEqual([]);
  }, 240_000);

  it('warns when --out is inside the model directory, where the next package would bundle it', async () => {
    const model = await project('custom', ['--provider', 'aws', '--region', 'us-east-1', '--python', '3.12']);
    const r = await runCli(['export', '--format', 'terraform', '--out', 'infra'], { cwd: model.dir, env: packagingEnv() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('is inside the model directory: add infra/ to .mlserveignore');
    const quiet = await runCli(['export', '--format', 'terraform'], { cwd: model.dir, env: packagingEnv() });
    expect(quiet.stderr).not.toContain('inside the model directory');
    expect(readdirSync(join(model.dir, 'infrastructure', 'aws', 'terraform', 'dev'))).toEqual(['artifacts', 'main.tf']);
  }, 240_000);

  it('refuses a format the provider does not write, before packaging', async () => {
    const model = await project('custom', ['--provider', 'azure']);
    const r = await runCli(['export', '--format', 'bicep'], { cwd: model.dir, env: packagingEnv() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--format bicep is not available for the azure provider');
    const aws = await runCli(['export', '--format', 'bicep', '--provider', 'aws'], { cwd: model.dir, env: packagingEnv() });
    expect(aws.code).toBe(2);
    expect(aws.stderr).toContain('use one of: cloudformation, sam, terraform');
  }, 240_000);
});

describe('mlserve export of a container image', () => {
  let registry: Registry;
  let base: string;
  beforeAll(async () => {
    registry = await startRegistry();
    base = await seedPythonBase(registry, { repository: 'library/python', tag: '3.12-slim', python: '3.12', glibc: '2.36' });
  }, 120_000);
  afterAll(async () => {
    await registry?.stop();
  });

  it('pushes the image to the stage’s repository and declares an Image function by digest, equal to what deploy creates; without upload, writes the OCI layout beside', async () => {
    await moto.reset();
    const common = { region: 'us-east-1', endpoint: moto.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
    const model = await project('custom', ['--provider', 'aws', '--region', 'us-east-1', '--python', '3.12'], `\nimage:\n  base: ${base}\n`);
    const config = join(model.dir, 'mlserve.config.yaml');
    writeFileSync(config, readFileSync(config, 'utf8').replace(/^ {2}package: \w+/m, '  package: image'));
    const env = packagingEnv({ ...moto.env, MLSERVE_REGISTRY_URL: registry.url });
    const r = await runCli(['export', '--format', 'cloudformation', '--json'], { cwd: model.dir, env });
    expect(r.code, r.stderr).toBe(0);
    const out = r.json<{ out: string; uploaded: string[]; files: string[] }>();
    expect(out.files).toEqual(['artifacts.yaml', 'template.yaml']);
    expect(out.uploaded.some((u) => u.startsWith('mlserve/iris-dev@sha256:'))).toBe(true);
    for (const file of ['artifacts.yaml', 'template.yaml']) expect(lint(join(out.out, file)), file).toEqual({ code: 0, out: '' });
    const template = parse(readFileSync(join(out.out, 'template.yaml'), 'utf8')) as Template & { Parameters: { ImageUri: { Default: string } } };
    const fnProps = template.Resources.Function!.Properties;
    expect(fnProps).toMatchObject({ PackageType: 'Image', Code: { ImageUri: { Ref: 'ImageUri' } } });
    expect(fnProps.Runtime).toBeUndefined();

    const deploy = await runCli(['deploy', '--json'], { cwd: model.dir, env });
    expect(deploy.code, deploy.stderr).toBe(0);
    const fn = await new LambdaClient(common).send(new GetFunctionCommand({ FunctionName: 'iris-dev' }));
    expect(fn.Code?.ImageUri).toBe(template.Parameters.ImageUri.Default);
    expect(fn.Configuration?.PackageType).toBe('Image');
    const ecr = new ECRClient(common);
    const repo = (await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['mlserve/iris-dev'] }))).repositories![0]!;
    const declared = (parse(readFileSync(join(out.out, 'artifacts.yaml'), 'utf8')) as Template).Resources.Repository!.Properties as Record<string, { ScanOnPush?: boolean; EncryptionType?: string; LifecyclePolicyText?: string }>;
    expect({ name: repo.repositoryName, mutability: repo.imageTagMutability, scan: repo.imageScanningConfiguration?.scanOnPush, encryption: repo.encryptionConfiguration?.encryptionType })
      .toEqual({ name: declared.RepositoryName, mutability: declared.ImageTagMutability, scan: declared.ImageScanningConfiguration!.ScanOnPush, encryption: declared.EncryptionConfiguration!.EncryptionType });
    const policy = await ecr.send(new GetLifecyclePolicyCommand({ repositoryName: 'mlserve/iris-dev' }));
    expect(JSON.parse(policy.lifecyclePolicyText!)).toEqual(JSON.parse(declared.LifecyclePolicy!.LifecyclePolicyText!));

    const sam = await runCli(['export', '--format', 'sam', '--out', join(model.dir, 'infrastructure', 'sam-image'), '--json'], { cwd: model.dir, env });
    expect(sam.code, sam.stderr).toBe(0);
    expect(sam.json<{ uploaded: string[] }>().uploaded).toEqual([]); // the repository has every blob already
    expect(lint(join(model.dir, 'infrastructure', 'sam-image', 'template.yaml'))).toEqual({ code: 0, out: '' });

    // No upload: the OCI layout beside Terraform's main.tf, which skopeo reads as the same image.
    const tfOut = join(model.dir, 'infrastructure', 'tf-image');
    const tf = await runCli(['export', '--format', 'terraform', '--no-upload', '--out', tfOut, '--json'], { cwd: model.dir, env: { ...env, AWS_ENDPOINT_URL: 'http://127.0.0.1:9' } });
    expect(tf.code, tf.stderr).toBe(0);
    expect(tf.json<{ notes: string[] }>().notes.join('\n')).toContain(`skopeo copy oci:${join(tfOut, 'image')}`);
    expect(spawnSync('terraform', ['fmt', '-check', join(tfOut, 'main.tf')]).status).toBe(0);
    const digest = spawnSync('skopeo', ['inspect', '--format', '{{.Digest}}', `oci:${join(tfOut, 'image')}`], { encoding: 'utf8' });
    expect(digest.status, digest.stderr).toBe(0);
    expect(template.Parameters.ImageUri.Default).toBe(`${repo.repositoryUri}@${digest.stdout.trim()}`);
    expect(readFileSync(join(tfOut, 'main.tf'), 'utf8')).toMatch(/image_uri\s+= var\.image_uri/);
  }, 240_000);
});
