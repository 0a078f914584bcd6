import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { execa } from 'execa';
import type { Target } from './target.js';

interface PipContext {
  python: string;
  env: Record<string, string | undefined>;
  cwd: string;
  requirements: { text: string };
  target: Target;
  progress?: (detail: string) => void;
  debug?: (line: string) => void;
  signal?: AbortSignal;
}

/** pip's flags for a target: its platform tags, Python and implementation, binary wheels only. */
export function targetArgs(python: string, platforms: string[]): string[] {
  if (platforms.length === 0) return [];
  return [...platforms.flatMap((p) => ['--platform', p]), '--implementation', 'cp', '--python-version', python, '--only-binary=:all:'];
}

/**
 * `pip install --target` for the target. Progress a person can read (packages resolved, then
 * installing) goes to `progress`; every line of pip's output to `debug`. Returns undefined on
 * success, else pip's output for the diagnosis.
 */
export async function pipInstall(o: PipContext, into: string): Promise<string | undefined> {
  const file = join(into, '..', `${randomBytes(4).toString('hex')}.requirements.txt`);
  await writeFile(file, o.requirements.text);
  try {
    const args = ['-m', 'pip', 'install', '--target', into, '--no-compile', '--disable-pip-version-check', '--no-input', '--progress-bar', 'off', ...targetArgs(o.target.python, o.target.platforms), '-r', file];
    const child = execa(o.python, args, { cwd: o.cwd, env: o.env, extendEnv: false, reject: false, all: true, buffer: { all: true }, ...(o.signal ? { cancelSignal: o.signal } : {}) });
    let resolved = 0;
    createInterface({ input: child.all! }).on('line', (line) => {
      o.debug?.(`pip: ${line}`);
      const collecting = /^(?:Collecting|Processing|Requirement already satisfied:) (\S+)/.exec(line);
      if (collecting) o.progress?.(`resolved ${++resolved} package${resolved > 1 ? 's' : ''} (${collecting[1]!.split('/').pop()})`);
      const installing = /^Installing collected packages: (.*)$/.exec(line);
      if (installing) o.progress?.(`installing ${installing[1]!.split(', ').length} packages`);
    });
    const result = await child;
    return result.exitCode === 0 ? undefined : String(result.all ?? '');
  } finally {
    await rm(file, { force: true });
  }
}

/** Would `requirement` install for this Python and these platform tags? (pip's own resolver, --dry-run) */
export async function probeRequirement(o: PipContext, requirement: string, python: string, platforms: string[]): Promise<boolean> {
  const target = await mkdtemp(join(tmpdir(), 'mlserve-probe-'));
  try {
    const r = await execa(o.python, ['-m', 'pip', 'install', '--dry-run', '--no-deps', '--ignore-installed', '--disable-pip-version-check', '--target', target, ...targetArgs(python, platforms), requirement], {
      cwd: o.cwd, env: o.env, extendEnv: false, reject: false,
    });
    return r.exitCode === 0;
  } finally {
    await rm(target, { recursive: true, force: true });
  }
}

/** Versions of a package with a wheel for this Python and these tags, newest first. */
export async function newestVersions(o: PipContext, name: string, python: string, platforms: string[]): Promise<string[]> {
  const r = await execa(o.python, ['-m', 'pip', 'index', 'versions', name, '--disable-pip-version-check', ...targetArgs(python, platforms)], { cwd: o.cwd, env: o.env, extendEnv: false, reject: false });
  return /Available versions: (.*)/.exec(r.stdout)?.[1]?.split(', ') ?? [];
}
