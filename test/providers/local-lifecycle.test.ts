import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startServe } from '../helpers/cli.js';
import { packagingEnv, project } from '../helpers/project.js';
import { testPython } from '../helpers/python.js';

const execFileAsync = promisify(execFile);

interface Versions {
  versions: { version: string; aliases: { name: string; weight: number }[] }[];
  alias: { alias: string; version: string; canary?: { version: string; weight: number } };
}

describe('local provider lifecycle through the CLI', () => {
  it('deploy, redeploy unchanged, deploy a changed model, versions, promote, canary, finish, rollback, destroy', async () => {
    const model = await project('sklearn-classifier');
    const env = packagingEnv();
    const cli = (args: string[]) => runCli(args, { cwd: model.dir, env });

    const first = await cli(['deploy', '--json']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.json()).toMatchObject({ ok: true, provider: 'local', version: '1', published: true, alias: { alias: 'dev', version: '1' }, endpoint: 'http://127.0.0.1:8080' });
    const human = await cli(['deploy']);
    expect(human.stdout).toBe('http://127.0.0.1:8080\n');
    expect(human.stderr).toContain('Bundle unchanged: version 1 is already deployed; nothing published.');
    expect((await cli(['versions', '--json'])).json<Versions>().versions.map((v) => v.version)).toEqual(['1']);

    // A changed model: retrain on other data, deploy again.
    execFileSync(testPython(), ['-c', `import joblib; from sklearn.linear_model import LogisticRegression; from sklearn.datasets import load_iris; X, y = load_iris(return_X_y=True); joblib.dump(LogisticRegression(max_iter=50, C=0.01).fit(X, y), ${JSON.stringify(join(model.dir, 'model.joblib'))})`]);
    const second = await cli(['deploy', '--json']);
    expect(second.json()).toMatchObject({ version: '2', published: true, alias: { version: '2' } });
    const v = (await cli(['versions', '--json'])).json<Versions>();
    expect(v.versions.map((x) => [x.version, x.aliases])).toEqual([['1', []], ['2', [{ name: 'dev', weight: 1 }]]]);
    expect((await cli(['versions'])).stdout).toMatch(/^version\s+created\s+bundle\s+model\s+aliases\n1\s.*\n2\s.*dev 100%\n\ndev → version 2/m);

    expect((await cli(['promote', '1', '--json'])).json()).toMatchObject({ alias: { version: '1' } });
    expect((await cli(['invoke', '--version', '2', '--data', JSON.stringify({ instances: model.rows })])).code).toBe(0);
    const canary = await cli(['promote', '2', '--weight', '10']);
    expect(canary.stdout).toBe('dev → version 1 90%, version 2 10% (canary)\n');
    expect((await cli(['versions', '--json'])).json<Versions>().versions.map((x) => x.aliases)).toEqual([[{ name: 'dev', weight: 0.9 }], [{ name: 'dev', weight: 0.1 }]]);
    expect((await cli(['promote', '--finish', '--json'])).json()).toMatchObject({ alias: { version: '2' } });
    expect((await cli(['rollback', '--json'])).json()).toMatchObject({ alias: { version: '1' } });
    expect((await cli(['rollback', '--json'])).json()).toMatchObject({ alias: { version: '2' } });

    // The alias is back on 2: with --keep 1, version 1 is prunable (a dry run here; destroy follows).
    expect((await cli(['versions', 'prune', '--keep', '1', '--dry-run'])).stdout).toBe('would delete version 1; kept 2\n');
    expect((await cli(['versions', 'prune', '--keep', '2'])).stdout).toBe('nothing to prune; kept 1, 2\n');

    const bad = await cli(['promote', '7']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('version 7 does not exist on stage dev');

    const refuse = await cli(['destroy']);
    expect(refuse.code).toBe(2);
    expect(refuse.stderr).toContain('--yes');
    const dry = await cli(['destroy', '--dry-run', '--json']);
    expect(dry.json<{ removed: string[] }>().removed).toEqual(expect.arrayContaining(['version 1', 'version 2', 'alias dev']));
    expect(existsSync(join(model.dir, '.mlserve/local/iris/dev'))).toBe(true);
    expect((await cli(['destroy', '--yes'])).code).toBe(0);
    expect(existsSync(join(model.dir, '.mlserve/local/iris/dev'))).toBe(false);
    expect((await cli(['versions', '--json'])).json<Versions>().versions).toEqual([]);
    expect((await cli(['destroy', '--yes'])).stdout).toBe('nothing to remove\n');
  });

  it('a deploy interrupted after extracting converges when run again', async () => {
    const model = await project('custom');
    const env = packagingEnv();
    // Simulate a crash mid-publish: a half-extracted temp directory of a process that is gone, and
    // one of a process that is still running (another deploy's, which must be left alone).
    const versions = join(model.dir, '.mlserve/local/iris/dev/versions');
    execFileSync('mkdir', ['-p', join(versions, 'next.tmp-2147483646-dead'), join(versions, `next.tmp-${process.pid}-live`)]);
    const run = await runCli(['deploy', '--json'], { cwd: model.dir, env });
    expect(run.json()).toMatchObject({ version: '1', published: true });
    expect(existsSync(join(versions, 'next.tmp-2147483646-dead'))).toBe(false);
    expect(existsSync(join(versions, `next.tmp-${process.pid}-live`))).toBe(true);
  });
});

describe('predictions through serve and invoke equal model.predict', () => {
  it.each(['sklearn-classifier', 'onnx'] as const)('%s', async (kind) => {
    const model = await project(kind);
    const env = packagingEnv();
    expect((await runCli(['deploy'], { cwd: model.dir, env })).code).toBe(0);
    const body = JSON.stringify({ instances: model.rows });

    const oneShot = await runCli(['invoke', '--data', body, '--json'], { cwd: model.dir, env });
    expect(oneShot.code, oneShot.stderr).toBe(0);
    expect(oneShot.json()).toMatchObject({ status: 200, body: { predictions: model.predictions } });

    const serve = await startServe(model.dir, env);
    try {
      const response = await fetch(`${serve.url}/v1/models/iris:predict`, { method: 'POST', body });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ predictions: model.predictions });
      // invoke finds the running serve and goes through it.
      const viaServe = await runCli(['invoke', '--data', body], { cwd: model.dir, env });
      expect(viaServe.stdout).toBe(`${JSON.stringify({ predictions: model.predictions })}\n`);
      const v2 = await fetch(`${serve.url}/v2/models/iris/infer`, {
        method: 'POST',
        body: JSON.stringify({ inputs: [{ name: kind === 'onnx' ? 'input' : 'x', shape: [3, 4], datatype: 'FP32', data: model.rows.flat() }] }),
      });
      const outputs = ((await v2.json()) as { outputs: { data: unknown[] }[] }).outputs;
      expect(outputs[0]!.data).toEqual(model.predictions);
      // Lambda's Invoke API, with the AWS CLI (installed on this machine image).
      const out = join(model.dir, 'out.json');
      writeFileSync(join(model.dir, 'payload.json'), body);
      // Async: the server runs in this process, so a blocking call would deadlock it.
      await execFileAsync('aws', ['lambda', 'invoke', '--endpoint-url', serve.url, '--region', 'us-east-1', '--function-name', 'iris', '--payload', `fileb://${join(model.dir, 'payload.json')}`, out], {
        env: { ...process.env, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' },
      });
      expect(JSON.parse(execFileSync('cat', [out], { encoding: 'utf8' }))).toEqual({ predictions: model.predictions });
    } finally {
      const stopped = await serve.stop();
      expect(stopped.code).toBe(130);
    }
  });
});

