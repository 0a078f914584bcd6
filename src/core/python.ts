import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { MlserveError } from './errors.js';

// node:child_process, not execa: this probe is on the start-up path of `serve` and `invoke`, and
// loading execa alone costs ~130 ms there.
const run = promisify(execFile);

export interface PythonInfo {
  path: string;
  version: string;
}

/** The Python mlserve uses on this machine: $MLSERVE_PYTHON, else python3, else python. */
export async function findPython(env: Record<string, string | undefined>): Promise<PythonInfo> {
  const candidates = env.MLSERVE_PYTHON ? [env.MLSERVE_PYTHON] : ['python3', 'python'];
  for (const candidate of candidates) {
    try {
      // -I -S: no site-packages to import, so a probe of a large environment still takes milliseconds.
      const { stdout } = await run(candidate, ['-I', '-S', '-c', 'import sys; print(sys.executable); print("%d.%d.%d" % sys.version_info[:3])'], { env, timeout: 15_000 });
      const [path, version] = stdout.trim().split('\n');
      if (path && version) return { path, version };
    } catch {
      // try the next candidate
    }
  }
  throw new MlserveError('PYTHON_NOT_FOUND', `no Python found (tried ${candidates.join(', ')})`, {
    hint: 'install Python 3.9–3.13, or set MLSERVE_PYTHON to its path',
  });
}

/** `pip --version` of a Python, or undefined when pip is missing. */
export async function pipVersion(python: string, env: Record<string, string | undefined>): Promise<string | undefined> {
  try {
    const { stdout } = await run(python, ['-m', 'pip', '--version'], { env, timeout: 30_000 });
    return /^pip (\S+)/.exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}
