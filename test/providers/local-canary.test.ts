import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { breach } from '../../src/core/actions/canary.js';
import type { StatusRow } from '../../src/providers/provider.js';
import { runCli, startServe } from '../helpers/cli.js';
import { packagingEnv, project } from '../helpers/project.js';

const FLAKY = `
import random


def load(model_dir):
    return None


def predict(model, inputs):
    if random.random() < 0.5:
        raise RuntimeError("version 2 fails half its requests")
    return [2.0 * sum(row) for row in inputs]
`;

const HEALTHY = `
def load(model_dir):
    return {"factor": 3.0}


def predict(model, inputs):
    return [model["factor"] * sum(row) for row in inputs]
`;

interface Versions {
  alias: { version: string; canary?: { version: string; weight: number } };
}

/** Requests to the endpoint until stopped (what a canary is watched under). */
function load(url: string): { stop: () => Promise<number> } {
  let running = true;
  let sent = 0;
  const loop = (async () => {
    while (running) {
      const response = await fetch(`${url}/v1/models/iris:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: [[1, 2, 3, 4]] }) });
      await response.text();
      sent += 1;
    }
  })();
  return { stop: async () => ((running = false), await loop, sent) };
}

const row = (version: string, invocations: number, errors: number, p99: number | null = 50): StatusRow => ({
  version, weight: 0.5, invocations, errors, errorRate: invocations ? errors / invocations : 0, throttles: null, coldStarts: 0, p50: p99, p90: p99, p99, averageMs: p99, maxMemoryMb: null, costUsd: 0,
});

describe('a canary that protects itself (promote --watch, local provider)', () => {
  it('judges the canary against the current version, not only the limits', () => {
    const limits = { errorRate: 0.05, p99: 1000, minRequests: 5 };
    expect(breach(row('2', 4, 4), row('1', 100, 0), limits)).toBeNull(); // too few requests to judge
    expect(breach(row('2', 20, 7), row('1', 100, 0), limits)).toBe("version 2's error rate 35.0% (7 of 20) is over monitoring.errorRate 5.0% and twice version 1's 0.0%");
    expect(breach(row('2', 20, 4), row('1', 100, 15), limits)).toBeNull(); // 20% is no worse than twice the current 15%
    expect(breach(row('2', 20, 0, 1600), row('1', 100, 0, 1200), limits)).toBeNull(); // slower, but not 1.5 times
    expect(breach(row('2', 20, 0, 2000), row('1', 100, 0, 1200), limits)).toBe("version 2's p99 2000 ms is over monitoring.p99 1000 ms and 1.5 times version 1's 1200 ms");
  });

  it('refuses malformed watch flags before touching the stage', async () => {
    const model = await project('custom');
    const cli = (args: string[]) => runCli(args, { cwd: model.dir, env: packagingEnv() });
    for (const [args, message] of [
      [['promote', '2', '--weight', '10', '--steps', '10,100', '--watch', '1m'], '--weight and --steps both say where to start: give one'],
      [['promote', '2', '--steps', '10,100'], '--steps and --interval go with --watch'],
      [['promote', '2', '--steps', '50,10', '--watch', '1m'], '--steps 50,10: expected ascending whole percents from 1 to 100'],
      [['promote', '2', '--weight', '10', '--watch', 'soon'], '--watch soon: expected a duration such as 30s, 10m, 2h'],
    ] as const) {
      const r = await cli([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(message);
    }
  });

  it('rolls a failing version back by itself under load, with the reason; a healthy one steps to 100 %', async () => {
    const model = await project('custom');
    const env = packagingEnv();
    const cli = (args: string[]) => runCli(args, { cwd: model.dir, env });
    expect((await cli(['deploy'])).code).toBe(0);
    writeFileSync(join(model.dir, 'predict.py'), FLAKY);
    expect((await cli(['deploy', '--no-promote'])).code).toBe(0);

    const serve = await startServe(model.dir, env);
    try {
      let traffic = load(serve.url);
      const failed = await cli(['promote', '2', '--weight', '20', '--watch', '60s', '--interval', '1s', '--json']);
      expect(await traffic.stop()).toBeGreaterThan(0);
      expect(failed.code, failed.stderr).toBe(1);
      expect(failed.json<{ ok: boolean; error: { code: string; message: string } }>().error).toMatchObject({ code: 'CANARY_ROLLED_BACK', message: expect.stringMatching(/^rolled back: version 2's error rate \d+\.\d% \(\d+ of \d+\) is over monitoring\.errorRate 5\.0% and twice version 1's 0\.0%$/) });
      expect((await cli(['versions', '--json'])).json<Versions>().alias).toEqual({ alias: 'dev', version: '1' });

      writeFileSync(join(model.dir, 'predict.py'), HEALTHY);
      expect((await cli(['deploy', '--no-promote'])).code).toBe(0);
      traffic = load(serve.url);
      const healthy = await cli(['promote', '3', '--steps', '20,100', '--watch', '3s', '--interval', '1s', '--json']);
      await traffic.stop();
      expect(healthy.code, healthy.stderr).toBe(0);
      expect(healthy.json<{ outcome: string; watched: { weight: number; errors: number }[] }>()).toMatchObject({ outcome: 'promoted', watched: [{ weight: 20, errors: 0 }, { weight: 100, errors: 0 }] });
      expect(healthy.stderr).toMatch(/20%: \d+ requests to version 3, 0 errors, p99 .*: healthy/);
      expect((await cli(['versions', '--json'])).json<Versions>().alias).toEqual({ alias: 'dev', version: '3' });

      // An interrupted watch resumes from the alias: a canary already at 50 % continues at 50, then 100.
      writeFileSync(join(model.dir, 'predict.py'), HEALTHY.replace('3.0', '4.0'));
      expect((await cli(['deploy', '--no-promote'])).code).toBe(0);
      expect((await cli(['promote', '4', '--weight', '50'])).code).toBe(0);
      traffic = load(serve.url);
      const resumed = await cli(['promote', '4', '--steps', '20,50,100', '--watch', '2s', '--interval', '1s', '--json']);
      await traffic.stop();
      expect(resumed.json<{ watched: { weight: number }[] }>().watched.map((w) => w.weight)).toEqual([50, 100]);
    } finally {
      await serve.stop();
    }
  }, 240_000);
});
