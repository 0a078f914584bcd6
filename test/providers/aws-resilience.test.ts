import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { GetAliasCommand, GetFunctionUrlConfigCommand, LambdaClient, ListFunctionsCommand, ListVersionsByFunctionCommand } from '@aws-sdk/client-lambda';
import { IAMClient, ListRolesCommand } from '@aws-sdk/client-iam';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageModel } from '../../src/core/actions/package.js';
import { loadConfig } from '../../src/core/config/load.js';
import { RecordingReporter } from '../../src/core/reporter.js';
import { AwsProvider, DEPLOY_STEPS } from '../../src/providers/aws/index.js';
import { runCli } from '../helpers/cli.js';
import { startMoto, type Moto } from '../helpers/moto.js';
import { packagingEnv, project } from '../helpers/project.js';

let moto: Moto;
beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});

const bin = join(import.meta.dirname, '../../bin/mlserve.js');

function deployProcess(cwd: string, env: Record<string, string>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, 'deploy', '--json'], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
}

/** What a user would compare: functions, versions, where the alias points, the URL, roles, buckets. */
async function snapshot() {
  const common = { region: 'us-east-1', endpoint: moto.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  const lambda = new LambdaClient(common);
  const functions = ((await lambda.send(new ListFunctionsCommand({}))).Functions ?? []).map((f) => f.FunctionName);
  const versions = functions.length ? ((await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: 'iris-dev' }))).Versions ?? []).map((v) => v.Version) : [];
  const alias = functions.length ? await lambda.send(new GetAliasCommand({ FunctionName: 'iris-dev', Name: 'dev' })).then((a) => a.FunctionVersion, () => null) : null;
  const url = functions.length ? await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'iris-dev', Qualifier: 'dev' })).then((u) => u.AuthType, () => null) : null;
  const roles = ((await new IAMClient(common).send(new ListRolesCommand({}))).Roles ?? []).map((r) => r.RoleName).filter((n) => n!.startsWith('mlserve-'));
  const buckets = ((await new S3Client({ ...common, forcePathStyle: true }).send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name).filter((n) => n!.startsWith('mlserve-'));
  return { functions, versions, alias, url, roles, buckets };
}

