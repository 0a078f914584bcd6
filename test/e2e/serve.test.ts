import { spawn } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { packagingEnv, project } from '../helpers/project.js';

const bin = join(import.meta.dirname, '../../bin/mlserve.js');

function workersUnder(dir: string): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return readlinkSync(`/proc/${p}/cwd`).startsWith(dir);
    } catch {
      return false;
    }
  }).map(Number);
}

describe('mlserve serve (the built bin)', () => {
  it('answers 2,000 requests at concurrency 32 without an error, and Ctrl-C leaves no process behind', async () => {
    const model = await project('sklearn-classifier');
    const env = { ...process.env, ...packagingEnv() };
    expect((await runCli(['deploy'], { cwd: model.dir, env })).code).toBe(0);
    const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--json'], { cwd: model.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const first = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      void exited.then(() => reject(new Error(`serve exited: ${stderr}`)));
    });
    const { url } = JSON.parse(first) as { url: string };
    const body = JSON.stringify({ instances: model.rows });
    const expected = JSON.stringify({ predictions: model.predictions });
    let next = 0;
    const failures: string[] = [];
    const client = async () => {
      while (next < 2000) {
        next++;
        const r = await fetch(`${url}/v1/models/iris:predict`, { method: 'POST', body });
        const text = await r.text();
        if (r.status !== 200 || text !== expected) failures.push(`${r.status} ${text}`);
      }
    };
    await Promise.all(Array.from({ length: 32 }, client));
    expect(failures).toEqual([]);
    const store = join(model.dir, '.mlserve/local/iris/dev/versions');
    expect(workersUnder(store).length).toBeGreaterThan(0);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(workersUnder(store)).toEqual([]);
    expect(stderr).toContain('Stopping');
  });
});
