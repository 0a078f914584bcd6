import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { zipEntryNames } from '../../src/packaging/detect/zip-entries.js';
import { packageModel, RecordingReporter } from 'mlserve';
import { runCli } from '../helpers/cli.js';
import { packagingEnv, project } from '../helpers/project.js';
import { tempDir, testPython } from '../helpers/python.js';

interface Doc {
  bundle: { path: string };
  warnings: string[];
  dependencies: { cached: boolean };
}

const pkg = async (cwd: string, args: string[], env: Record<string, string> = packagingEnv()) => runCli(['package', '--json', ...args], { cwd, env });

/** A pure-Python wheel built here (a wheel is a zip with a dist-info), for a relative wheel path. */
function tinyWheel(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'tinypkg-0.1-py3-none-any.whl');
  execFileSync(testPython(), ['-c', `
import zipfile
with zipfile.ZipFile(${JSON.stringify(file)}, "w") as z:
    z.writestr("tinypkg/__init__.py", "VALUE = 42\\n")
    z.writestr("tinypkg-0.1.dist-info/METADATA", "Metadata-Version: 2.1\\nName: tinypkg\\nVersion: 0.1\\n")
    z.writestr("tinypkg-0.1.dist-info/WHEEL", "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
    z.writestr("tinypkg-0.1.dist-info/RECORD", "")
`]);
  return file;
}

describe('package: what a new user hits', () => {
  it('a version with no wheel for the target gets a hint that would work, never the runtime already set', async () => {
    const model = await project('custom', ['--provider', 'aws', '--python', '3.11']);
    writeFileSync(join(model.dir, 'requirements.txt'), 'scikit-learn==1.9.1\n');
    const run = await pkg(model.dir, ['--dry-run']);
    expect(run.code).toBe(1);
    const error = run.json<{ error: { code: string; message: string; hint: string } }>().error;
    expect(error.message).toContain('scikit-learn==1.9.1 has no wheel for aws python3.11 x86_64 (Amazon Linux 2, glibc 2.26)');
    expect(error.hint).toContain('pin scikit-learn==1.6.1, the newest version with a wheel for python3.11 on Amazon Linux 2');
    expect(error.hint).not.toContain('runtime.python to 3.11');
  });

  it('-r, -c and a relative wheel path in requirements.txt work, and are part of the cache key', async () => {
    const model = await project('custom', ['--provider', 'aws']);
    mkdirSync(join(model.dir, 'base'));
    writeFileSync(join(model.dir, 'base/common.txt'), 'threadpoolctl\n');
    writeFileSync(join(model.dir, 'constraints.txt'), 'threadpoolctl==3.7.0\n');
    tinyWheel(join(model.dir, 'wheels'));
    writeFileSync(join(model.dir, 'requirements.txt'), '-r base/common.txt\n-c constraints.txt\n./wheels/tinypkg-0.1-py3-none-any.whl\n');
    const env = packagingEnv({ MLSERVE_CACHE_DIR: tempDir('cache-') });
    const first = await pkg(model.dir, [], env);
    expect(first.code, first.stderr).toBe(0);
    const names = await zipEntryNames(first.json<Doc>().bundle.path);
    expect(names).toEqual(expect.arrayContaining(['tinypkg/__init__.py', 'threadpoolctl.py', 'threadpoolctl-3.7.0.dist-info/METADATA']));
    expect((await pkg(model.dir, [], env)).json<Doc>().dependencies.cached).toBe(true);
    // A changed constraint file (same path, other content) is a different dependency set.
    writeFileSync(join(model.dir, 'constraints.txt'), 'threadpoolctl>=3.0\n');
    const second = await pkg(model.dir, [], env);
    expect(second.code, second.stderr).toBe(0);
    expect(second.json<Doc>().dependencies.cached).toBe(false);
  });

  it('two model directories with the same requirements: the second installs nothing (user cache)', async () => {
    const cacheHome = tempDir('xdg-');
    const env = { ...packagingEnv(), XDG_CACHE_HOME: cacheHome };
    delete (env as Record<string, string | undefined>).MLSERVE_CACHE_DIR;
    const dirs = [];
    for (let i = 0; i < 2; i++) {
      const model = await project('custom', ['--provider', 'aws']);
      writeFileSync(join(model.dir, 'requirements.txt'), 'threadpoolctl==3.7.0\n');
      dirs.push(model.dir);
    }
    const reporter = new RecordingReporter();
    const first = await packageModel({ cwd: dirs[0]!, env, reporter });
    expect(first.report.dependencies.cached).toBe(false);
    expect(reporter.messages('progress').some((m) => /resolved 1 package \(threadpoolctl/.test(m))).toBe(true);
    const second = await runCli(['package', '--json', '--debug'], { cwd: dirs[1]!, env });
    expect(second.json<Doc>().dependencies.cached).toBe(true);
    expect(second.stderr).not.toContain('debug: pip:');
    expect(execFileSync('ls', [join(cacheHome, 'mlserve', 'deps')], { encoding: 'utf8' }).trim().split('\n')).toHaveLength(1);
  });

  it('--debug shows pip’s own output', async () => {
    const model = await project('custom', ['--provider', 'aws']);
    writeFileSync(join(model.dir, 'requirements.txt'), 'threadpoolctl==3.7.0\n');
    const run = await runCli(['package', '--debug'], { cwd: model.dir, env: packagingEnv({ MLSERVE_CACHE_DIR: tempDir('cache-') }) });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/debug: pip: .*threadpoolctl/);
  });

  it('a requirements file it cannot read is an error naming it, not "no requirements"', async () => {
    const model = await project('custom', ['--provider', 'aws']);
    const file = join(model.dir, 'requirements.txt');
    execFileSync('rm', ['-f', file]);
    mkdirSync(file);
    const run = await pkg(model.dir, ['--dry-run']);
    expect(run.code).toBe(2);
    expect(run.json()).toMatchObject({ ok: false, error: { message: expect.stringContaining(`cannot read ${file}`), hint: expect.stringContaining('is a directory') } });
  });

  it('a pickle whose scikit-learn version cannot be read says so instead of dropping the pin silently', async () => {
    const model = await project('sklearn-classifier', ['--provider', 'aws']);
    writeFileSync(join(model.dir, 'requirements.txt'), 'scikit-learn==1.6.1\n');
    writeFileSync(join(model.dir, 'model.joblib'), Buffer.concat([Buffer.from([0x80, 0x04, 0x95]), Buffer.alloc(5)]));
    const run = await pkg(model.dir, ['--dry-run']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.json<Doc>().warnings.join('\n')).toMatch(/cannot read the scikit-learn version from .*model\.joblib .*not pinned/);
    expect(readFileSync(join(model.dir, '.gitignore'), 'utf8')).toContain('.mlserve/');
  });
});

