import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeModel, tempDir } from '../helpers/python.js';
import { runCli } from '../helpers/cli.js';

describe('mlserve init', () => {
  it.each([
    ['sklearn-classifier', 'sklearn', 'model.joblib'],
    ['onnx', 'onnx', 'model.onnx'],
    ['custom', 'custom', undefined],
  ] as const)('detects %s, writes a config that mlserve then loads', async (kind, framework, file) => {
    const model = makeModel(kind);
    const init = await runCli(['init', '--yes', '--name', 'iris', '--model', '.', '--provider', 'aws'], { cwd: model.dir });
    expect(init.stderr).not.toContain('    at ');
    expect(init.code).toBe(0);
    expect(init.stdout).toContain('Wrote mlserve.config.yaml');
    const text = readFileSync(join(model.dir, 'mlserve.config.yaml'), 'utf8');
    expect(text).toContain(`framework: ${framework}`);
    expect(text).toMatch(/^# yaml-language-server: \$schema=/);

    const config = await runCli(['config', '--json'], { cwd: model.dir });
    expect(config.code).toBe(0);
    const doc = config.json<{ ok: boolean; config: { name: string; provider: string; model: { framework: string; file?: string; predict?: string } } }>();
    expect(doc.ok).toBe(true);
    expect(doc.config).toMatchObject({ name: 'iris', provider: 'aws', model: { framework } });
    expect(doc.config.model.file).toBe(file);
    if (kind === 'custom') expect(doc.config.model.predict).toBe('predict.py');
  });

  it('pins the scikit-learn version read from the pickle in a starter requirements.txt, and writes .mlserveignore', async () => {
    const model = makeModel('sklearn-classifier');
    const run = await runCli(['init', '--yes', '--json'], { cwd: model.dir });
    expect(run.code).toBe(0);
    expect(run.json()).toMatchObject({ ok: true, sklearnVersion: '1.6.1', model: { framework: 'sklearn', file: 'model.joblib' } });
    expect(readFileSync(join(model.dir, 'requirements.txt'), 'utf8')).toContain('scikit-learn==1.6.1');
    expect(readFileSync(join(model.dir, '.mlserveignore'), 'utf8')).toContain('.venv/');
    // The pre-flight's request, shaped from the n_features_in_ the pickle records (iris: 4), and
    // .mlserve/ kept out of git.
    expect(JSON.parse(readFileSync(join(model.dir, 'mlserve.sample.json'), 'utf8'))).toEqual({ instances: [[0, 0, 0, 0]] });
    expect(readFileSync(join(model.dir, '.gitignore'), 'utf8')).toMatch(/^\.mlserve\/$/m);
  });

  it('completes from flags and defaults without a TTY or --yes, and never prompts', async () => {
    const model = makeModel('onnx');
    const run = await runCli(['init', '--memory', '2048'], { cwd: model.dir, tty: false });
    expect(run.code).toBe(0);
    const text = readFileSync(join(model.dir, 'mlserve.config.yaml'), 'utf8');
    expect(text).toMatch(/memory: 2048/);
    expect(text).toMatch(/provider: local/);
  });

  it('does not prompt when CI is set even on a TTY', async () => {
    const model = makeModel('onnx');
    const run = await runCli(['init', '--name', 'ci-app'], { cwd: model.dir, tty: true, env: { CI: 'true' } });
    expect(run.code).toBe(0);
    expect(readFileSync(join(model.dir, 'mlserve.config.yaml'), 'utf8')).toContain('name: ci-app');
  });

  it('refuses to overwrite without --force, and names bad flag values', async () => {
    const model = makeModel('onnx');
    writeFileSync(join(model.dir, 'mlserve.config.yaml'), 'name: keep-me\n');
    const again = await runCli(['init', '--yes'], { cwd: model.dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already exists');
    expect(again.stderr).toContain('--force');
    expect(readFileSync(join(model.dir, 'mlserve.config.yaml'), 'utf8')).toBe('name: keep-me\n');

    const bad = await runCli(['init', '--yes', '--force', '--memory', '64', '--name', 'Bad_Name'], { cwd: model.dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--memory: must be at least 128 MB');
    expect(bad.stderr).toContain('--name:');
    expect(readFileSync(join(model.dir, 'mlserve.config.yaml'), 'utf8')).toBe('name: keep-me\n');
  });

  it('fails on an ambiguous directory, naming the candidates and --framework', async () => {
    const dir = makeModel('sklearn-classifier').dir;
    makeModel('onnx', dir);
    const run = await runCli(['init', '--yes', '--json'], { cwd: dir });
    expect(run.code).toBe(2);
    const doc = run.json<{ ok: boolean; error: { code: string; hint: string; message: string } }>();
    expect(doc.error.code).toBe('MODEL_AMBIGUOUS');
    expect(doc.error.message).toContain('model.onnx');
    expect(doc.error.hint).toContain('--framework');
    expect(existsSync(join(dir, 'mlserve.config.yaml'))).toBe(false);
  });

  it('writes into a named directory', async () => {
    const model = makeModel('sklearn-classifier');
    const cwd = tempDir();
    const run = await runCli(['init', 'svc', '--yes', '--model', model.dir], { cwd });
    expect(run.code).toBe(0);
    const text = readFileSync(join(cwd, 'svc/mlserve.config.yaml'), 'utf8');
    expect(text).toContain('name: svc');
    expect(text).toContain(`path: ${relative(join(cwd, 'svc'), model.dir)} `);
  });
});
