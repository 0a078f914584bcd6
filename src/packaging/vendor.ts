import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { MlserveError } from '../core/errors.js';
import { walkFiles } from './walk.js';
import { describeTarget, manylinuxTags, type Target } from './target.js';

/** Bump to invalidate every cached dependency set. */
const VENDOR_FORMAT = '2';
/** What the Lambda Python runtime already provides (left out unless the user pins them). */
const LAMBDA_PROVIDED = ['boto3', 'botocore', 's3transfer'];

export interface VendorResult {
  dir: string;
  /** Top-level entry (first path segment) → distribution name, from each dist-info/RECORD. */
  owners: Record<string, string>;
  cacheHit: boolean;
  /** Bytes removed by slimming (caches, tests, sources) when the set was installed. */
  slimmedBytes: number;
  removedProvided: string[];
}

export interface VendorOptions {
  python: string;
  requirements: string;
  /** Normalized names the user listed (to keep boto3 when pinned). */
  listed: Set<string>;
  target: Target;
  cacheRoot: string;
  env: Record<string, string | undefined>;
  signal?: AbortSignal;
}

/**
 * Install the requirements for the target (its platform tags, Python and architecture, binary
 * wheels only) into a content-addressed cache directory, slim it, and return it. An unchanged set
 * for the same target is never reinstalled. Installs go to a temp dir renamed into place, so an
 * interrupted install never leaves a half-filled cache entry.
 */
