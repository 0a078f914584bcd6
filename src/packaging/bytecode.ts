import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { TEMPLATES_DIR } from './render.js';
import { compare } from './scan.js';
import { walkFiles } from './walk.js';
import { mapLimit } from './zip-writer.js';

/**
 * Shares a tree's files are compiled in, each by its own process. Fixed (not the core count), so the
 * bytes are the same on every machine: a pyc depends on what its process compiled before it.
 */
const SHARES = 4;
/** Bump when the bytes compiled for the same sources change. */
export const COMPILE_FORMAT = '2';

/**
 * Compile every .py under `dir` for the interpreter `python` (the target's Python minor), in place,
 * as unchecked-hash .pyc files (PEP 552): their header holds a hash of the source instead of its
 * mtime, and the runtime never checks it, so they are deterministic under the zip's fixed mtimes and
 * never considered stale on Lambda's read-only code directory. Paths are stripped to `dir`, so the
 * bytes do not depend on where the cache lives. The files are split into `SHARES` fixed shares (by
 * size, in path order), compiled by `mlserve_compile.py` in one isolated process each, as many at
 * once as there are cores. Files that do not compile (Python 2 leftovers in some packages) are
 * left to be compiled at import, as before; they are returned. `atomic`: others may be reading the
 * tree, so each pyc is renamed into place whole.
 */
export async function compileTree(python: string, dir: string, env: Record<string, string | undefined>, o: { atomic?: boolean } = {}): Promise<string[]> {
  const sources = (await walkFiles(dir)).filter((f) => f.rel.endsWith('.py') && !f.rel.split('/').includes('__pycache__'));
  const shares = Array.from({ length: SHARES }, () => ({ bytes: 0, files: [] as string[] }));
  for (const f of [...sources].sort((a, b) => b.size - a.size || compare(a.rel, b.rel))) {
    const least = shares.reduce((a, b) => (b.bytes < a.bytes ? b : a));
    least.bytes += f.size;
    least.files.push(f.rel);
  }
  const skipped = await mapLimit(shares.filter((s) => s.files.length > 0), availableParallelism(), async (share) => {
    const result = await execa(python, ['-I', '-S', '-B', join(TEMPLATES_DIR, 'mlserve_compile.py'), dir, ...(o.atomic ? ['--atomic'] : [])], {
      input: share.files.sort(compare).join('\n'), env, extendEnv: false, reject: false, all: true,
    });
    if (result.exitCode !== 0) throw new Error(`compiling bytecode with ${python} failed (exit ${result.exitCode}): ${String(result.all).slice(-500)}`);
    return result.stdout.split('\n').filter(Boolean);
  });
  return skipped.flat().sort(compare);
}

/** A compiled file headed for the bundle: its name there and where the bytes are. */
export interface CompiledFile {
  rel: string;
  abs: string;
  size: number;
  mode: number;
  mtimeMs: number;
}

/**
 * Bytecode for a few loose source files (the handler, a custom predict.py), cached by their content
 * and the Python version under `cacheRoot/bytecode/`, so an unchanged package compiles nothing.
 * Returns the .pyc files with their names in the bundle (`x/__pycache__/y.cpython-311.pyc`).
 */
export async function compileFiles(
  python: { path: string; version: string },
  files: { name: string; abs: string }[],
  cacheRoot: string,
  env: Record<string, string | undefined>,
): Promise<CompiledFile[]> {
  const sources = files.filter((f) => f.name.endsWith('.py'));
  if (sources.length === 0) return [];
  // The compiler's format is part of the key: a new one gives other bytes for the same sources.
  const hash = createHash('sha256').update(`${COMPILE_FORMAT}\0${python.version}`);
  for (const f of sources) hash.update(`${f.name}\0`).update(await readFile(f.abs)).update('\0');
  const dir = join(cacheRoot, 'bytecode', hash.digest('hex').slice(0, 32));
  if (!(await stat(join(dir, '.done')).then(() => true, () => false))) {
    const tmp = `${dir}.tmp-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    for (const f of sources) {
      await mkdir(dirname(join(tmp, f.name)), { recursive: true });
      await copyFile(f.abs, join(tmp, f.name));
    }
    await compileTree(python.path, tmp, env);
    await copyFile(join(tmp, sources[0]!.name), join(tmp, '.done'));
    await rename(tmp, dir).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
      await rm(tmp, { recursive: true, force: true }); // another mlserve compiled the same files first
    });
  }
  return (await walkFiles(dir)).filter((f) => f.rel.endsWith('.pyc'));
}