describe('mlserve invoke as a CI gate', () => {
  it('asserts status and JSON subsets, and shows expected against received', async () => {
    const model = await project('sklearn-classifier');
    const env = packagingEnv();
    await runCli(['deploy'], { cwd: model.dir, env });
    const cli = (args: string[]) => runCli(['invoke', ...args], { cwd: model.dir, env });
    const rows = JSON.stringify({ instances: model.rows });
    expect((await cli(['--data', rows, '--expect-json', JSON.stringify({ predictions: model.predictions })])).code).toBe(0);
    const wrong = await cli(['--data', rows, '--expect-json', '{"predictions": [9, 9, 9]}']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('expected: {"predictions":[9,9,9]}');
    expect(wrong.stderr).toContain(`received: {"predictions":${JSON.stringify(model.predictions)}}`);
    const bad = await cli(['--data', '{"instances": [[1, 2]]}']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('HTTP 400 INVALID_INPUT: instances[0]: has 2 features; the model takes 4');
    expect((await cli(['--data', '{"instances": [[1, 2]]}', '--expect-status', '400'])).code).toBe(0);
    const status = await cli(['--path', '/v2/health/ready', '--expect-status', '204', '--json']);
    expect(status.code).toBe(1);
    expect(status.json()).toMatchObject({ ok: false, error: { code: 'INVOKE_ASSERTION', details: { expected: { status: 204 }, received: { status: 200 } } } });
    // A raw event as Lambda would receive it, e.g. an SQS batch from a file.
    const sqs = join(import.meta.dirname, '../../../shared/fixtures/events/aws/sqs.json');
    const event = await cli(['--event', sqs, '--json']);
    expect(event.json()).toMatchObject({ body: { batchItemFailures: [{ itemIdentifier: expect.any(String) }, { itemIdentifier: expect.any(String) }] } });
  });

  it('refuses a payload over 6 MB before any call', async () => {
    const model = await project('custom');
    const big = JSON.stringify({ instances: Array.from({ length: 400_000 }, () => [1.5, 2.5, 3.5, 4.5]) });
    const run = await runCli(['invoke', '--data', big, '--json'], { cwd: model.dir, env: packagingEnv() });
    expect(run.code).toBe(2);
    expect(run.json()).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE', message: expect.stringContaining('at most 6291456') } });
  });
});