describe('bytecode for the target', () => {
  it('ships unchecked-hash .pyc files of the target’s magic number, for the handler, the model’s code and the dependencies', async () => {
    const model = await project('custom', ['--provider', 'aws', '--python', '3.11']);
    writeFileSync(join(model.dir, 'requirements.txt'), 'threadpoolctl==3.7.0\n');
    const run = await pkg(model.dir, []);
    expect(run.code, run.stderr).toBe(0);
    const zip = run.json<Doc>().bundle.path;
    const names = await zipEntryNames(zip);
    const pycs = ['mlserve_runtime/__pycache__/core.cpython-311.pyc', 'model/__pycache__/predict.cpython-311.pyc', '__pycache__/threadpoolctl.cpython-311.pyc'];
    expect(names).toEqual(expect.arrayContaining(pycs));
    const magic = execFileSync(testPython(), ['-c', 'import importlib.util, sys; sys.stdout.write(importlib.util.MAGIC_NUMBER.hex())'], { encoding: 'utf8' });
    for (const name of pycs) {
      const head = execFileSync('unzip', ['-p', zip, name]).subarray(0, 8);
      expect(head.subarray(0, 4).toString('hex'), name).toBe(magic);
      // PEP 552 flags: bit 0 hash-based, bit 1 check_source: 0b01 is "unchecked hash".
      expect(head.readUInt32LE(4), name).toBe(0b01);
    }
  });
});

describe('without an interpreter of the target’s Python', () => {
  it('the pre-flight and the bytecode are skipped with a warning naming the missing interpreter', async () => {
    const model = await project('custom', ['--provider', 'aws', '--python', '3.12']);
    const { dirname } = await import('node:path');
    // Only the test venv (Python 3.11) and node on the PATH: no python3.12 to be found.
    const env = packagingEnv({ PATH: `${dirname(testPython())}:${dirname(process.execPath)}` });
    const run = await runCli(['package', '--check', '--json'], { cwd: model.dir, env });
    expect(run.code, run.stderr).toBe(0);
    const doc = run.json<Doc & { preflight: { ran: boolean; skipped: string } }>();
    expect(doc.preflight).toMatchObject({ ran: false, skipped: expect.stringContaining('no Python 3.12 (the target’s) on this machine'.replace('’', "'")) });
    expect(run.stderr).toMatch(/pre-flight skipped: no Python 3\.12/);
    expect(doc.warnings.join('\n')).toMatch(/bytecode not compiled: no Python 3\.12/);
    expect((await zipEntryNames(doc.bundle.path)).some((n) => n.endsWith('.pyc'))).toBe(false);
  });
});

