import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeModel, tempDir, testPython } from '../helpers/python.js';

const root = join(import.meta.dirname, '../..');

/** Run the built CLI on a real pseudo-terminal and answer its prompts. */
function drive(cwd: string, args: string[], steps: [string, string][], size: [number, number] = [30, 100]): { code: number | null; output: string; stuck_at?: string } {
  const script = join(tempDir('pty-'), 'script.json');
  writeFileSync(script, JSON.stringify({ argv: [process.execPath, join(root, 'bin/mlserve.js'), ...args], cwd, steps, size }));
  return JSON.parse(execFileSync(testPython(), [join(root, 'test/python/pty_drive.py'), script], { encoding: 'utf8' })) as { code: number | null; output: string };
}

describe('mlserve init on a terminal', () => {
  it('asks each question with the detected framework as the default, and writes what was answered', () => {
    const model = makeModel('sklearn-classifier');
    const run = drive(model.dir, ['init'], [
      ['App name', 'fraud-scorer\r'],
      ['Framework \\(detected sklearn\\)', '\r'],
      ['Provider', '\x1b[B\r'], // arrow down: aws
      ['AWS region', '\r'],
      ['Python version', '\r'],
      ['CPU architecture', '\x1b[B\r'], // arm64
      ['Memory', '\x15'.concat('2048\r')],
      ['Timeout', '\r'],
    ]);
    expect(run.stuck_at, run.output).toBeUndefined();
    expect(run.code, run.output).toBe(0);
    const config = readFileSync(join(model.dir, 'mlserve.config.yaml'), 'utf8');
    expect(config).toContain('name: fraud-scorer');
    expect(config).toContain('provider: aws');
    expect(config).toContain('framework: sklearn');
    expect(config).toContain('arch: arm64');
    expect(config).toMatch(/memory: 2048/);
    expect(config).toContain('region: us-east-1');
  });

  it('suggests the target directory’s name, not the current directory’s', () => {
    const model = makeModel('sklearn-classifier');
    const cwd = tempDir('workspace-');
    const enter: [string, string][] = ['App name', 'Framework', 'Provider', 'Python version', 'CPU architecture', 'Memory', 'Timeout'].map((q) => [q, '\r']);
    const run = drive(cwd, ['init', 'churn-model', '--model', model.dir], enter);
    expect(run.code, run.output).toBe(0);
    expect(readFileSync(join(cwd, 'churn-model/mlserve.config.yaml'), 'utf8')).toContain('name: churn-model');
  });

  it('with --yes on a terminal it asks nothing', () => {
    const model = makeModel('onnx');
    const run = drive(model.dir, ['init', '--yes'], []);
    expect(run.code, run.output).toBe(0);
    expect(run.output).not.toContain('App name');
    expect(readFileSync(join(model.dir, 'mlserve.config.yaml'), 'utf8')).toContain('framework: onnx');
  });

  it('a terminal that reports no size (a fresh pty) still finishes', () => {
    const model = makeModel('onnx');
    const run = drive(model.dir, ['init', '--yes'], [], [0, 0]);
    expect(run.code, run.output.slice(0, 500)).toBe(0);
    expect(run.output).toContain('Wrote mlserve.config.yaml');
  });
});
