import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MlserveError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs.js';
import { COMPILE_FORMAT, compileTree } from './bytecode.js';
import { pipInstall, probeRequirement, newestVersions } from './pip.js';
import { walkFiles } from './walk.js';
import { manylinuxTags, type Target } from './target.js';

/** Bump to invalidate every cached dependency set (the compiler's format is part of it). */
const VENDOR_FORMAT = `4-${COMPILE_FORMAT}`;

export interface VendorResult {
  dir: string;
  /** Top-level entry (first path segment) → distribution name, from each dist-info/RECORD. */
  owners: Record<string, string>;
  cacheHit: boolean;
  /** Bytes removed by slimming (caches, tests, sources) when the set was installed. */
  slimmedBytes: number;
  removedProvided: string[];
  /** True when the set carries bytecode for the target's Python. */
  bytecode: boolean;
}

export interface VendorOptions {
  python: string;
  /** What pip installs (local paths absolute) and what the cache key hashes (paths as digests). */
  requirements: { text: string; keyText: string };
  /** Normalized names the user listed (to keep a runtime-provided package the user pins). */
  listed: Set<string>;
  target: Target;
  cacheRoot: string;
  env: Record<string, string | undefined>;
  /** Where pip runs (the model directory). */
  cwd: string;
  /** An interpreter of the target's Python to compile bytecode with (none: the set ships sources only). */
  compiler?: string;
  progress?: (detail: string) => void;
  debug?: (line: string) => void;
  signal?: AbortSignal;
}

/**
 * Install the requirements for the target (its platform tags, Python and architecture, binary
 * wheels only) into a content-addressed cache directory shared by every project, slim it, and
 * return it. An unchanged set for the same target is never reinstalled. Installs go to a temp dir
 * renamed into place, so an interrupted install never leaves a half-filled cache entry.
 */
