import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeModel, tempDir } from '../helpers/python.js';

const root = join(import.meta.dirname, '../..');
const bin = join(root, 'bin/mlserve.js');

/** Run the built CLI as a user would: a child process, no TTY. */
async function mlserve(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('the built bin/mlserve.js', () => {
  beforeAll(() => {
    if (!existsSync(join(root, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  });

  it('prints its version and help', async () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(await mlserve(['--version'], root)).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
    const help = await mlserve(['--help'], root);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: mlserve');
  });

  it('runs init on a scikit-learn model with no TTY, then loads the config', async () => {
    const model = makeModel('sklearn-classifier');
    const init = await mlserve(['init', '--yes', '--name', 'iris', '--model', '.', '--provider', 'aws'], model.dir);
    expect(init.code).toBe(0);
    expect(readFileSync(join(model.dir, 'mlserve.config.yaml'), 'utf8')).toContain('framework: sklearn');
    const config = await mlserve(['config', '--json'], model.dir);
    expect(config.code).toBe(0);
    expect(JSON.parse(config.stdout)).toMatchObject({ ok: true, config: { model: { framework: 'sklearn' } } });
  });

  it('exits 2 on a bad config with no stack trace', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'mlserve.config.yaml'), 'name: x\n');
    const run = await mlserve(['config'], cwd);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('mlserve.config.yaml:1:7  name  must be 2–40');
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});
