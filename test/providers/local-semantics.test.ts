import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, startServe } from '../helpers/cli.js';
import { processesIn } from '../helpers/processes.js';
import { packagingEnv, project } from '../helpers/project.js';
import type { BuiltModel } from '../helpers/python.js';

/** While this file exists, the model's load() fails: an init failure after a good deploy. */
const FAIL_INIT = join(tmpdir(), `mlserve-fail-init-${process.pid}`);

/** A custom model whose first feature picks a behaviour: sleep, crash, allocate, raise. */
const PREDICT = `import os
import time


def load(model_dir):
    if os.path.exists(${JSON.stringify(FAIL_INIT)}):
        raise RuntimeError("load refused by the test")
    return None


def predict(model, inputs):
    flag = inputs[0][0]
    if flag == -1:
        time.sleep(30)
    if flag == -2:
        os._exit(3)
    if flag == -3:
        hog = [0] * 80_000_000  # ~640 MB of pointers, well over resources.memory
        time.sleep(5)
        return [len(hog)]
    if flag == -4:
        raise RuntimeError("boom inside predict")
    if flag == -5:
        time.sleep(0.3)
    return [sum(row) for row in inputs]
`;

const post = (url: string, first: number) =>
  fetch(`${url}/v1/models/iris:predict`, { method: 'POST', body: JSON.stringify({ instances: [[first, 1, 1, 1]] }) });