export async function vendorDependencies(o: VendorOptions): Promise<VendorResult> {
  const key = createHash('sha256')
    .update(JSON.stringify([VENDOR_FORMAT, o.requirements, o.target.provider, o.target.python, o.target.arch, o.target.platforms]))
    .digest('hex')
    .slice(0, 32);
  const dir = join(o.cacheRoot, 'deps', key);
  const marker = join(dir, '.mlserve-vendor.json');
  const cached = await stat(marker).then(() => true, () => false);
  if (cached) {
    const meta = JSON.parse(await readFile(marker, 'utf8')) as { slimmedBytes: number; removedProvided: string[] };
    return { dir, cacheHit: true, slimmedBytes: meta.slimmedBytes, removedProvided: meta.removedProvided, owners: await distributionOwners(dir) };
  }
  const tmp = `${dir}.tmp-${randomBytes(4).toString('hex')}`;
  await mkdir(tmp, { recursive: true });
  try {
    if (o.requirements.trim()) await pipInstall(o, tmp);
    const removedProvided = o.target.provider === 'aws' ? await removeProvided(tmp, o.listed) : [];
    const slimmedBytes = await slim(tmp);
    await writeFile(join(tmp, '.mlserve-vendor.json'), JSON.stringify({ slimmedBytes, removedProvided, target: describeTarget(o.target) }));
    try {
      await rename(tmp, dir);
    } catch (error) {
      // Another mlserve finished the same set first (parallel builds share the cache): keep theirs,
      // never delete a directory someone may be reading.
      if (!['ENOTEMPTY', 'EEXIST'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
      if (await stat(marker).then(() => true, () => false)) await rm(tmp, { recursive: true, force: true });
      else {
        // Not a finished set (no marker): replace it.
        await rm(dir, { recursive: true, force: true });
        await rename(tmp, dir);
      }
    }
    return { dir, cacheHit: false, slimmedBytes, removedProvided, owners: await distributionOwners(dir) };
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
}

function targetArgs(t: { python: string; platforms: string[] }): string[] {
  if (t.platforms.length === 0) return [];
  return [...t.platforms.flatMap((p) => ['--platform', p]), '--implementation', 'cp', '--python-version', t.python, '--only-binary=:all:'];
}

async function pipInstall(o: VendorOptions, into: string): Promise<void> {
  const file = join(into, '..', `${randomBytes(4).toString('hex')}.requirements.txt`);
  await writeFile(file, o.requirements);
  try {
    const args = ['-m', 'pip', 'install', '--target', into, '--no-compile', '--disable-pip-version-check', '--no-input', '--progress-bar', 'off', ...targetArgs(o.target), '-r', file];
    const result = await execa(o.python, args, { env: o.env, extendEnv: false, reject: false, all: true, ...(o.signal ? { cancelSignal: o.signal } : {}) });
    if (result.exitCode !== 0) throw await explainPipFailure(o, result.all ?? '');
  } finally {
    await rm(file, { force: true });
  }
}

/** Turn pip's failure into: which package, which versions exist where, which runtime would work. */
async function explainPipFailure(o: VendorOptions, output: string): Promise<MlserveError> {
  const missing = /No matching distribution found for ([^\s;]+)/.exec(output)?.[1];
  const tail = output.split('\n').filter((l) => /ERROR|error:/.test(l)).slice(-3).join('\n');
  if (!missing || o.target.platforms.length === 0) {
    return new MlserveError('DEPENDENCY_RESOLUTION', `pip could not install the requirements for ${describeTarget(o.target)}:\n${tail || output.slice(-800)}`, {
      hint: 'fix the requirement pip names above; run `mlserve package --debug` for its full output',
    });
  }
  const name = /^[A-Za-z0-9._-]+/.exec(missing)?.[0] ?? missing;
  const probe = async (python: string, platforms: string[]): Promise<string[]> => {
    const r = await execa(o.python, ['-m', 'pip', 'index', 'versions', name, '--disable-pip-version-check', ...targetArgs({ python, platforms })], {
      env: o.env, extendEnv: false, reject: false,
    });
    return /Available versions: (.*)/.exec(r.stdout)?.[1]?.split(', ') ?? [];
  };
  const machine = o.target.arch === 'arm64' ? 'aarch64' : 'x86_64';
  const elsewhere: string[] = [];
  for (const glibc of [28, 34, 39]) {
    const versions = await probe(o.target.python, [`manylinux_2_${glibc}_${machine}`]);
    if (versions.length > 0) {
      elsewhere.push(`${versions.slice(0, 5).join(', ')} for manylinux_2_${glibc}_${machine} (needs glibc 2.${glibc})`);
      break;
    }
  }
  const working: string[] = [];
  for (const python of ['3.9', '3.10', '3.11', '3.12', '3.13']) {
    const minor = Number(python.split('.')[1]);
    const glibc: [number, number] = o.target.provider === 'aws' ? (minor >= 12 ? [2, 34] : [2, 26]) : minor >= 12 ? [2, 36] : [2, 31];
    const versions = await probe(python, manylinuxTags(glibc, o.target.arch));
    if (versions.length > 0) working.push(`python${python} (${versions.slice(0, 3).join(', ')})`);
  }
  const message = [
    `${name} has no wheel for ${describeTarget(o.target)}`,
    elsewhere.length ? `versions exist for other platforms: ${elsewhere.join('; ')}` : 'no Linux wheel of it was found for this Python',
    working.length ? `runtimes that would work on ${o.target.provider} ${o.target.arch}: ${working.join(', ')}` : `no python3.9–3.13 runtime on ${o.target.provider} ${o.target.arch} has a wheel for it`,
  ].join('; ');
  return new MlserveError('DEPENDENCY_RESOLUTION', message, {
    hint: working.length
      ? `set runtime.python to ${working[0]!.split(' ')[0]!.replace('python', '')} in mlserve.config.yaml, or pin a version of ${name} with a wheel for this target`
      : `pin an older ${name} that ships manylinux2014 wheels, choose another runtime.arch, or replace ${name}`,
    details: { package: name, working, elsewhere },
  });
}

async function removeProvided(dir: string, listed: Set<string>): Promise<string[]> {
  const removed: string[] = [];
  const entries = await readdir(dir);
  for (const pkg of LAMBDA_PROVIDED) {
    if (listed.has(pkg)) continue;
    const hits = entries.filter((e) => e === pkg || (e.startsWith(`${pkg}-`) && e.endsWith('.dist-info')));
    for (const hit of hits) await rm(join(dir, hit), { recursive: true, force: true });
    if (hits.length) removed.push(pkg);
  }
  return removed;
}

/** Safe to drop from installed packages: bytecode caches, Cython sources and stubs everywhere, and
 * inside test folders the test cases and their data. Helper modules in test folders stay: some
 * libraries import them at run time (numpy.testing imports numpy._core.tests._natype). */
const SLIM_FILE = /(\.py[co]|\.pyx|\.pxd|\.pyi)$/;
const TEST_DIR = /^tests?$/;
const TEST_CASE = /^(test_.*\.py|.*_test\.py|conftest\.py)$/;

async function slim(dir: string): Promise<number> {
  let saved = 0;
  // Console scripts: their shebangs name the build machine's Python, useless on the target.
  for (const f of await walkFiles(join(dir, 'bin')).catch(() => [])) saved += f.size;
  await rm(join(dir, 'bin'), { recursive: true, force: true });
  for (const f of await walkFiles(dir)) {
    const parts = f.rel.split('/');
    const file = parts[parts.length - 1]!;
    const inTests = parts.slice(1, -1).some((p) => TEST_DIR.test(p)) && !parts[0]!.endsWith('.dist-info');
    const drop = parts.includes('__pycache__') || SLIM_FILE.test(file) || (inTests && (TEST_CASE.test(file) || !file.endsWith('.py')));
    if (drop) {
      await rm(f.abs, { force: true });
      saved += f.size;
    }
  }
  return saved;
}

/** Which distribution installed each top-level file or folder, read from dist-info/RECORD. */
export async function distributionOwners(dir: string): Promise<Record<string, string>> {
  const owners: Record<string, string> = {};
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    const m = /^(.+?)-[^-]+\.dist-info$/.exec(entry);
    if (!m) continue;
    const dist = m[1]!.toLowerCase().replace(/[-_.]+/g, '-');
    owners[entry] = dist;
    const record = await readFile(join(dir, entry, 'RECORD'), 'utf8').catch(() => '');
    for (const line of record.split('\n')) {
      const top = line.split(',')[0]!.split('/')[0]!;
      if (top && !top.startsWith('..')) owners[top] ??= dist;
    }
  }
  return owners;
}
