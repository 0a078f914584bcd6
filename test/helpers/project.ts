import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from './cli.js';
import { makeModel, testPython, type BuiltModel, type ModelKind } from './python.js';

/** Where packaged dependency sets are cached across tests and runs (pip runs once per target). */
export const DEPS_CACHE = join(import.meta.dirname, '../../.cache/deps-test');

/** Environment for packaging in tests: the test venv's python, the shared deps cache, no pip retries. */
export function packagingEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { MLSERVE_PYTHON: testPython(), MLSERVE_CACHE_DIR: DEPS_CACHE, PIP_RETRIES: '0', ...extra };
}

/** A model directory with a config written by `mlserve init` (and optional extra config text). */
export async function project(kind: ModelKind, initArgs: string[] = [], configExtra = ''): Promise<BuiltModel> {
  const model = makeModel(kind);
  const init = await runCli(['init', '--yes', '--name', 'iris', ...initArgs], { cwd: model.dir, env: packagingEnv() });
  if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
  if (configExtra) writeFileSync(join(model.dir, 'mlserve.config.yaml'), configExtra, { flag: 'a' });
  return model;
}