describe('the local pool keeps Lambda’s semantics', () => {
  let model: BuiltModel;
  const env = packagingEnv();
  beforeAll(async () => {
    model = await project('custom', ['--timeout', '2', '--memory', '256'], '\nstages:\n  tiny:\n    resources:\n      concurrency: 1\n');
    writeFileSync(join(model.dir, 'predict.py'), PREDICT);
    expect((await runCli(['deploy'], { cwd: model.dir, env })).code).toBe(0);
    expect((await runCli(['deploy', '--stage', 'tiny'], { cwd: model.dir, env })).code).toBe(0);
  });

  it('a timeout answers 504 and replaces the worker; a crash answers 502; an exception is a function error; the next request succeeds', async () => {
    const serve = await startServe(model.dir, env);
    try {
      const slow = await post(serve.url, -1);
      expect(slow.status).toBe(504);
      expect(await slow.json()).toMatchObject({ error: { code: 'TIMEOUT', message: expect.stringContaining('2.00 s (resources.timeout)') } });
      const crash = await post(serve.url, -2);
      expect(crash.status).toBe(502);
      expect(await crash.json()).toMatchObject({ error: { code: 'WORKER_CRASHED', message: expect.stringContaining('exit code 3') } });
      const raised = await post(serve.url, -4);
      expect(raised.status).toBe(500);
      expect(await raised.json()).toMatchObject({ error: { code: 'MODEL_ERROR' } });
      const ok = await post(serve.url, 1);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ predictions: [4] });
    } finally {
      await serve.stop();
    }
  });

  it('memory over resources.memory kills the worker', async () => {
    const serve = await startServe(model.dir, env);
    try {
      const hog = await post(serve.url, -3);
      expect(hog.status).toBe(502);
      expect(await hog.json()).toMatchObject({ error: { code: 'MEMORY_LIMIT_EXCEEDED' } });
      expect((await post(serve.url, 1)).status).toBe(200);
    } finally {
      await serve.stop();
    }
  });

  it('a worker killed from outside is replaced', async () => {
    const serve = await startServe(model.dir, env);
    try {
      expect((await post(serve.url, 1)).status).toBe(200);
      const store = join(model.dir, '.mlserve/local/iris/dev/versions');
      const before = processesIn(store);
      expect(before.length).toBeGreaterThan(0);
      for (const pid of before) process.kill(pid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 200));
      const after = await post(serve.url, 2);
      expect(after.status).toBe(200);
      expect(await after.json()).toEqual({ predictions: [5] });
      expect(processesIn(store).some((p) => !before.includes(p))).toBe(true);
    } finally {
      await serve.stop();
    }
  });

  it('past the bounded queue, requests get 429', async () => {
    const serve = await startServe(model.dir, env, ['--stage', 'tiny']);
    try {
      const statuses = await Promise.all(Array.from({ length: 40 }, () => post(serve.url, -5).then((r) => r.status)));
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
      expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(26); // 1 running + 25 queued
      expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    } finally {
      await serve.stop();
    }
  });

  it('the Invoke API reports function errors with X-Amz-Function-Error and a log tail', async () => {
    const serve = await startServe(model.dir, env);
    try {
      const invoke = (payload: unknown, headers: Record<string, string> = {}) =>
        fetch(`${serve.url}/2015-03-31/functions/iris/invocations`, { method: 'POST', body: JSON.stringify(payload), headers });
      const ok = await invoke({ instances: [[1, 2, 3, 4]] }, { 'x-amz-log-type': 'Tail' });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('x-amz-executed-version')).toBe('1');
      expect(await ok.json()).toEqual({ predictions: [10] });
      expect(Buffer.from(ok.headers.get('x-amz-log-result')!, 'base64').toString()).toContain('"event": "request"');
      const timeout = await invoke({ instances: [[-1, 0, 0, 0]] });
      expect(timeout.headers.get('x-amz-function-error')).toBe('Unhandled');
      expect(await timeout.json()).toMatchObject({ errorType: 'Sandbox.Timedout', errorMessage: expect.stringContaining('Task timed out after 2.00 seconds') });
      const unknown = await invoke({ hello: 'world' });
      expect(unknown.headers.get('x-amz-function-error')).toBe('Unhandled');
      expect(await unknown.json()).toMatchObject({ errorType: 'UnsupportedEvent' });
      const missing = await fetch(`${serve.url}/2015-03-31/functions/other/invocations`, { method: 'POST', body: '{}' });
      expect(missing.status).toBe(404);
      expect(missing.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException');
      const async = await invoke({ instances: [[1, 1, 1, 1]] }, { 'x-amz-invocation-type': 'Event' });
      expect(async.status).toBe(202);
    } finally {
      await serve.stop();
    }
  });

  it('a running serve follows promote and rollback without a restart', async () => {
    writeFileSync(join(model.dir, 'predict.py'), PREDICT.replace('return [sum(row) for row in inputs]', 'return [100 + sum(row) for row in inputs]'));
    expect((await runCli(['deploy', '--no-promote'], { cwd: model.dir, env })).code).toBe(0);
    const serve = await startServe(model.dir, env);
    try {
      const ask = async () => {
        const r = await post(serve.url, 1);
        return [r.headers.get('x-mlserve-version'), await r.json()];
      };
      expect(await ask()).toEqual(['1', { predictions: [4] }]);
      expect((await runCli(['promote', '2'], { cwd: model.dir, env })).code).toBe(0);
      expect(await ask()).toEqual(['2', { predictions: [104] }]);
      expect((await runCli(['rollback'], { cwd: model.dir, env })).code).toBe(0);
      expect(await ask()).toEqual(['1', { predictions: [4] }]);
    } finally {
      await serve.stop();
      writeFileSync(join(model.dir, 'predict.py'), PREDICT);
    }
  });

  it('serve registers as it starts: a second serve is refused; one whose init fails exits 1 and leaves no registration', async () => {
    const registration = join(model.dir, '.mlserve/local/iris/dev/serve.json');
    const serve = await startServe(model.dir, env);
    try {
      const second = await runCli(['serve', '--port', '0'], { cwd: model.dir, env });
      expect(second.code).toBe(2);
      expect(second.stderr).toContain(`stage dev is already served by pid`);
      expect(second.stderr).toContain(serve.url);
    } finally {
      await serve.stop();
    }
    expect(existsSync(registration)).toBe(false);
    writeFileSync(FAIL_INIT, '');
    try {
      const failed = await runCli(['serve', '--port', '0'], { cwd: model.dir, env });
      expect(failed.code).toBe(1);
      expect(failed.stderr).toContain('failed to start');
      expect(failed.stderr).toContain('load refused by the test');
      expect(existsSync(registration)).toBe(false);
      // With no registration left, invoke runs the bundle itself and reports the load's failure,
      // not a connection refused by a server that is gone.
      const invoked = await runCli(['invoke', '--data', JSON.stringify({ instances: [[1, 1, 1, 1]] })], { cwd: model.dir, env });
      expect(invoked.code).toBe(1);
      expect(invoked.stderr).toContain('load refused by the test');
    } finally {
      rmSync(FAIL_INIT, { force: true });
    }
  });

  it('mlserve invoke exits 1 on a function error and shows its type', async () => {
    const run = await runCli(['invoke', '--event', '-', '--json'], { cwd: model.dir, env });
    expect(run.code).toBe(2); // empty stdin is no JSON: a usage error, before any call
    expect(run.json()).toMatchObject({ error: { code: 'USAGE', message: expect.stringContaining('--event - is not valid JSON') } });
    const err = await runCli(['invoke', '--data', JSON.stringify({ instances: [[-4, 0, 0, 0]] })], { cwd: model.dir, env });
    expect(err.code).toBe(1);
    expect(err.stderr).toContain('HTTP 500 MODEL_ERROR');
  });
});
