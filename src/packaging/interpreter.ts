import { execa } from 'execa';

/** An interpreter found on this machine: its path, Python minor, CPU and C library. */
export interface Interpreter {
  path: string;
  version: string;
  arch: 'x86_64' | 'arm64';
  libc: string;
  libcVersion: string;
}

const PROBE = 'import json, platform, sys; print(json.dumps([sys.executable, "%d.%d" % sys.version_info[:2], platform.machine(), platform.libc_ver()]))';

/**
 * An interpreter of Python `version` (major.minor): $MLSERVE_PYTHON when it is that version, else
 * `python<version>` on the PATH. `seen` says what was found instead, for messages.
 */
export async function findInterpreter(version: string, env: Record<string, string | undefined>): Promise<{ found?: Interpreter; seen?: string }> {
  const candidates = [...(env.MLSERVE_PYTHON ? [env.MLSERVE_PYTHON] : []), `python${version}`];
  let seen: string | undefined;
  for (const candidate of candidates) {
    // -I -S: no site-packages to import, so the probe costs milliseconds whatever the environment holds.
    const probe = await execa(candidate, ['-I', '-S', '-c', PROBE], { env, extendEnv: false, reject: false, timeout: 15_000 });
    if (probe.exitCode !== 0 || probe.failed) continue; // not installed: try the next candidate
    const [path, found, machine, [libc, libcVersion]] = JSON.parse(probe.stdout) as [string, string, string, [string, string]];
    if (found !== version) {
      seen = `${candidate} is Python ${found}`;
      continue;
    }
    return { found: { path, version: found, arch: machine === 'aarch64' || machine === 'arm64' ? 'arm64' : 'x86_64', libc, libcVersion } };
  }
  return seen ? { seen } : {};
}