export async function vendorDependencies(o: VendorOptions): Promise<VendorResult> {
  const { python, arch, platforms, provided } = o.target;
  const key = createHash('sha256').update(JSON.stringify([VENDOR_FORMAT, o.requirements.keyText, python, arch, platforms, provided])).digest('hex').slice(0, 32);
  const dir = join(o.cacheRoot, 'deps', key);
  const marker = join(dir, '.mlserve-vendor.json');
  if (await exists(marker)) {
    const meta = JSON.parse(await readFile(marker, 'utf8')) as { slimmedBytes: number; removedProvided: string[]; bytecode?: boolean };
    if (!meta.bytecode && o.compiler) {
      // Cached before an interpreter of the target's Python was here: compile it now, each .pyc
      // renamed into place whole, so another mlserve reading the set never sees half of one.
      const skipped = await compileTree(o.compiler, dir, o.env, { atomic: true });
      if (skipped.length) o.debug?.(`not compiled (compiled at import instead): ${skipped.join(', ')}`);
      meta.bytecode = true;
      await writeFileAtomic(marker, JSON.stringify(meta));
    }
    return { dir, cacheHit: true, slimmedBytes: meta.slimmedBytes, removedProvided: meta.removedProvided, bytecode: meta.bytecode === true, owners: await distributionOwners(dir) };
  }
  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await mkdir(tmp, { recursive: true });
  try {
    if (o.requirements.text.trim()) {
      const failure = await pipInstall(o, tmp);
      if (failure !== undefined) throw await explainPipFailure(o, failure);
    }
    const removedProvided = await removeProvided(tmp, o.target.provided, o.listed);
    const slimmedBytes = await slim(tmp);
    if (o.compiler) {
      o.progress?.('compiling bytecode for the target');
      const skipped = await compileTree(o.compiler, tmp, o.env);
      if (skipped.length) o.debug?.(`not compiled (compiled at import instead): ${skipped.join(', ')}`);
    }
    await writeFile(join(tmp, '.mlserve-vendor.json'), JSON.stringify({ slimmedBytes, removedProvided, bytecode: !!o.compiler, target: o.target.description }));
    await publish(tmp, dir, marker);
    return { dir, cacheHit: false, slimmedBytes, removedProvided, bytecode: !!o.compiler, owners: await distributionOwners(dir) };
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
}

/** Rename the finished set into place; when another mlserve finished the same set first, keep theirs. */
async function publish(tmp: string, dir: string, marker: string): Promise<void> {
  try {
    await rename(tmp, dir);
  } catch (error) {
    if (!['ENOTEMPTY', 'EEXIST'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
    // Never delete a finished directory someone may be reading; replace only an unfinished one.
    if (await exists(marker)) await rm(tmp, { recursive: true, force: true });
    else {
      await rm(dir, { recursive: true, force: true });
      await rename(tmp, dir);
    }
  }
}

/**
 * Turn pip's failure into: which package, which versions exist where, and a change that would work:
 * another runtime of this platform whose image loads the requested version, or the newest version
 * of the package that has a wheel for this target.
 */
async function explainPipFailure(o: VendorOptions, output: string): Promise<MlserveError> {
  const missing = /No matching distribution found for ([^\s;]+)/.exec(output)?.[1];
  const tail = output.split('\n').filter((l) => /ERROR|error:/.test(l)).slice(-3).join('\n');
  if (!missing || o.target.platforms.length === 0) {
    return new MlserveError('DEPENDENCY_RESOLUTION', `pip could not install the requirements for ${o.target.description}:\n${tail || output.slice(-800)}`, {
      hint: 'fix the requirement pip names above; `mlserve package --debug` shows pip’s full output',
    });
  }
  const name = /^[A-Za-z0-9._-]+/.exec(missing)?.[0] ?? missing;
  const others = o.target.runtimes.filter((r) => r.python !== o.target.python);
  const working: string[] = [];
  for (const r of others) {
    if (await probeRequirement(o, missing, r.python, manylinuxTags(r.glibc, o.target.arch))) working.push(`python${r.python} (${r.os}, glibc ${r.glibc.join('.')})`);
  }
  const newest = (await newestVersions(o, name, o.target.python, o.target.platforms))[0];
  const elsewhere = await otherPlatforms(o, name);
  const message = [
    `${missing} has no wheel for ${o.target.description}`,
    elsewhere ?? 'no Linux wheel of it was found for this Python',
    working.length ? `runtimes that load it: ${working.join(', ')}` : `no other ${o.target.provider} runtime loads ${missing}`,
  ].join('; ');
  const glibc = /needs glibc (2\.\d+)/.exec(elsewhere ?? '')?.[1];
  const fixes = [
    ...(working.length ? [`set runtime.python to ${working[0]!.slice('python'.length).split(' ')[0]} in mlserve.config.yaml`] : []),
    // A container image can sit on any Python base: one with a newer glibc loads those wheels.
    ...(glibc ? [`build a container image on a base with glibc ${glibc} or newer (runtime.package: image, image.base: public.ecr.aws/docker/library/python:${o.target.python}-slim-bookworm, glibc 2.36)`] : []),
    ...(newest ? [`pin ${name}==${newest}, the newest version with a wheel for python${o.target.python} on ${o.target.os}`] : []),
  ];
  return new MlserveError('DEPENDENCY_RESOLUTION', message, {
    hint: fixes.length ? `${fixes.join(', or ')}` : `choose another runtime.arch, or replace ${name}`,
    details: { package: name, requirement: missing, working, newest: newest ?? null },
  });
}

/** Where versions of the package do exist (newer glibc), for the message. */
async function otherPlatforms(o: VendorOptions, name: string): Promise<string | undefined> {
  const machine = o.target.arch === 'arm64' ? 'aarch64' : 'x86_64';
  for (const glibc of [28, 34, 39]) {
    const versions = await newestVersions(o, name, o.target.python, [`manylinux_2_${glibc}_${machine}`]);
    if (versions.length > 0) return `versions exist for other platforms: ${versions.slice(0, 5).join(', ')} for manylinux_2_${glibc}_${machine} (needs glibc 2.${glibc})`;
  }
  return undefined;
}

async function removeProvided(dir: string, provided: string[], listed: Set<string>): Promise<string[]> {
  const removed: string[] = [];
  const entries = await readdir(dir);
  for (const pkg of provided) {
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
  const scripts = await walkFiles(join(dir, 'bin')).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  for (const f of scripts) saved += f.size;
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
  for (const entry of await readdir(dir)) {
    const m = /^(.+?)-[^-]+\.dist-info$/.exec(entry);
    if (!m) continue;
    const dist = m[1]!.toLowerCase().replace(/[-_.]+/g, '-');
    owners[entry] = dist;
    const record = await readFile(join(dir, entry, 'RECORD'), 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return ''; // a distribution without RECORD owns only its dist-info
      throw error;
    });
    for (const line of record.split('\n')) {
      const top = line.split(',')[0]!.split('/')[0]!;
      if (top && !top.startsWith('..')) owners[top] ??= dist;
    }
  }
  return owners;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, (error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return false;
    throw error;
  });
}