describe('the zip writer', () => {
  const packDir = (cache: string) => join(cache, 'zip', 'deflate-6-packs');
  const indexed = (cache: string) => (JSON.parse(readFileSync(join(packDir(cache), 'index.json'), 'utf8')) as { streams: Record<string, [string, number, number]> }).streams;
  const packBytes = (cache: string) => readdirSync(packDir(cache)).filter((f) => f.endsWith('.pack')).reduce((n, f) => n + statSync(join(packDir(cache), f)).size, 0);
  const sha256Of = (run: Awaited<ReturnType<typeof pkg>>) => run.json<{ bundle: { sha256: string } }>().bundle.sha256;
  /** The reference model packaged once, with a cache of its own. */
  const packagedOnce = async () => {
    const model = await project('sklearn-classifier', ['--provider', 'aws']);
    const cache = tempDir('zip-cache-');
    const env = packagingEnv({ MLSERVE_CACHE_DIR: cache });
    const first = await pkg(model.dir, [], env);
    expect(first.code, first.stderr).toBe(0);
    return { model, cache, env, first };
  };

  it('a rebuild after a model change deflates only what changed and gives the same zip as a cold build', async () => {
    const { model, cache, env } = await packagedOnce();
    const [streamsBefore, bytesBefore] = [Object.keys(indexed(cache)).length, packBytes(cache)];
    execFileSync(testPython(), ['-c', `import joblib; from sklearn.linear_model import LogisticRegression; from sklearn.datasets import load_iris; X, y = load_iris(return_X_y=True); joblib.dump(LogisticRegression(max_iter=300, C=0.02).fit(X, y), ${JSON.stringify(join(model.dir, 'model.joblib'))})`]);
    const warm = await pkg(model.dir, [], env);
    expect(warm.code, warm.stderr).toBe(0);
    // The model and mlserve.json (which pins the model's hash) are new; every dependency came from the cache.
    expect(Object.keys(indexed(cache)).length - streamsBefore).toBeLessThanOrEqual(2);
    expect(packBytes(cache) - bytesBefore).toBeLessThan(64 * 1024);
    const coldCache = tempDir('zip-cache-');
    execFileSync('cp', ['-r', join(cache, 'deps'), join(coldCache, 'deps')]); // same dependencies, no deflate cache
    execFileSync('rm', ['-rf', join(model.dir, '.mlserve')]);
    const cold = await pkg(model.dir, [], packagingEnv({ MLSERVE_CACHE_DIR: coldCache }));
    expect(sha256Of(cold)).toBe(sha256Of(warm));
    expect(execFileSync('unzip', ['-tq', cold.json<{ bundle: { path: string } }>().bundle.path], { encoding: 'utf8' })).toContain('No errors');
  });

  it('two cold builds, each with a cache of its own (pip, bytecode, deflate), give the same zip', async () => {
    const model = await project('sklearn-classifier', ['--provider', 'aws']);
    const runs = [];
    for (const cache of [tempDir('cold-a-'), tempDir('cold-b-')]) {
      execFileSync('rm', ['-rf', join(model.dir, '.mlserve')]);
      const run = await pkg(model.dir, [], packagingEnv({ MLSERVE_CACHE_DIR: cache }));
      expect(run.code, run.stderr).toBe(0);
      expect(run.json<Doc>().dependencies.cached).toBe(false);
      runs.push(run);
    }
    const names = await zipEntryNames(runs[0]!.json<Doc>().bundle.path);
    expect(names.filter((n) => n.endsWith('.pyc')).length).toBeGreaterThan(1000);
    expect(sha256Of(runs[1]!)).toBe(sha256Of(runs[0]!));
  });

  it('a cache pack cut short or removed costs a deflate, never a wrong byte', async () => {
    const { model, cache, env, first } = await packagedOnce();
    const packs = [...new Set(Object.values(indexed(cache)).map(([pack]) => pack))];
    expect(packs.length).toBeGreaterThan(0);
    // As a crash or a partial clean-up would leave them: one pack shorter than the index says, the others gone.
    truncateSync(join(packDir(cache), packs[0]!), statSync(join(packDir(cache), packs[0]!)).size - 1);
    for (const pack of packs.slice(1)) rmSync(join(packDir(cache), pack));
    rmSync(join(model.dir, '.mlserve'), { recursive: true });
    // And the cache's first layout (a file per stream), as an older mlserve left it.
    const legacy = join(cache, 'zip', 'deflate-6');
    mkdirSync(join(legacy, 'ab'), { recursive: true });
    writeFileSync(join(legacy, 'ab', 'cdef.deflate'), randomBytes(1024));
    const again = await pkg(model.dir, [], env);
    expect(again.code, again.stderr).toBe(0);
    expect(sha256Of(again)).toBe(sha256Of(first));
    expect(execFileSync('unzip', ['-tq', again.json<{ bundle: { path: string } }>().bundle.path], { encoding: 'utf8' })).toContain('No errors');
    expect(Object.values(indexed(cache)).every(([pack]) => !packs.includes(pack)), 'every stream is indexed in a new pack').toBe(true);
    expect(existsSync(join(packDir(cache), packs[0]!)), 'the short pack is removed').toBe(false);
    expect(existsSync(legacy), 'the old layout is removed').toBe(false);
  });
});
