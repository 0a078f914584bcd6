import { closeSync, openSync, ftruncateSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetRolePolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import { GetFunctionConcurrencyCommand, LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { CreateBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config/load.js';
import { RecordingReporter } from '../../src/core/reporter.js';
import { AwsProvider } from '../../src/providers/aws/index.js';
import { awsNames } from '../../src/providers/aws/names.js';
import { executionPolicy } from '../../src/providers/aws/plan.js';
import { runCli } from '../helpers/cli.js';
import { startMoto, type Moto } from '../helpers/moto.js';
import { packagingEnv, project } from '../helpers/project.js';
import { tempDir } from '../helpers/python.js';

let moto: Moto;
beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});

const common = () => ({ region: 'us-east-1', endpoint: moto.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
}

/** Does an IAM policy allow `action` on `resource`? (Allow statements, `*` wildcards: what IAM evaluates for these.) */
function allows(policy: { Statement: Statement[] }, action: string, resource: string): boolean {
  const glob = (pattern: string) => new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.?+^$()[\]{}|\\/]/g, '\\$&')).join('.*')}$`);
  return policy.Statement.some((s) => s.Effect === 'Allow' && [s.Action].flat().some((a) => glob(a).test(action)) && [s.Resource].flat().some((r) => glob(r).test(resource)));
}

async function rolePolicy(): Promise<{ Statement: Statement[] }> {
  const out = await new IAMClient(common()).send(new GetRolePolicyCommand({ RoleName: 'mlserve-big-dev', PolicyName: 'mlserve-least-privilege' }));
  return JSON.parse(decodeURIComponent(out.PolicyDocument!)) as { Statement: Statement[] };
}

/** A custom model with a 263 MB artifact: over Lambda's unzipped limit, so it is offloaded to S3. */
async function bigModel(): Promise<string> {
  const model = await project('custom', ['--name', 'big', '--provider', 'aws', '--region', 'us-east-1']);
  const fd = openSync(join(model.dir, 'weights.bin'), 'w');
  ftruncateSync(fd, 263 * 1024 * 1024);
  closeSync(fd);
  return model.dir;
}

describe('aws: what a first real deploy needs (moto_server)', () => {
  it('the execution role can read every offloaded artifact, in a generated and in a configured bucket', async () => {
    await moto.reset();
    for (const configured of [undefined, 'team-models-bucket']) {
      if (configured) await new S3Client({ ...common(), forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: configured }));
      const dir = await bigModel();
      const file = join(dir, 'mlserve.config.yaml');
      if (configured) writeFileSync(file, readFileSync(file, 'utf8').replace('aws:\n  region: us-east-1', `aws:\n  region: us-east-1\n  bucket: ${configured}`));
      const run = await runCli(['deploy', '--json', '--debug'], { cwd: dir, env: packagingEnv(moto.env) });
      expect(run.code, run.stderr).toBe(0);
      // Upload progress, in bytes of the total (a spinner's text on a terminal, debug lines here).
      expect(run.stderr).toMatch(/Uploading artifacts: weights\.bin: [\d.]+ MB of 263\.0 MB/);
      const doc = run.json<{ uploaded: string[]; bundle: { sha256: string } }>();
      const artifacts = doc.uploaded.filter((k) => k.includes('/artifacts/'));
      expect(artifacts).toHaveLength(1);
      const fn = await new LambdaClient(common()).send(new ListFunctionsCommand({}));
      const bucket = fn.Functions!.find((f) => f.FunctionName === 'big-dev')!.Environment!.Variables!.MLSERVE_ARTIFACTS_BUCKET!;
      expect(bucket).toEqual(configured ?? expect.stringMatching(/^mlserve-big-dev-[0-9a-f]{10}$/));
      const policy = await rolePolicy();
      for (const key of artifacts) expect(allows(policy, 's3:GetObject', `arn:aws:s3:::${bucket}/${key}`), `${bucket}/${key}`).toBe(true);
      expect(allows(policy, 's3:GetObject', `arn:aws:s3:::some-other-bucket/${artifacts[0]}`)).toBe(false);
      expect((await runCli(['destroy', '--yes'], { cwd: dir, env: packagingEnv(moto.env) })).code).toBe(0);
    }
  });

  it('ARNs in the policy use the partition of the region', async () => {
    const config = (await loadConfig({ cwd: await bigModel(), env: {} })).config;
    for (const [region, partition] of [['cn-north-1', 'aws-cn'], ['us-gov-west-1', 'aws-us-gov'], ['eu-west-1', 'aws']] as const) {
      const names = awsNames('big', 'dev', '123456789012', region);
      const policy = JSON.stringify(executionPolicy(names, { account: '123456789012', region, partition, bucket: names.bucket }, config));
      expect(policy.match(/arn:[a-z-]+:/g)!.every((arn) => arn === `arn:${partition}:`), policy).toBe(true);
    }
  });

  it('a default deploy reserves no concurrency, says so, and follows resources.concurrency when it is set and removed', async () => {
    await moto.reset();
    const model = await project('custom', ['--provider', 'aws', '--region', 'us-east-1']);
    const env = packagingEnv(moto.env);
    const lambda = new LambdaClient(common());
    const reserved = async () => (await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: 'iris-dev' }))).ReservedConcurrentExecutions;
    const first = await runCli(['deploy'], { cwd: model.dir, env });
    expect(first.code, first.stderr).toBe(0);
    expect(await reserved()).toBeUndefined();
    expect(first.stderr).toContain('Concurrency: no reserved concurrency');
    const file = join(model.dir, 'mlserve.config.yaml');
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace('resources:\n', 'resources:\n  concurrency: 7\n'));
    const capped = await runCli(['deploy'], { cwd: model.dir, env });
    expect(capped.stderr).toContain('Concurrency: 7 reserved concurrent executions');
    expect(await reserved()).toBe(7);
    writeFileSync(file, text);
    expect((await runCli(['deploy'], { cwd: model.dir, env })).code).toBe(0);
    expect(await reserved()).toBeUndefined();
  });

  it('destroy reports a role it cannot read and a failed trigger listing instead of leaving them silently', async () => {
    await moto.reset();
    const model = await project('custom', ['--provider', 'aws', '--region', 'us-east-1']);
    const env = packagingEnv(moto.env);
    expect((await runCli(['deploy'], { cwd: model.dir, env })).code).toBe(0);
    const loaded = await loadConfig({ cwd: model.dir, env });
    for (const [client, command, name] of [['iam', 'GetRoleCommand', 'AccessDenied'], ['lambda', 'ListEventSourceMappingsCommand', 'ServiceException']] as const) {
      const provider = new AwsProvider({ loaded, env, reporter: new RecordingReporter() }, {
        retry: { attempts: 1 },
        configureClients: (clients) => {
          clients[client].middlewareStack.add(
            (next, context) => async (args) => {
              if (context.commandName === command) throw Object.assign(new Error(`injected ${name}`), { name, $metadata: { httpStatusCode: name === 'AccessDenied' ? 403 : 500 } });
              return next(args);
            },
            { step: 'initialize', name: 'inject' },
          );
        },
      });
      await expect(provider.destroy({ dryRun: true })).rejects.toMatchObject({ message: expect.stringContaining(`injected ${name}`) });
    }
    expect((await runCli(['destroy', '--yes'], { cwd: model.dir, env })).code).toBe(0);
  });

  it('pre-flight refuses a bundle whose dependencies cannot load, before anything is uploaded', async () => {
    await moto.reset();
    const cache = tempDir('deps-broken-');
    const model = await project('sklearn-classifier', ['--provider', 'aws', '--region', 'us-east-1']);
    const env = packagingEnv({ ...moto.env, MLSERVE_CACHE_DIR: cache });
    expect((await runCli(['package'], { cwd: model.dir, env })).code).toBe(0);
    // Break the vendored numpy: remove its compiled core.
    const [set] = readdirSync(join(cache, 'deps'));
    const core = join(cache, 'deps', set!, 'numpy', '_core');
    for (const f of readdirSync(core).filter((n) => n.startsWith('_multiarray_umath') && n.endsWith('.so'))) rmSync(join(core, f));
    const run = await runCli(['deploy', '--json'], { cwd: model.dir, env });
    expect(run.code).toBe(1);
    expect(run.json()).toMatchObject({ ok: false, error: { code: 'PREFLIGHT_FAILED', message: expect.stringMatching(/numpy/) } });
    expect(run.stderr).toMatch(/import failed|ImportError|ModuleNotFoundError/);
    expect((await new LambdaClient(common()).send(new ListFunctionsCommand({}))).Functions ?? []).toEqual([]);
    expect(((await new S3Client({ ...common(), forcePathStyle: true }).send(new ListBucketsCommand({}))).Buckets ?? [])).toEqual([]);
  });

  it('pre-flight passes a good bundle, answering init’s sample or a request shaped from the model’s signature', async () => {
    const model = await project('sklearn-classifier', ['--provider', 'aws', '--region', 'us-east-1']);
    const run = await runCli(['package', '--check', '--json'], { cwd: model.dir, env: packagingEnv() });
    expect(run.code, run.stderr).toBe(0);
    const { preflight } = run.json<{ preflight: { ran: boolean; ms: number; request: string; status: number } }>();
    // init wrote mlserve.sample.json (one row of the model's width): that is the request sent.
    expect(preflight).toMatchObject({ ran: true, request: 'sample file', status: 200 });
    // How long it takes is measured by `npm run bench -- preflight` against a floor, not timed here.
    expect(preflight.ms).toBeGreaterThan(0);
    // Without a sample file, a request is shaped from the loaded model's declared inputs.
    rmSync(join(model.dir, 'mlserve.sample.json'));
    const derived = await runCli(['package', '--check', '--json'], { cwd: model.dir, env: packagingEnv() });
    expect(derived.json<{ preflight: { request: string; status: number } }>().preflight).toMatchObject({ request: "the model's input signature", status: 200 });
    // A sample the model cannot take is refused, naming the status and the model's answer.
    writeFileSync(join(model.dir, 'mlserve.sample.json'), '{"instances": [[1, 2]]}');
    const refused = await runCli(['package', '--check', '--json'], { cwd: model.dir, env: packagingEnv() });
    expect(refused.code).toBe(1);
    expect(refused.json()).toMatchObject({ error: { code: 'PREFLIGHT_FAILED', message: expect.stringContaining('HTTP 400') } });
  });
});
