import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { CloudWatchLogsClient, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { GetRoleCommand, GetRolePolicyCommand, IAMClient, ListRolePoliciesCommand, ListRolesCommand } from '@aws-sdk/client-iam';
import { GetAliasCommand, GetFunctionCommand, GetFunctionUrlConfigCommand, LambdaClient, ListFunctionsCommand, ListVersionsByFunctionCommand } from '@aws-sdk/client-lambda';
import { GetBucketEncryptionCommand, GetPublicAccessBlockCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startMoto, type Moto } from '../helpers/moto.js';
import { packagingEnv, project } from '../helpers/project.js';
import { testPython } from '../helpers/python.js';

let moto: Moto;
beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});

function sdk() {
  const common = { region: 'us-east-1', endpoint: moto.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  return { lambda: new LambdaClient(common), iam: new IAMClient(common), s3: new S3Client({ ...common, forcePathStyle: true }), logs: new CloudWatchLogsClient(common) };
}

interface DeployDoc {
  version: string;
  published: boolean;
  alias: { alias: string; version: string; canary?: { version: string; weight: number } };
  endpoint: string;
  uploaded: string[];
}

describe('aws provider against moto_server', () => {
  it('deploys securely, is idempotent, versions and promotes, and destroys everything it created', async () => {
    await moto.reset();
    const model = await project('sklearn-classifier', ['--provider', 'aws', '--region', 'us-east-1', '--memory', '2048', '--timeout', '60']);
    const env = packagingEnv(moto.env);
    const cli = (args: string[]) => runCli(args, { cwd: model.dir, env });
    const aws = sdk();

    const first = await cli(['deploy', '--json']);
    expect(first.code, first.stderr).toBe(0);
    const d1 = first.json<DeployDoc>();
    expect(d1).toMatchObject({ version: '1', published: true, alias: { alias: 'dev', version: '1' }, endpoint: expect.stringMatching(/^https:\/\/.+\.lambda-url\.us-east-1\.on\.aws/) });
    // The bundle is over 50 MB zipped, so the code went up through S3.
    expect(d1.uploaded).toEqual([expect.stringMatching(/^iris\/dev\/code\/[0-9a-f]{64}\.zip$/)]);

    const fn = await aws.lambda.send(new GetFunctionCommand({ FunctionName: 'iris-dev' }));
    expect(fn.Configuration).toMatchObject({ Runtime: 'python3.11', Handler: 'mlserve_handler.handler', MemorySize: 2048, Timeout: 60, Architectures: ['x86_64'] });
    expect(fn.Configuration!.Environment!.Variables).toMatchObject({ MLSERVE_STAGE: 'dev', MLSERVE_ARTIFACTS_BUCKET: expect.stringMatching(/^mlserve-iris-dev-[0-9a-f]{10}$/) });
    expect(fn.Tags).toMatchObject({ 'mlserve:app': 'iris', 'mlserve:stage': 'dev' });
    expect((await aws.lambda.send(new GetAliasCommand({ FunctionName: 'iris-dev', Name: 'dev' }))).FunctionVersion).toBe('1');
    expect((await aws.lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'iris-dev', Qualifier: 'dev' }))).AuthType).toBe('AWS_IAM');

    // Role: trusted by Lambda only; logs to its own group; reads only its own artifacts.
    const role = (await aws.iam.send(new GetRoleCommand({ RoleName: 'mlserve-iris-dev' }))).Role!;
    const trust = JSON.parse(decodeURIComponent(role.AssumeRolePolicyDocument!)) as { Statement: { Principal: unknown; Action: string }[] };
    expect(trust.Statement).toEqual([{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }]);
    expect((await aws.iam.send(new ListRolePoliciesCommand({ RoleName: 'mlserve-iris-dev' }))).PolicyNames).toEqual(['mlserve-least-privilege']);
    const policy = JSON.parse(decodeURIComponent((await aws.iam.send(new GetRolePolicyCommand({ RoleName: 'mlserve-iris-dev', PolicyName: 'mlserve-least-privilege' }))).PolicyDocument!)) as { Statement: { Action: string | string[]; Resource: string }[] };
    const bucket = fn.Configuration!.Environment!.Variables!.MLSERVE_ARTIFACTS_BUCKET!;
    expect(policy.Statement).toEqual([
      expect.objectContaining({ Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: 'arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/iris-dev:*' }),
      expect.objectContaining({ Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/iris/dev/artifacts/*` }),
    ]);
    // Bucket: every public access blocked, encrypted at rest.
    expect((await aws.s3.send(new GetPublicAccessBlockCommand({ Bucket: bucket }))).PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true });
    expect((await aws.s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }))).ServerSideEncryptionConfiguration!.Rules![0]!.ApplyServerSideEncryptionByDefault!.SSEAlgorithm).toBe('AES256');

    // Nothing changed: nothing uploaded, no new version.
    const again = (await cli(['deploy', '--json'])).json<DeployDoc>();
    expect(again).toMatchObject({ version: '1', published: false, uploaded: [] });
    expect(((await aws.lambda.send(new ListVersionsByFunctionCommand({ FunctionName: 'iris-dev' }))).Versions ?? []).map((v) => v.Version)).toEqual(['$LATEST', '1']);

    // A changed model: version 2, and the alias follows.
    execFileSync(testPython(), ['-c', `import joblib; from sklearn.linear_model import LogisticRegression; from sklearn.datasets import load_iris; X, y = load_iris(return_X_y=True); joblib.dump(LogisticRegression(max_iter=50, C=0.01).fit(X, y), ${JSON.stringify(join(model.dir, 'model.joblib'))})`]);
    expect((await cli(['deploy', '--json'])).json<DeployDoc>()).toMatchObject({ version: '2', published: true, alias: { version: '2' } });

    const alias = async () => aws.lambda.send(new GetAliasCommand({ FunctionName: 'iris-dev', Name: 'dev' }));
    expect((await cli(['promote', '1'])).code).toBe(0);
    expect((await alias()).FunctionVersion).toBe('1');
    expect((await cli(['promote', '2', '--weight', '10'])).stdout).toBe('dev → version 1 90%, version 2 10% (canary)\n');
    expect((await alias()).RoutingConfig?.AdditionalVersionWeights).toEqual({ '2': 0.1 });
    const versions = (await cli(['versions', '--json'])).json<{ versions: { version: string; bundleSha256: string; aliases: unknown[] }[] }>();
    expect(versions.versions.map((v) => [v.version, v.aliases])).toEqual([['1', [{ name: 'dev', weight: 0.9 }]], ['2', [{ name: 'dev', weight: 0.1 }]]]);
    expect(versions.versions[0]!.bundleSha256).toMatch(/^[0-9a-f]{64}$/);
    expect((await cli(['promote', '--finish'])).code).toBe(0);
    const finished = await alias();
    expect([finished.FunctionVersion, finished.RoutingConfig?.AdditionalVersionWeights ?? {}]).toEqual(['2', {}]);
    expect((await cli(['rollback'])).stdout).toBe('dev → version 1\n');
    expect((await alias()).FunctionVersion).toBe('1');

    const dry = (await cli(['destroy', '--dry-run', '--json'])).json<{ removed: string[] }>();
    expect(dry.removed).toEqual(expect.arrayContaining(['function iris-dev (all versions, the dev alias and its URL)', 'role mlserve-iris-dev', `bucket ${bucket} and its objects`, 'log group /aws/lambda/iris-dev']));
    expect((await cli(['destroy', '--yes'])).code).toBe(0);
    expect((await aws.lambda.send(new ListFunctionsCommand({}))).Functions ?? []).toEqual([]);
    expect(((await aws.iam.send(new ListRolesCommand({}))).Roles ?? []).filter((r) => r.RoleName!.startsWith('mlserve-'))).toEqual([]);
    expect(((await aws.s3.send(new ListBucketsCommand({}))).Buckets ?? []).filter((b) => b.Name!.startsWith('mlserve-'))).toEqual([]);
    expect(((await aws.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/aws/lambda/iris-dev' }))).logGroups ?? [])).toEqual([]);
    // Idempotent: nothing left to remove.
    expect((await cli(['destroy', '--yes', '--json'])).json<{ removed: string[] }>().removed).toEqual([]);
  });
});

describe('doctor and logs on aws (moto_server)', () => {
  it('doctor reports the identity and region in effect, never a key', async () => {
    const home = (await import('../helpers/python.js')).tempDir();
    const run = await runCli(['doctor', '--provider', 'aws', '--json'], { cwd: home, env: { ...packagingEnv(moto.env), HOME: home } });
    expect(run.code, run.stdout).toBe(0);
    const checks = run.json<{ checks: { name: string; status: string; detail: string }[] }>().checks;
    expect(checks.find((c) => c.name === 'aws identity')).toMatchObject({ status: 'ok', detail: 'account 123456789012, arn:aws:sts::123456789012:user/moto' });
    expect(checks.find((c) => c.name === 'aws region')).toMatchObject({ status: 'ok', detail: 'us-east-1 (from AWS_REGION)' });
    expect(run.stdout).not.toContain('testing');
  });

  it('logs prints the function’s CloudWatch events since a time', async () => {
    await moto.reset();
    const model = await project('custom', ['--provider', 'aws', '--region', 'us-east-1']);
    const env = packagingEnv(moto.env);
    expect((await runCli(['deploy'], { cwd: model.dir, env })).code).toBe(0);
    const { CreateLogStreamCommand, PutLogEventsCommand } = await import('@aws-sdk/client-cloudwatch-logs');
    const logs = sdk().logs;
    await logs.send(new CreateLogStreamCommand({ logGroupName: '/aws/lambda/iris-dev', logStreamName: '2026/11/21/[1]abc' }));
    const now = Date.now();
    await logs.send(new PutLogEventsCommand({ logGroupName: '/aws/lambda/iris-dev', logStreamName: '2026/11/21/[1]abc', logEvents: [{ timestamp: now - 7_200_000, message: 'old line' }, { timestamp: now - 1000, message: '{"event": "init", "init_ms": 812}' }] }));
    const run = await runCli(['logs', '--since', '1h'], { cwd: model.dir, env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('2026/11/21/[1]abc  {"event": "init", "init_ms": 812}');
    expect(run.stdout).not.toContain('old line');
    const json = await runCli(['logs', '--since', '3h', '--json'], { cwd: model.dir, env });
    expect(json.json<{ lines: { message: string }[] }>().lines.map((l) => l.message)).toEqual(['old line', '{"event": "init", "init_ms": 812}']);
  });
});

describe('credentials stay secret (moto_server)', () => {
  it('deploy and a failing call with --debug never print the secret key or token', async () => {
    await moto.reset();
    const secret = 'wJalrXUtnFEMI/K7MDENG/SECRETsecretSECRET';
    const token = 'IQoJb3JpZ2luX2VjEXAMPLETOKENxyz';
    const model = await project('custom', ['--provider', 'aws']);
    const env = packagingEnv({ ...moto.env, AWS_SECRET_ACCESS_KEY: secret, AWS_SESSION_TOKEN: token, AWS_REGION: 'eu-west-1' });
    // --region overrides AWS_REGION.
    const deploy = await runCli(['deploy', '--region', 'us-east-1', '--debug', '--json'], { cwd: model.dir, env });
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(deploy.json<{ endpoint: string }>().endpoint).toContain('.us-east-1.');
    const failing = await runCli(['promote', '9', '--region', 'us-east-1', '--debug'], { cwd: model.dir, env });
    expect(failing.code).toBe(2);
    const unreachable = await runCli(['versions', '--debug'], { cwd: model.dir, env: { ...env, AWS_ENDPOINT_URL: 'http://127.0.0.1:9' } });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/\n\s+at /); // --debug does show the stack…
    for (const run of [deploy, failing, unreachable]) {
      for (const out of [run.stdout, run.stderr]) {
        expect(out).not.toContain(secret); // …but never a credential
        expect(out).not.toContain(token);
      }
    }
  });
});
