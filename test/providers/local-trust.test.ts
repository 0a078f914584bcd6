import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startServe } from '../helpers/cli.js';
import { processesIn } from '../helpers/processes.js';
import { packagingEnv, project } from '../helpers/project.js';
import { testPython } from '../helpers/python.js';

const retrain = (dir: string, c: number) =>
  execFileSync(testPython(), ['-c', `import joblib; from sklearn.linear_model import LogisticRegression; from sklearn.datasets import load_iris; X, y = load_iris(return_X_y=True); joblib.dump(LogisticRegression(max_iter=300, C=${c}).fit(X, y), ${JSON.stringify(join(dir, 'model.joblib'))})`]);

describe('local provider: what a new user hits', () => {
  it('invoke --version 1 answers from version 1 of a two-version deployment', async () => {
    const model = await project('sklearn-classifier');
    const env = packagingEnv();
    const cli = (args: string[]) => runCli(args, { cwd: model.dir, env });
    expect((await cli(['deploy'])).code).toBe(0);
    retrain(model.dir, 0.01);
    expect((await cli(['deploy', '--json'])).json()).toMatchObject({ version: '2' });
    const data = JSON.stringify({ instances: model.rows });
    const v1 = await cli(['invoke', '--version', '1', '--data', data, '--json']);
    expect(v1.json()).toMatchObject({ ok: true, version: '1', body: { predictions: model.predictions } });
    expect((await cli(['invoke', '--data', data, '--json'])).json()).toMatchObject({ version: '2' });
  });

  it('a request the model cannot take gets 400 INVALID_INPUT and the same worker answers the next one', async () => {
    const model = await project('sklearn-classifier', [], '\nlocal:\n  workers: 1\n');
    const env = packagingEnv();
    expect((await runCli(['deploy'], { cwd: model.dir, env })).code).toBe(0);
    const serve = await startServe(model.dir, env);
    try {
      const post = (body: string) => fetch(`${serve.url}/v1/models/iris:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const good = JSON.stringify({ instances: model.rows });
      expect((await post(good)).status).toBe(200);
      for (const [body, field] of [['{"instances": [[5.1, NaN, 1.4, 0.2]]}', 'body'], ['{"instances": [[5.1, 3.5, 1.4, 1e999]]}', 'instances[0][3]'], ['{"instances": [[5.1, 3.5]]}', 'instances[0]']] as const) {
        const response = await post(body);
        expect(response.status, body).toBe(400);
        expect(((await response.json()) as { error: { code: string; field: string } }).error).toMatchObject({ code: 'INVALID_INPUT', field });
        const next = await post(good);
        expect(next.status).toBe(200);
        expect(await next.json()).toEqual({ predictions: model.predictions });
      }
    } finally {
      await serve.stop();
    }
    // One worker served all of it: every request line in the log names the same process.
    const logs = (await runCli(['logs', '--json'], { cwd: model.dir, env })).json<{ lines: { stream: string; message: string }[] }>().lines;
    const streams = new Set(logs.filter((l) => l.message.includes('"event": "request"')).map((l) => l.stream));
    expect(streams.size).toBe(1);
  });

  it('serve starts every worker before it reports ready, from one init, so a first burst starts no cold one', async () => {
    const model = await project('sklearn-classifier', [], '\nlocal:\n  workers: 2\n');
    const env = packagingEnv();
    expect((await runCli(['deploy'], { cwd: model.dir, env })).code).toBe(0);
    const store = join(model.dir, '.mlserve/local');
    const serve = await startServe(model.dir, env);
    try {
      // Ready: both workers are running, the second forked from the first once its init was done.
      const workers = processesIn(store).sort();
      expect(workers).toHaveLength(2);
      const parents = workers.map((pid) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]));
      expect(parents.filter((ppid) => workers.includes(ppid))).toHaveLength(1);
      const body = JSON.stringify({ instances: model.rows });
      const burst = await Promise.all([1, 2, 3, 4].map(() => fetch(`${serve.url}/v1/models/iris:predict`, { method: 'POST', body })));
      expect(burst.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      // The burst was served by those two: no process was started for it.
      expect(processesIn(store).sort()).toEqual(workers);
      // And the model was loaded once, not once per worker.
      const lines = (await runCli(['logs', '--json'], { cwd: model.dir, env })).json<{ lines: { stream: string; message: string }[] }>().lines;
      expect(lines.filter((l) => l.message.includes('"event": "init"'))).toHaveLength(1);
    } finally {
      await serve.stop();
    }
  });

  it('two deploys and two promotes at once both end correctly', async () => {
    const a = await project('sklearn-classifier');
    const env = packagingEnv();
    const cli = (args: string[]) => runCli(args, { cwd: a.dir, env });
    expect((await cli(['deploy'])).code).toBe(0);
    // A second config for the same app and stage, serving another model file: two different bundles
    // published into the same stage at the same moment.
    const { copyFileSync, readFileSync, writeFileSync, readdirSync } = await import('node:fs');
    copyFileSync(join(a.dir, 'model.joblib'), join(a.dir, 'model-b.joblib'));
    retrain(a.dir, 0.05);
    writeFileSync(join(a.dir, 'other.yaml'), readFileSync(join(a.dir, 'mlserve.config.yaml'), 'utf8').replace('file: model.joblib', 'file: model-b.joblib'));
    expect((await cli(['package'])).code).toBe(0);
    expect((await cli(['--config', 'other.yaml', 'package'])).code).toBe(0);
    const [x, y] = await Promise.all([cli(['deploy', '--json', '--no-promote']), cli(['--config', 'other.yaml', 'deploy', '--json', '--no-promote'])]);
    expect([x.code, y.code], x.stderr + y.stderr).toEqual([0, 0]);
    const published = [x.json<{ version: string }>().version, y.json<{ version: string }>().version].sort();
    expect(published).toEqual(['2', '3']);
    expect(readdirSync(join(a.dir, '.mlserve/local/iris/dev/versions')).sort()).toEqual(['1', '2', '3']);
    const [p, q] = await Promise.all([cli(['promote', '2', '--json']), cli(['promote', '3', '--weight', '30', '--json'])]);
    expect([p.code, q.code], p.stderr + q.stderr).toEqual([0, 0]);
    // Whichever ran second saw what the first wrote: version 2 is stable either way, and the
    // history remembers version 1 exactly once (a lost update would drop or repeat it).
    const aliasFile = JSON.parse(readFileSync(join(a.dir, '.mlserve/local/iris/dev/alias.json'), 'utf8')) as { version: string; history: string[]; canary?: { version: string } };
    expect(aliasFile.version).toBe('2');
    expect(aliasFile.history).toEqual(['1']);
  });

  it('serve --target aws runs the exact Lambda bundle here, and the local build when it cannot', async () => {
    const model = await project('sklearn-classifier', ['--provider', 'aws', '--region', 'us-east-1']);
    const env = packagingEnv();
    const serve = await startServe(model.dir, env, ['--target', 'aws']);
    try {
      const response = await fetch(`${serve.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: model.rows }) });
      expect(await response.json()).toEqual({ predictions: model.predictions });
    } finally {
      await serve.stop();
    }
    const packaged = (await runCli(['package', '--provider', 'aws', '--json'], { cwd: model.dir, env })).json<{ bundle: { sha256: string } }>();
    const { readFileSync, readdirSync } = await import('node:fs');
    const root = join(model.dir, '.mlserve/local/iris/dev/targets/aws/versions');
    const stored = JSON.parse(readFileSync(join(root, readdirSync(root)[0]!, '.mlserve-version.json'), 'utf8')) as { bundleSha256: string };
    expect(stored.bundleSha256).toBe(packaged.bundle.sha256);

    // An arm64 target cannot run on this x86_64 machine: it says why and runs the local build instead.
    const arm = await project('custom', ['--provider', 'aws', '--region', 'us-east-1', '--arch', 'arm64']);
    expect((await runCli(['deploy', '--provider', 'local'], { cwd: arm.dir, env })).code).toBe(0);
    const invoke = await runCli(['invoke', '--provider', 'local', '--target', 'aws', '--data', JSON.stringify({ instances: [[1, 2]] }), '--json'], { cwd: arm.dir, env });
    expect(invoke.code, invoke.stderr).toBe(0);
    expect(invoke.json()).toMatchObject({ body: { predictions: [6] } });
    expect(invoke.stderr).toMatch(/cannot run the aws bundle on this machine \(this machine is x86_64; the bundle is built for arm64\): falling back/);
  });

  it('serve --target azure runs the Azure bundle through its own entry (the adapter function_app.py calls)', async () => {
    const model = await project('sklearn-classifier', ['--provider', 'azure']);
    const env = packagingEnv();
    const serve = await startServe(model.dir, env, ['--target', 'azure']);
    try {
      const v2 = await fetch(`${serve.url}/v2/models/iris/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'x', shape: [model.rows.length, model.rows[0]!.length], datatype: 'FP32', data: model.rows.flat() }] }),
      });
      expect(v2.status).toBe(200);
      expect(((await v2.json()) as { outputs: { data: unknown[] }[] }).outputs[0]!.data).toEqual(model.predictions);
      expect((await fetch(`${serve.url}/nowhere`)).status).toBe(404);
    } finally {
      await serve.stop();
    }
    // The bundle that ran is Azure's: function_app.py and no Lambda handler.
    const { readdirSync, existsSync } = await import('node:fs');
    const root = join(model.dir, '.mlserve/local/iris/dev/targets/azure/versions');
    const dir = join(root, readdirSync(root)[0]!);
    expect([existsSync(join(dir, 'function_app.py')), existsSync(join(dir, 'mlserve_handler.py'))]).toEqual([true, false]);
  });
});
