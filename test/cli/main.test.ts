import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CATALOG } from '../../src/cli/commands/index.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/python.js';

const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string };

describe('mlserve (global behaviour)', () => {
  it('--help lists exactly the registered commands, with examples', async () => {
    const run = await runCli(['--help'], { cwd: tempDir() });
    expect(run.code).toBe(0);
    const listed = [...run.stdout.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]).filter((n) => n !== 'help');
    expect(listed).toEqual(CATALOG.map((c) => c.name));
    expect(run.stdout).toContain('Examples:');
  });

  it('`mlserve --help | head -1` stops quietly when the reader closes the pipe', async () => {
    const bin = join(import.meta.dirname, '../../bin/mlserve.js');
    const child = spawn(process.execPath, [bin, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('--version prints the package version', async () => {
    const run = await runCli(['--version'], { cwd: tempDir() });
    expect(run).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
  });

  it('an unknown command or option is a usage error (exit 2), in JSON too', async () => {
    const cwd = tempDir();
    const unknown = await runCli(['deploi'], { cwd });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'deploi'/);
    const option = await runCli(['init', '--bogus', '--json'], { cwd });
    expect(option.code).toBe(2);
    expect(option.json()).toMatchObject({ ok: false, error: { code: 'USAGE', message: expect.stringContaining('--bogus') } });
    const none = await runCli([], { cwd });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: mlserve');
  });

  it('a config with several problems exits 2, lists each as file:line:col path message, without a stack', async () => {
    const cwd = tempDir();
    writeFileSync(
      join(cwd, 'mlserve.config.yaml'),
      'name: iris\nmodel:\n  framework: sklearn\nresources:\n  memory: 64\n  timeout: "x"\nbogus: true\n',
    );
    const run = await runCli(['config'], { cwd });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('mlserve.config.yaml has 3 problems');
    expect(run.stderr).toContain('mlserve.config.yaml:5:11  resources.memory  must be at least 128 MB');
    expect(run.stderr).toMatch(/mlserve\.config\.yaml:6:12 {2}resources\.timeout {2}expected a whole number/);
    expect(run.stderr).toContain('mlserve.config.yaml:7:1  bogus  unknown key "bogus"');
    expect(run.stderr).not.toMatch(/\n\s+at /);

    const json = await runCli(['config', '--json'], { cwd });
    expect(json.code).toBe(2);
    const doc = json.json<{ ok: false; error: { code: string; problems: { line: number }[]; hint: string } }>();
    expect(doc.error.code).toBe('CONFIG_INVALID');
    expect(doc.error.problems.map((p) => p.line)).toEqual([5, 6, 7]);
    expect(doc.error.hint).toBeTruthy();

    const debug = await runCli(['config', '--debug'], { cwd });
    expect(debug.stderr).toMatch(/\n\s+at /);
  });

  it('a second file with bad indentation is located too', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'other.yaml'), 'name: iris\nmodel:\n  framework: sklearn\n   file: model.joblib\n');
    const run = await runCli(['--config', 'other.yaml', 'config', '--json'], { cwd });
    expect(run.code).toBe(2);
    const doc = run.json<{ error: { code: string; problems: { file: string; line: number }[] } }>();
    expect(doc.error.code).toBe('CONFIG_INVALID');
    expect(doc.error.problems[0]).toMatchObject({ file: 'other.yaml', line: 3 });
  });

  it('with no config anywhere, says so and points at init', async () => {
    const run = await runCli(['config'], { cwd: tempDir() });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/no mlserve\.config\.yaml[\s\S]*mlserve init/);
  });

  it('schema prints the JSON Schema on stdout', async () => {
    const run = await runCli(['schema'], { cwd: tempDir() });
    expect(run.code).toBe(0);
    const schema = JSON.parse(run.stdout) as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['name', 'model', 'resources', 'stages']));
  });
});
