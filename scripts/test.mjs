#!/usr/bin/env node
// `npm test`: the whole suite, set-up included, so `npm ci && npm test` works on a fresh machine.
// Steps: pinned Python venv (local wheel index) → build (dist/: the e2e tests run it, and the public
// API test imports it by the package name) → type check → lint → Python tests of the handler
// templates → vitest. Prints one closing "N passed, N failed" line.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePythonEnv } from './python-env.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.env.PIP_RETRIES = '0';
// No test may reach EC2's instance metadata service (see vitest.config.ts).
process.env.AWS_EC2_METADATA_DISABLED = 'true';
const bin = (name) => join(root, 'node_modules/.bin', name);
const extra = process.argv.slice(2);

function run(title, command, args, options = {}) {
  process.stderr.write(`\n== ${title}\n`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  return result.status ?? 1;
}

const python = ensurePythonEnv();
process.env.MLSERVE_TEST_PYTHON = python;
const failed = [];
if (run('build', bin('tsc'), ['-p', 'tsconfig.build.json']) !== 0) failed.push('build');
if (run('type check', bin('tsc'), ['-p', 'tsconfig.json', '--noEmit']) !== 0) failed.push('type check');
if (run('lint', bin('eslint'), ['.']) !== 0) failed.push('lint');
if (run('lint (python)', join(dirname(python), 'ruff'), ['check', 'templates/python', 'test/python', 'bench', 'examples']) !== 0) failed.push('ruff');

const reports = join(root, '.cache/reports');
rmSync(reports, { recursive: true, force: true });
mkdirSync(reports, { recursive: true });
let passed = 0;
let failures = 0;

const pyTests = join(root, 'templates/python/tests');
if (existsSync(pyTests)) {
  const junit = join(reports, 'pytest.xml');
  const code = run('python tests (pytest)', python, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', `--junitxml=${junit}`, pyTests]);
  if (code !== 0) failed.push('pytest');
  if (existsSync(junit)) {
    const xml = readFileSync(junit, 'utf8');
    const attr = (name) => Number(new RegExp(`<testsuite[^>]* ${name}="(\\d+)"`).exec(xml)?.[1] ?? 0);
    const bad = attr('failures') + attr('errors');
    passed += attr('tests') - bad - attr('skipped');
    failures += bad;
  }
}

const vitestJson = join(reports, 'vitest.json');
const code = run('vitest', bin('vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${vitestJson}`, ...extra]);
if (code !== 0) failed.push('vitest');
if (existsSync(vitestJson)) {
  const report = JSON.parse(readFileSync(vitestJson, 'utf8'));
  passed += report.numPassedTests;
  failures += report.numFailedTests;
}

process.stderr.write(failed.length ? `\nfailed steps: ${failed.join(', ')}\n` : '\nall steps passed\n');
process.stdout.write(`${passed} passed, ${failures} failed\n`);
process.exitCode = failed.length ? 1 : 0;
