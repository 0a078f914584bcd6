import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TuneResult } from '../../src/core/actions/tune.js';
import { runCli } from '../helpers/cli.js';
import { packagingEnv, project } from '../helpers/project.js';

// CPU-bound: a pure-Python loop per request, and 160 MB held from load on (so 128 MB cannot serve it).
const BUSY = `
def load(model_dir):
    return {"ballast": b"x" * (160 * 1024 * 1024)}


def predict(model, inputs):
    total = 0
    for i in range(400000):
        total += i % 7
    return [total + sum(row) for row in inputs]
`;

describe('mlserve tune on the local provider', () => {
  it('on the reference scikit-learn model: a table of five sizes with p50, p99 and cost per million, and a choice that meets the target', async () => {
    const model = await project('sklearn-classifier');
    const env = packagingEnv();
    expect((await runCli(['deploy'], { cwd: model.dir, env })).code).toBe(0);
    // init wrote mlserve.sample.json: tune sends it.
    const r = await runCli(['tune', '--p99', '500ms', '--requests', '20'], { cwd: model.dir, env });
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.split('\n').filter((line) => /^\s+\d+\s/.test(line));
    expect(rows.map((line) => Number(line.trim().split(/\s+/)[0]))).toEqual([512, 1024, 1769, 3008, 5307]);
    for (const line of rows) expect(line).toMatch(/^\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\.\d\d\s+(yes|no)/);
    const choice = /^choice: (\d+) MB \(p99 (\d+) ms ≤ 500 ms/m.exec(r.stdout);
    expect(choice, r.stdout).not.toBeNull();
    expect(Number(choice![2])).toBeLessThanOrEqual(500);
    expect(rows.find((line) => line.trim().startsWith(`${choice![1]} `))).toContain('← cheapest');
  }, 240_000);

  it('runs the deployed bundle at each size under its CPU share, says which sizes fail, chooses the cheapest meeting the target, and --apply writes it', async () => {
    const model = await project('custom');
    writeFileSync(join(model.dir, 'predict.py'), BUSY);
    const env = packagingEnv();
    const cli = (args: string[]) => runCli(args, { cwd: model.dir, env });
    expect((await cli(['deploy'])).code).toBe(0);

    const r = await cli(['tune', '--p99', '2s', '--sizes', '128,512,1024,1769,3008,5307', '--requests', '10', '--data', '{"instances": [[1, 2, 3, 4]]}', '--apply', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const result = r.json<TuneResult>();
    expect(result.rows.map((row) => row.memoryMb)).toEqual([128, 512, 1024, 1769, 3008, 5307]);
    expect(result.rows[0]).toMatchObject({ meets: false, failure: expect.stringMatching(/^out of memory: \d+ MB resident, over 128 MB$/) });
    const served = result.rows.slice(1);
    for (const row of served) expect(row).toMatchObject({ p50: expect.any(Number), p99: expect.any(Number), costPerMillion: expect.any(Number), maxMemoryMb: expect.any(Number) });
    const at = (mb: number) => served.find((row) => row.memoryMb === mb)!;
    // A third of a vCPU at 512 MB against a whole one at 1,769 MB: the same work takes clearly longer.
    expect(at(512).p50!, JSON.stringify(served)).toBeGreaterThan(1.5 * at(1769).p50!);
    const fits = served.filter((row) => row.p99! <= 2000);
    expect(result.choice!.memoryMb).toBe(fits.sort((a, b) => a.costPerMillion! - b.costPerMillion!)[0]!.memoryMb);
    expect(result.choice!.p99!).toBeLessThanOrEqual(2000);
    expect(readFileSync(join(model.dir, 'mlserve.config.yaml'), 'utf8')).toMatch(new RegExp(`^  memory: ${result.choice!.memoryMb}\\s+# MB, 128–10240$`, 'm'));

    const text = await cli(['tune', '--p99', '1ms', '--sizes', '512,1769', '--requests', '5', '--data', '{"instances": [[1, 2, 3, 4]]}']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^memory MB\s+p50 ms\s+p99 ms\s+cold ms\s+max MB\s+\$ per 1M\s+meets$/m);
    expect(text.stdout).toContain('no size meets p99 ≤ 1 ms');
  }, 240_000);
});
