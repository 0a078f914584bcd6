import { loadConfig, type LoadedConfig } from '../config/load.js';
import type { ProviderId } from '../config/schema.js';
import type { Check } from '../checks.js';
import { MlserveError } from '../errors.js';
import { findPython, pipVersion } from '../python.js';
import { allPlatforms } from '../../providers/registry.js';

export type { Check, CheckStatus } from '../checks.js';

export interface DoctorOptions {
  cwd: string;
  env: Record<string, string | undefined>;
  configPath?: string;
  stage?: string;
}

/** Run every check: node, the config, Python and pip, then each provider's own. A failed check is a result, not a throw. */
export async function runDoctor(options: DoctorOptions): Promise<{ checks: Check[]; config?: LoadedConfig }> {
  const { env } = options;
  const checks: Check[] = [nodeCheck()];
  let config: LoadedConfig | undefined;
  try {
    config = await loadConfig({ cwd: options.cwd, env, ...(options.configPath ? { configPath: options.configPath } : {}), ...(options.stage ? { stage: options.stage } : {}) });
    checks.push({ name: 'config', provider: 'all', status: 'ok', detail: `${config.file} (stage ${config.stage})` });
  } catch (error) {
    if (!(error instanceof MlserveError)) throw error;
    const notFound = error.code === 'CONFIG_NOT_FOUND';
    checks.push({ name: 'config', provider: 'all', status: notFound ? 'warn' : 'fail', detail: notFound ? `${error.message}; run mlserve init` : `${error.message}; run mlserve config` });
  }
  const hostPython = await pythonChecks(env, checks);
  for (const platform of allPlatforms()) {
    checks.push(...(await platform.doctor({ env, ...(config ? { config: config.config } : {}), ...(hostPython ? { hostPython } : {}) })));
  }
  return config ? { checks, config } : { checks };
}

function nodeCheck(): Check {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const ok = major > 20 || (major === 20 && minor >= 19);
  return { name: 'node', provider: 'all', status: ok ? 'ok' : 'fail', detail: `v${process.versions.node}${ok ? '' : ' (mlserve needs >= 20.19)'}` };
}

/** Python and pip for packaging; returns the Python's version when one was found. */
async function pythonChecks(env: Record<string, string | undefined>, checks: Check[]): Promise<string | undefined> {
  try {
    const python = await findPython(env);
    const [pmaj, pmin] = python.version.split('.').map(Number);
    const supported = pmaj === 3 && pmin !== undefined && pmin >= 9 && pmin <= 13;
    checks.push({ name: 'python', provider: 'all', status: supported ? 'ok' : 'warn', detail: `${python.version} at ${python.path}${supported ? '' : ' (mlserve supports 3.9–3.13)'}` });
    const pip = await pipVersion(python.path, env);
    checks.push({ name: 'pip', provider: 'all', status: pip ? 'ok' : 'fail', detail: pip ? `pip ${pip}` : `not installed for ${python.path}: run ${python.path} -m ensurepip` });
    return python.version;
  } catch (error) {
    if (!(error instanceof MlserveError)) throw error;
    checks.push({ name: 'python', provider: 'all', status: 'fail', detail: `${error.message}; ${error.hint ?? ''}` });
    return undefined;
  }
}

/** Does the provider have what it needs? `fail` checks for 'all' or that provider. */
export function providerReady(checks: Check[], provider: ProviderId): boolean {
  return !checks.some((c) => c.status === 'fail' && (c.provider === 'all' || c.provider === provider));
}
