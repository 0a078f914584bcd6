import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { zipEntryNames } from '../../src/packaging/detect/zip-entries.js';
import { runCli } from '../helpers/cli.js';
import { packagingEnv, project } from '../helpers/project.js';
import { tempDir } from '../helpers/python.js';

const STAMP_HIT = 'nothing changed since the last package';

interface Doc {
  bundle: { path: string; sha256: string; reused: boolean };
  warnings: string[];
}

describe('package with nothing changed answers from its stamp', () => {
  it('every input the stamp covers, when changed, makes the next package look again (and the one after reuse again)', async () => {
    const model = await project('sklearn-classifier', ['--provider', 'aws'], 'environment:\n  GREETING: ${env:GREETING, hello}\n');
    // A requirements file outside the model directory, included with -r: the scan alone would not see it.
    const shared = tempDir('shared-reqs-');
    writeFileSync(join(model.dir, 'requirements.txt'), `-r ${join(shared, 'base.txt')}\n`);
    writeFileSync(join(shared, 'base.txt'), 'scikit-learn==1.6.1\n');
    const bin = tempDir('path-');
    const env = packagingEnv({ PATH: `${bin}:${process.env.PATH}` });
    const pkg = async (extra: Record<string, string> = {}) => {
      const run = await runCli(['package', '--json', '--debug'], { cwd: model.dir, env: { ...env, ...extra } });
      expect(run.code, run.stderr).toBe(0);
      return { doc: run.json<Doc>(), stamped: run.stderr.includes(STAMP_HIT), human: run };
    };

    const first = await pkg();
    expect(first.stamped).toBe(false);
    const again = await pkg();
    expect(again.stamped).toBe(true);
    expect(again.doc).toEqual({ ...first.doc, bundle: { ...first.doc.bundle, reused: true }, dependencies: { ...(first.doc as unknown as { dependencies: object }).dependencies, cached: true } });

    const changes: [string, () => void, Record<string, string>?][] = [
      ['a model file rewritten with the same bytes', () => writeFileSync(join(model.dir, 'model.joblib'), readFileSync(join(model.dir, 'model.joblib')))],
      ['a new file in the model directory', () => writeFileSync(join(model.dir, 'labels.txt'), 'setosa\n')],
      ['.mlserveignore', () => appendFileSync(join(model.dir, '.mlserveignore'), 'labels.txt\n')],
      ['the config', () => appendFileSync(join(model.dir, 'mlserve.config.yaml'), '# a comment\n')],
      ['a requirements file included with -r', () => appendFileSync(join(shared, 'base.txt'), '# pinned above\n')],
      ['a variable the config reads', () => undefined, { GREETING: 'hi' }],
      ['pip settings in the environment', () => undefined, { GREETING: 'hi', PIP_INDEX_URL: 'http://127.0.0.1:9/simple' }],
      ['a new interpreter on PATH', () => writeFileSync(join(bin, 'python3.11'), '#!/bin/sh\n', { mode: 0o755 })],
      ['the zip itself', () => rmSync(join(model.dir, '.mlserve/build'), { recursive: true })],
    ];
    let extra: Record<string, string> = {};
    for (const [what, change, moreEnv] of changes) {
      change();
      extra = moreEnv ?? extra;
      const changed = await pkg(extra);
      expect(changed.stamped, what).toBe(false);
      expect((await pkg(extra)).stamped, `${what}, then nothing`).toBe(true);
    }
    // What changed went into the bundle: the new file was added, then excluded again.
    const last = await pkg(extra);
    expect(await zipEntryNames(last.doc.bundle.path)).not.toContain('model/labels.txt');
  });

  it('prints the same report as the run that built it, marked as reused', async () => {
    const model = await project('sklearn-classifier', ['--provider', 'aws']);
    const human = async () => runCli(['package'], { cwd: model.dir, env: packagingEnv() });
    const built = await human();
    expect(built.code, built.stderr).toBe(0);
    const reused = await human();
    expect(reused.stdout.replace('  (unchanged, reused)', '')).toBe(built.stdout);
    expect(reused.stdout).toContain('(unchanged, reused)');

  });
});