describe('aws deploy resilience', () => {
  it('a deploy killed (SIGKILL) right after each step converges, when run again, to the uninterrupted state', async () => {
    const model = await project('custom', ['--provider', 'aws', '--region', 'us-east-1']);
    const env = { ...packagingEnv(moto.env) };
    await moto.reset();
    expect((await deployProcess(model.dir, env)).code).toBe(0);
    const reference = await snapshot();
    expect(reference).toMatchObject({ functions: ['iris-dev'], versions: ['$LATEST', '1'], alias: '1', url: 'AWS_IAM', roles: ['mlserve-iris-dev'] });
    expect(reference.buckets).toHaveLength(1);
    // A zip deploy has no image step (the image test kills a deploy right after its push).
    for (const step of DEPLOY_STEPS.filter((s) => s !== 'image')) {
      await moto.reset();
      const killed = await deployProcess(model.dir, { ...env, MLSERVE_FAULT_AFTER_STEP: step });
      expect(killed.signal, `${step}: ${killed.stderr}`).toBe('SIGKILL');
      const rerun = await deployProcess(model.dir, env);
      expect(rerun.code, `${step}: ${rerun.stderr}`).toBe(0);
      expect(await snapshot(), `after a kill following "${step}"`).toEqual(reference);
    }
  });

  it('retries ResourceConflictException and throttling injected at the SDK boundary', async () => {
    await moto.reset();
    const model = await project('custom', ['--provider', 'aws', '--region', 'us-east-1']);
    const env = packagingEnv(moto.env);
    expect((await runCli(['deploy'], { cwd: model.dir, env })).code).toBe(0);
    // Change the code so the second deploy updates it.
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(model.dir, 'predict.py'), 'def load(model_dir):\n    return 3\n\n\ndef predict(model, inputs):\n    return [model * sum(r) for r in inputs]\n');
    const loaded = await loadConfig({ cwd: model.dir, env });
    const reporter = new RecordingReporter();
    const { bundle } = await packageModel({ loaded, provider: 'aws', env, reporter });
    const injected: Record<string, number> = {};
    const provider = new AwsProvider({ loaded, env, reporter }, {
      retry: { baseMs: 10 },
      configureClients: (clients) => {
        clients.lambda.middlewareStack.add(
          (next, context) => async (args) => {
            const command = context.commandName ?? '';
            const failures: Record<string, string> = { UpdateFunctionCodeCommand: 'ResourceConflictException', PublishVersionCommand: 'TooManyRequestsException', UpdateAliasCommand: 'ThrottlingException' };
            if (failures[command] && (injected[command] ?? 0) < 2) {
              injected[command] = (injected[command] ?? 0) + 1;
              throw Object.assign(new Error(`injected ${failures[command]}: The operation cannot be performed at this time. An update is in progress`), { name: failures[command], $metadata: { httpStatusCode: 409 } });
            }
            return next(args);
          },
          { step: 'initialize', name: 'inject-failures' },
        );
      },
    });
    const result = await provider.deploy(bundle!, { promote: true });
    expect(result).toMatchObject({ version: '2', published: true, alias: { version: '2' } });
    expect(injected).toEqual({ UpdateFunctionCodeCommand: 2, PublishVersionCommand: 2, UpdateAliasCommand: 2 });
    expect(reporter.messages('debug').filter((m) => /retrying in \d+ ms/.test(m))).toHaveLength(6);
  });

  it('invoke: a function error exits 1 with its type, message and decoded log tail (injected); payloads over 6 MB never leave', async () => {
    await moto.reset();
    const model = await project('custom', ['--provider', 'aws', '--region', 'us-east-1']);
    const env = packagingEnv(moto.env);
    expect((await runCli(['deploy'], { cwd: model.dir, env })).code).toBe(0);
    // moto echoes the payload: an event comes back as it went.
    const echo = await runCli(['invoke', '--event', join(import.meta.dirname, '../../../shared/fixtures/events/aws/scheduled.json'), '--json'], { cwd: model.dir, env });
    expect(echo.code, echo.stderr).toBe(0);
    expect(echo.json()).toMatchObject({ body: { 'detail-type': 'Scheduled Event', source: 'aws.events' } });

    const loaded = await loadConfig({ cwd: model.dir, env });
    const provider = new AwsProvider({ loaded, env, reporter: new RecordingReporter() }, {
      configureClients: (clients) => {
        clients.lambda.middlewareStack.add(
          () => async () => ({
            output: {
              $metadata: { httpStatusCode: 200 },
              StatusCode: 200,
              FunctionError: 'Unhandled',
              ExecutedVersion: '1',
              LogResult: Buffer.from('START RequestId: 1\nTraceback: ValueError: bad rows\nEND').toString('base64'),
              Payload: Buffer.from(JSON.stringify({ errorType: 'ValueError', errorMessage: 'bad rows' })),
            },
            response: {},
          }),
          { step: 'initialize', name: 'fake-function-error' },
        );
      },
    });
    const result = await provider.invoke({ kind: 'event', event: { instances: [[1, 2, 3, 4]] } });
    expect(result).toMatchObject({ functionError: { type: 'ValueError', message: 'bad rows' }, logTail: expect.stringContaining('Traceback: ValueError: bad rows') });
    const { checkInvokeResult } = await import('../../src/core/actions/invoke.js');
    expect(() => checkInvokeResult(result, {})).toThrow(/the function failed: ValueError: bad rows/);

    const big = JSON.stringify({ instances: Array.from({ length: 400_000 }, () => [1.5, 2.5, 3.5, 4.5]) });
    const refused = await runCli(['invoke', '--data', big], { cwd: model.dir, env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('synchronous invocations take at most 6291456');
  });
});
