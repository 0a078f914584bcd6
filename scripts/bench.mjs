#!/usr/bin/env node
// `npm run bench`: speed measured against a baseline run side by side in this same script.
// Needs `npm run build` (done here) and the test venv (created here, like `npm test` does).
// Sections: package (cold / unchanged / zip-only), zip throughput against `zip -r -q`, container
// images (bench/image.mjs) against pip, and (in bench/serve.mjs) serve throughput/latency against a bare http.server floor, and cold start.
// `npm run bench -- serve` runs one section.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePythonEnv } from './python-env.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.env.PIP_RETRIES = '0';
const python = ensurePythonEnv();
execFileSync(join(root, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
const { writeZip } = await import(join(root, 'dist/packaging/bundle.js'));
const { walkFiles } = await import(join(root, 'dist/packaging/walk.js'));

const only = process.argv[2];
const rows = [];
const time = (fn) => {
  const start = performance.now();
  fn();
  return (performance.now() - start) / 1000;
};
const timeAsync = async (fn) => {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
};
const mlserve = (args, cwd, env = {}) => {
  const r = spawnSync(process.execPath, [join(root, 'bin/mlserve.js'), ...args], { cwd, env: { ...process.env, MLSERVE_PYTHON: python, ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mlserve ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
};

async function benchPackage() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-pkg-'));
  execFileSync(python, [join(root, 'test/python/make_models.py'), 'sklearn-classifier', dir]);
  mlserve(['init', '--yes', '--name', 'bench', '--provider', 'aws'], dir);
  const cache = mkdtempSync(join(tmpdir(), 'bench-deps-'));
  const cold = time(() => mlserve(['package'], dir, { MLSERVE_CACHE_DIR: cache }));
  const unchanged = time(() => mlserve(['package'], dir, { MLSERVE_CACHE_DIR: cache }));
  rmSync(join(dir, '.mlserve/build'), { recursive: true, force: true });
  const zipOnly = time(() => mlserve(['package'], dir, { MLSERVE_CACHE_DIR: cache }));
  rows.push(['package: reference scikit-learn model, first run (pip + zip)', `${cold.toFixed(2)} s`, 'baseline']);
  rows.push(['package: same inputs again (unchanged, bundle reused)', `${unchanged.toFixed(2)} s`, `${(cold / unchanged).toFixed(1)}x faster`]);
  rows.push(['package: deps cached, zip rebuilt', `${zipOnly.toFixed(2)} s`, `${(cold / zipOnly).toFixed(1)}x faster`]);
  rmSync(dir, { recursive: true, force: true });
  rmSync(cache, { recursive: true, force: true });
}

async function benchZip() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-zip-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const fd = openSync(join(data, 'incompressible.bin'), 'w');
  for (let i = 0; i < 300; i++) writeSync(fd, randomBytes(1024 * 1024));
  closeSync(fd);
  execFileSync(python, ['-c', `import numpy as np; np.save(${JSON.stringify(join(data, 'array.npy'))}, np.random.default_rng(0).normal(size=100 * 1024 * 1024 // 8).round(3))`]);
  const files = await walkFiles(data);
  const entries = files.map((f) => ({ name: f.rel, source: { path: f.abs }, size: f.size, mode: f.mode }));
  const mb = files.reduce((n, f) => n + f.size, 0) / 1024 / 1024;
  const baseline = time(() => execFileSync('zip', ['-r', '-q', join(dir, 'baseline.zip'), '.'], { cwd: data }));
  let ours = 0;
  // A cold deflate cache: every entry compressed (the rebuild case is in the package section).
  ours = await timeAsync(() => writeZip(entries, join(dir, 'ours.zip'), { cacheDir: join(dir, 'deflate-cache') }));
  const size = (p) => Number(execFileSync('stat', ['-c', '%s', p], { encoding: 'utf8' }));
  rows.push([`zip -r -q, ${mb.toFixed(0)} MB (300 MB random + 100 MB numpy)`, `${baseline.toFixed(2)} s (${(mb / baseline).toFixed(0)} MB/s, ${(size(join(dir, 'baseline.zip')) / 2 ** 20).toFixed(0)} MB)`, 'baseline']);
  rows.push([`mlserve deterministic zip, same files`, `${ours.toFixed(2)} s (${(mb / ours).toFixed(0)} MB/s, ${(size(join(dir, 'ours.zip')) / 2 ** 20).toFixed(0)} MB)`, `${(baseline / ours).toFixed(2)}x zip's speed`]);
  rmSync(dir, { recursive: true, force: true });
}

const serveSections = (await import(join(root, 'bench/serve.mjs'))).default;
const packagingSections = (await import(join(root, 'bench/packaging.mjs'))).default;
const imageSections = (await import(join(root, 'bench/image.mjs'))).default;
const sections = { package: benchPackage, zip: benchZip, ...packagingSections, ...imageSections, ...serveSections };
for (const [name, fn] of Object.entries(sections)) {
  if (only && only !== name) continue;
  process.stderr.write(`bench: ${name}…\n`);
  await fn(rows, { python, root, mlserve });
}
const width = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
process.stdout.write(`\n${['case', 'time', 'ratio'].map((h, i) => h.padEnd(width[i])).join('  ')}\n`);
for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(width[i])).join('  ')}\n`);
