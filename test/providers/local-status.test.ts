import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { estimateCost } from '../../src/providers/status.js';
import type { StatusReport } from '../../src/providers/provider.js';
import { runCli, startServe } from '../helpers/cli.js';
import { packagingEnv, project } from '../helpers/project.js';

const FAILING = `
def load(model_dir):
    return None


def predict(model, inputs):
    raise RuntimeError("version 2 is broken")
`;

describe('mlserve status on the local provider', () => {
  it('reports per version what serve recorded: requests, errors, cold starts, percentiles, weights and cost', async () => {
    const model = await project('custom');
    const env = packagingEnv();
    const cli = (args: string[]) => runCli(args, { cwd: model.dir, env });
    expect((await cli(['deploy'])).code).toBe(0);
    writeFileSync(join(model.dir, 'predict.py'), FAILING);
    expect((await cli(['deploy', '--no-promote'])).code).toBe(0);
    expect((await cli(['promote', '2', '--weight', '30'])).code).toBe(0);

    const serve = await startServe(model.dir, env);
    let failed = 0;
    try {
      for (let i = 0; i < 60; i++) {
        const response = await fetch(`${serve.url}/v1/models/iris:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: [[1, 2, 3, 4]] }) });
        if (response.status >= 500) failed += 1;
        await response.text();
      }
    } finally {
      await serve.stop();
    }
    const r = await cli(['status', '--since', '10m', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = r.json<StatusReport>();
    const [v1, v2] = report.rows;
    expect(report.rows.map((row) => [row.version, row.weight])).toEqual([['1', 0.7], ['2', 0.3]]);
    expect(v1!.invocations + v2!.invocations).toBe(60);
    expect(v2!.invocations).toBeGreaterThan(0);
    expect([v1!.errors, v2!.errors]).toEqual([0, v2!.invocations]);
    expect(v2!.errors).toBe(failed);
    expect(v2!.errorRate).toBe(1);
    expect(v1!.coldStarts).toBeGreaterThanOrEqual(1);
    expect(v1!.p50! <= v1!.p90! && v1!.p90! <= v1!.p99!).toBe(true);
    expect(v1!.costUsd).toBeCloseTo(estimateCost({ invocations: v1!.invocations, averageMs: v1!.averageMs, memoryMb: 1024, arch: 'x86_64' }), 12);
    expect(report.series.reduce((n, s) => n + s.requests, 0)).toBe(60);

    const text = await cli(['status', '--since', '10m']);
    expect(text.stdout).toMatch(/^version\s+weight\s+requests\s+errors\s+error %\s+throttles\s+cold\s+p50 ms\s+p90 ms\s+p99 ms\s+max MB\s+cost \$$/m);
    expect(text.stdout).toMatch(new RegExp(`^2\\s+30%\\s+${v2!.invocations}\\s+${v2!.invocations}\\s+100\\.0%\\s+-`, 'm'));
    // Nothing in the period: zero requests, not an error.
    const later = await cli(['status', '--since', new Date(Date.now() + 1000).toISOString()]);
    expect(later.code).toBe(2);
    expect(later.stderr).toContain('is not in the past');
  });
});
