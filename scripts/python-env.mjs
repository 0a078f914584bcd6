#!/usr/bin/env node
// Creates (once) the pinned Python virtualenv the tests run the generated handler in, from the
// local wheel index. Re-creates it when test/python/requirements.txt changes. Prints the python path.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const requirements = join(root, 'test/python/requirements.txt');

/** Absolute path of the venv's python, creating the venv if needed. */
export function ensurePythonEnv({ quiet = false } = {}) {
  const venv = process.env.MLSERVE_TEST_VENV ?? join(root, '.cache/venv');
  const python = join(venv, 'bin/python');
  const stamp = join(venv, '.requirements.sha256');
  const want = createHash('sha256').update(readFileSync(requirements)).digest('hex');
  if (existsSync(python) && existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return python;
  const log = (m) => quiet || process.stderr.write(`python-env: ${m}\n`);
  log(`creating ${venv} from ${requirements} (local wheel index; takes about a minute)`);
  rmSync(venv, { recursive: true, force: true });
  const base = process.env.MLSERVE_PYTHON ?? 'python3';
  execFileSync(base, ['-m', 'venv', venv], { stdio: 'inherit' });
  execFileSync(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', requirements], {
    stdio: ['ignore', 'inherit', 'inherit'],
    // pip's default index is unreachable here; no retries means a miss fails at once.
    env: { ...process.env, PIP_RETRIES: '0' },
  });
  writeFileSync(stamp, want);
  log('ready');
  return python;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${ensurePythonEnv()}\n`);
}
