import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync, writeSync, closeSync, copyFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findArchMismatches } from '../../src/packaging/elf.js';
import { walkFiles } from '../../src/packaging/walk.js';
import { runCli } from '../helpers/cli.js';
import { packagingEnv, project } from '../helpers/project.js';
import { tempDir } from '../helpers/python.js';
import { zipEntryNames } from '../../src/packaging/detect/zip-entries.js';

interface PackageDoc {
  ok: boolean;
  bundle: { path: string; sha256: string; zippedBytes: number; unzippedBytes: number; files: number; reused: boolean };
  target: { provider: string; python: string; arch: string };
  limits: { id: string; name: string; limit: number; actual: number; ok: boolean }[];
  offload: { path: string; bytes: number; sha256: string; key: string }[];
  excluded: string[];
  warnings: string[];
  upload: string;
  ephemeralStorageMb: number;
  dependencies: { removed: string[]; pinned: string[]; added: string[]; slimmedBytes: number };
  manifest: string;
}

async function pkg(cwd: string, args: string[] = []) {
  const run = await runCli(['package', '--json', ...args], { cwd, env: packagingEnv() });
  return { run, doc: run.code === 0 ? run.json<PackageDoc>() : undefined };
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('mlserve package', () => {
  it('leaves secrets and caches out of the bundle and lists them as excluded', async () => {
    const model = await project('sklearn-classifier', ['--provider', 'aws']);
    writeFileSync(join(model.dir, '.env'), 'API_KEY=sk-live-123\n');
    writeFileSync(join(model.dir, 'id_rsa'), '-----BEGIN OPENSSH PRIVATE KEY-----\n');
    mkdirSync(join(model.dir, '.aws'));
    writeFileSync(join(model.dir, '.aws/credentials'), '[default]\naws_secret_access_key=abc\n');
    mkdirSync(join(model.dir, '__pycache__'));
    writeFileSync(join(model.dir, '__pycache__/x.cpython-311.pyc'), 'bytecode');
    const { run, doc } = await pkg(model.dir);
    expect(run.code, run.stderr).toBe(0);
    expect(doc!.excluded).toEqual(expect.arrayContaining(['.env', 'id_rsa', '.aws/', '__pycache__/']));
    const names = await zipEntryNames(doc!.bundle.path);
    expect(names.filter((n) => n.startsWith('model/'))).toEqual(['model/model.joblib', 'model/requirements.txt']);
    expect(names.some((n) => /(^|\/)(\.env|id_rsa|credentials)$/.test(n))).toBe(false);
    expect(names).toEqual(expect.arrayContaining(['mlserve_handler.py', 'mlserve_runtime/core.py', 'mlserve.json', 'sklearn/__init__.py']));
    // boto3 is provided by Lambda and left out; dependencies are slimmed.
    expect(names.some((n) => n.startsWith('boto3/'))).toBe(false);
    // The user's stale bytecode never ships (the bundle's own is compiled for the target).
    expect(names).not.toContain('model/__pycache__/x.cpython-311.pyc');
    expect(names.some((n) => /\/tests\/test_[^/]*\.py$/.test(n))).toBe(false);
    expect(doc!.dependencies.slimmedBytes).toBeGreaterThan(0);
  });

  it('warns when a file that looks like a secret is explicitly included', async () => {
    const model = await project('custom', ['--provider', 'local']);
    writeFileSync(join(model.dir, 'server.pem'), 'cert');
    writeFileSync(join(model.dir, '.mlserveignore'), '!server.pem\n');
    const { run, doc } = await pkg(model.dir);
    expect(run.code, run.stderr).toBe(0);
    expect(doc!.warnings).toContain('server.pem looks like a secret but .mlserveignore includes it: it will be in the bundle');
  });

  it('builds byte-identical zips from the same inputs, and reuses an unchanged bundle', async () => {
    const model = await project('sklearn-classifier', ['--provider', 'aws']);
    const first = await pkg(model.dir);
    expect(first.run.code, first.run.stderr).toBe(0);
    const firstSha = sha(first.doc!.bundle.path);
    expect(firstSha).toBe(first.doc!.bundle.sha256);
    const again = await pkg(model.dir);
    expect(again.doc!.bundle).toMatchObject({ sha256: firstSha, reused: true });
    rmSync(join(model.dir, '.mlserve/build'), { recursive: true });
    const rebuilt = await pkg(model.dir);
    expect(rebuilt.doc!.bundle).toMatchObject({ sha256: firstSha, reused: false });
    expect(sha(rebuilt.doc!.bundle.path)).toBe(firstSha);
    // The manifest lists every file with its size and SHA-256.
    const manifest = JSON.parse(readFileSync(rebuilt.doc!.manifest, 'utf8')) as { files: { path: string; size: number; sha256: string }[]; target: { python: string } };
    expect(manifest.files).toHaveLength(rebuilt.doc!.bundle.files);
    const modelEntry = manifest.files.find((f) => f.path === 'model/model.joblib')!;
    expect(modelEntry.sha256).toBe(sha(join(model.dir, 'model.joblib')));
  });

  it('pins scikit-learn to the version the model was pickled with, and refuses a conflicting pin', async () => {
    const model = await project('sklearn-classifier', ['--provider', 'aws']);
    writeFileSync(join(model.dir, 'requirements.txt'), 'scikit-learn\n');
    const { doc } = await pkg(model.dir, ['--dry-run']);
    expect(doc!.dependencies.pinned).toEqual(['scikit-learn==1.6.1']);
    writeFileSync(join(model.dir, 'requirements.txt'), 'scikit-learn==1.5.2\n');
    const { run } = await pkg(model.dir, ['--dry-run']);
    expect(run.code).toBe(2);
    expect(run.json()).toMatchObject({ ok: false, error: { code: 'DEPENDENCY_CONFLICT', message: expect.stringContaining('saved with scikit-learn 1.6.1') } });
  });

  it('the vendored x86_64 scikit-learn passes the ELF check; for arm64 it names the offending file', async () => {
    const model = await project('sklearn-classifier', ['--provider', 'aws']);
    const { doc } = await pkg(model.dir);
    const extracted = tempDir('bundle-');
    execFileSync('unzip', ['-q', doc!.bundle.path, '-d', extracted]);
    const files = await walkFiles(extracted);
    expect(files.filter((f) => f.rel.endsWith('.so')).length).toBeGreaterThan(10);
    expect(await findArchMismatches(files, 'x86_64')).toEqual([]);
    const wrong = await findArchMismatches(files, 'arm64');
    expect(wrong.length).toBeGreaterThan(10);
    expect(wrong[0]).toMatchObject({ file: expect.stringMatching(/\.so(\.[\d.]+)?$/), machine: 'x86_64' });

    // Through the CLI: a model directory shipping an x86_64 extension, packaged for arm64.
    const custom = await project('custom', ['--provider', 'aws', '--arch', 'arm64']);
    writeFileSync(join(custom.dir, 'requirements.txt'), '');
    const so = files.find((f) => f.rel.startsWith('sklearn/') && f.rel.endsWith('.so'))!;
    copyFileSync(so.abs, join(custom.dir, 'fastpath.cpython-311-x86_64-linux-gnu.so'));
    const { run } = await pkg(custom.dir);
    expect(run.code).toBe(1);
    expect(run.json()).toMatchObject({ error: { code: 'ARCH_MISMATCH', message: expect.stringContaining('fastpath.cpython-311-x86_64-linux-gnu.so (x86_64)') } });
  });

  it('plans a 300 MB artifact for offload, raises /tmp to fit, and stays within the unzipped limit', async () => {
    const model = await project('sklearn-classifier', ['--provider', 'aws']);
    const fd = openSync(join(model.dir, 'embeddings.bin'), 'w');
    for (let i = 0; i < 300; i++) writeSync(fd, randomBytes(1024 * 1024));
    closeSync(fd);
    const { run, doc } = await pkg(model.dir);
    expect(run.code, run.stderr).toBe(0);
    const d = doc!;
    expect(d.offload).toEqual([{ path: 'embeddings.bin', bytes: 300 * 1024 * 1024, sha256: sha(join(model.dir, 'embeddings.bin')), key: `iris/dev/artifacts/${sha(join(model.dir, 'embeddings.bin'))}`, location: { kind: 's3', key: expect.any(String) } }]);
    expect(d.warnings.some((w) => w.includes('262,144,000'))).toBe(true);
    const unzipped = d.limits.find((l) => l.id === 'unzipped')!;
    expect(unzipped).toMatchObject({ limit: 262_144_000, ok: true });
    expect(d.bundle.unzippedBytes).toBeLessThanOrEqual(262_144_000);
    expect(d.ephemeralStorageMb).toBeGreaterThanOrEqual(Math.ceil((300 * 1.1 + 256)));
    expect(d.upload).toBe(d.bundle.zippedBytes > 50 * 1024 * 1024 ? 'object-storage' : 'direct');
    expect(await zipEntryNames(d.bundle.path)).not.toContain('model/embeddings.bin');
    const settings = JSON.parse(execFileSync('unzip', ['-p', d.bundle.path, 'mlserve.json'], { encoding: 'utf8' })) as { artifacts: unknown[] };
    expect(settings.artifacts).toEqual([{ path: 'embeddings.bin', sha256: d.offload[0]!.sha256, bytes: 300 * 1024 * 1024, location: { kind: 's3', key: d.offload[0]!.key } }]);
    // The human report shows the route and the limit table.
    const human = await runCli(['package'], { cwd: model.dir, env: packagingEnv() });
    expect(human.stdout).toMatch(/unzipped, incl\. layers/);
    expect(human.stdout).toMatch(/Offloaded to object storage[\s\S]*embeddings\.bin {2}300\.0 MB/);
    expect(human.stdout).toMatch(/Upload {3}(direct|through S3)/);
  });

  it('refuses a symlink that points outside the model directory (exit 2)', async () => {
    const model = await project('custom', ['--provider', 'local']);
    const outside = join(tempDir(), 'secret.txt');
    writeFileSync(outside, 'not yours');
    symlinkSync(outside, join(model.dir, 'data.txt'));
    const { run } = await pkg(model.dir);
    expect(run.code).toBe(2);
    expect(run.json()).toMatchObject({ error: { code: 'UNSAFE_PATH', message: expect.stringContaining('data.txt is a symlink to') } });
  });

  it('names the package without a wheel for the target, where versions exist, and what would work', async () => {
    const model = await project('onnx', ['--provider', 'aws']);
    writeFileSync(join(model.dir, 'requirements.txt'), 'onnxruntime==1.30.0\n');
    const { run } = await pkg(model.dir, ['--dry-run']);
    expect(run.code).toBe(1);
    const error = run.json<{ error: { code: string; message: string; hint: string } }>().error;
    expect(error.code).toBe('DEPENDENCY_RESOLUTION');
    expect(error.message).toContain('onnxruntime==1.30.0 has no wheel for aws python3.11 x86_64 (Amazon Linux 2, glibc 2.26)');
    expect(error.message).toContain('1.30.0 for manylinux_2_28_x86_64 (needs glibc 2.28)');
    // The way out that keeps the version: an image on a base whose glibc loads it.
    expect(error.hint).toContain('build a container image on a base with glibc 2.28 or newer (runtime.package: image, image.base: public.ecr.aws/docker/library/python:3.11-slim-bookworm');
  });

  it('a bundle packaged for Lambda runs with only its own vendored dependencies', async () => {
    const model = await project('sklearn-classifier', ['--provider', 'aws']);
    const { doc } = await pkg(model.dir);
    const dir = tempDir('unzipped-');
    execFileSync('unzip', ['-q', doc!.bundle.path, '-d', dir]);
    expect(readdirSync(dir)).toContain('numpy');
    // A bare interpreter: -S skips site-packages, so scikit-learn can only come from the bundle.
    const out = execFileSync('python3', ['-S', '-c', `import sys; sys.path.insert(0, '.'); import json, mlserve_handler; print(json.dumps(mlserve_handler.handler({"instances": ${JSON.stringify(model.rows)}})))`], {
      cwd: dir,
      encoding: 'utf8',
      env: { PATH: process.env.PATH!, MLSERVE_TMP: tempDir() },
    });
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ predictions: model.predictions });
  });
});
