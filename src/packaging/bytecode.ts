import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { walkFiles } from './walk.js';

/**
 * Compile every .py under `dir` for the interpreter `python` (the target's Python minor), in place,
 * as unchecked-hash .pyc files (PEP 552): their header holds a hash of the source instead of its
 * mtime, and the runtime never checks it, so they are deterministic under the zip's fixed mtimes and
 * never considered stale on Lambda's read-only code directory. Paths are stripped to `dir`, so the
 * bytes do not depend on where the cache lives.
 */
export async function compileTree(python: string, dir: string, env: Record<string, string | undefined>): Promise<void> {
  const result = await execa(python, ['-m', 'compileall', '-q', '-j', '0', '--invalidation-mode', 'unchecked-hash', '-s', dir, dir], { env, extendEnv: false, reject: false, all: true });
  // compileall exits 1 when a file does not compile (Python 2 leftovers in some packages): those
  // modules are compiled at import, as before; everything else is still written.
  if (result.exitCode !== 0 && result.exitCode !== 1) throw new Error(`compileall failed (${result.exitCode}): ${String(result.all).slice(-500)}`);
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
  const hash = createHash('sha256').update(python.version);
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
