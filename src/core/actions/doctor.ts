import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import type { ProviderId } from '../config/schema.js';
import { MlserveError } from '../errors.js';
import { findPython, pipVersion } from '../python.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

/** One line of `mlserve doctor`. `detail` never holds a secret: sources are named, values are not. */
export interface Check {
  name: string;
  /** Which provider needs this check to pass ('all': every provider). */
  provider: ProviderId | 'all';
  status: CheckStatus;
  detail: string;
}

export interface DoctorOptions {
  cwd: string;
  env: Record<string, string | undefined>;
  configPath?: string;
  stage?: string;
}

/** Run every check. Never throws for a failed check; the result says what failed. */
export async function runDoctor(options: DoctorOptions): Promise<{ checks: Check[]; config?: LoadedConfig }> {
  const { env } = options;
  const checks: Check[] = [];
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  checks.push({
    name: 'node',
    provider: 'all',
    status: major > 20 || (major === 20 && minor >= 19) ? 'ok' : 'fail',
    detail: `v${process.versions.node}${major > 20 || (major === 20 && minor >= 19) ? '' : ' (mlserve needs >= 20.19)'}`,
  });

  let config: LoadedConfig | undefined;
  try {
    config = await loadConfig({ cwd: options.cwd, env, ...(options.configPath ? { configPath: options.configPath } : {}), ...(options.stage ? { stage: options.stage } : {}) });
    checks.push({ name: 'config', provider: 'all', status: 'ok', detail: `${config.file} (stage ${config.stage})` });
  } catch (error) {
    if (!(error instanceof MlserveError)) throw error;
    const notFound = error.code === 'CONFIG_NOT_FOUND';
    checks.push({ name: 'config', provider: 'all', status: notFound ? 'warn' : 'fail', detail: notFound ? `${error.message}; run mlserve init` : `${error.message}; run mlserve config` });
  }

  try {
    const python = await findPython(env);
    const [pmaj, pmin] = python.version.split('.').map(Number);
    const supported = pmaj === 3 && pmin !== undefined && pmin >= 9 && pmin <= 13;
    checks.push({ name: 'python', provider: 'all', status: supported ? 'ok' : 'warn', detail: `${python.version} at ${python.path}${supported ? '' : ' (mlserve supports 3.9–3.13)'}` });
    const pip = await pipVersion(python.path, env);
    checks.push({ name: 'pip', provider: 'all', status: pip ? 'ok' : 'fail', detail: pip ? `pip ${pip}` : `not installed for ${python.path}: run ${python.path} -m ensurepip` });
    const target = config?.config.runtime.python;
    if (target && !python.version.startsWith(`${target}.`)) {
      checks.push({ name: 'local runtime', provider: 'local', status: 'warn', detail: `the local provider runs on Python ${python.version}; the config targets ${target}` });
    }
  } catch (error) {
    if (!(error instanceof MlserveError)) throw error;
    checks.push({ name: 'python', provider: 'all', status: 'fail', detail: `${error.message}; ${error.hint ?? ''}` });
  }

  checks.push(...(await awsChecks(env, config)));
  checks.push(...(await azureChecks(env, config)));
  return config ? { checks, config } : { checks };
}

async function awsChecks(env: Record<string, string | undefined>, config: LoadedConfig | undefined): Promise<Check[]> {
  const checks: Check[] = [];
  const home = env.HOME ?? homedir();
  const credentialsFile = env.AWS_SHARED_CREDENTIALS_FILE ?? join(home, '.aws/credentials');
  const configFile = env.AWS_CONFIG_FILE ?? join(home, '.aws/config');
  const profile = env.AWS_PROFILE ?? config?.config.aws.profile ?? 'default';
  const profiles = new Set([...(await iniSections(credentialsFile)), ...[...(await iniSections(configFile))].map((s) => s.replace(/^profile /, ''))]);
  let source: string | undefined;
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) source = 'environment variables (AWS_ACCESS_KEY_ID, not shown)';
  else if (env.AWS_WEB_IDENTITY_TOKEN_FILE && env.AWS_ROLE_ARN) source = 'web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)';
  else if (env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI || env.AWS_CONTAINER_CREDENTIALS_FULL_URI) source = 'container credentials endpoint';
  else if (profiles.has(profile)) source = `profile "${profile}" in the shared config files`;
  checks.push({
    name: 'aws credentials',
    provider: 'aws',
    status: source ? 'ok' : 'fail',
    detail: source ?? `none found (no AWS_ACCESS_KEY_ID, no profile "${profile}"); run aws configure or aws sso login`,
  });
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? config?.config.aws.region;
  checks.push({ name: 'aws region', provider: 'aws', status: region ? 'ok' : 'fail', detail: region ?? 'not set: set aws.region in the config or AWS_REGION' });
  if (source && region) checks.push(await awsIdentity(env, region, config));
  const endpoints = Object.entries(env).filter(([k, v]) => v && /^AWS_ENDPOINT_URL(_[A-Z0-9_]+)?$/.test(k));
  if (endpoints.length > 0) {
    checks.push({ name: 'aws endpoints', provider: 'aws', status: 'ok', detail: endpoints.map(([k, v]) => `${k}=${safeUrl(v!)}`).join(', ') });
  }
  return checks;
}

/** Who the credentials belong to (STS GetCallerIdentity): the account and ARN, never a key. */
async function awsIdentity(env: Record<string, string | undefined>, region: string, config: LoadedConfig | undefined): Promise<Check> {
  try {
    const { createClients } = await import('../../providers/aws/clients.js');
    const { GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
    const profile = env.AWS_PROFILE ?? config?.config.aws.profile;
    const clients = createClients({ env, region, ...(profile ? { profile } : {}) });
    const out = await clients.sts.send(new GetCallerIdentityCommand({}), { abortSignal: AbortSignal.timeout(8000) });
    return { name: 'aws identity', provider: 'aws', status: 'ok', detail: `account ${out.Account}, ${out.Arn}` };
  } catch (error) {
    return { name: 'aws identity', provider: 'aws', status: 'fail', detail: `sts:GetCallerIdentity failed: ${(error as Error).name}: ${(error as Error).message.split('\n')[0]}` };
  }
}

async function azureChecks(env: Record<string, string | undefined>, config: LoadedConfig | undefined): Promise<Check[]> {
  const home = env.HOME ?? homedir();
  let source: string | undefined;
  if (env.AZURE_CLIENT_ID && env.AZURE_TENANT_ID && (env.AZURE_CLIENT_SECRET || env.AZURE_CLIENT_CERTIFICATE_PATH || env.AZURE_FEDERATED_TOKEN_FILE)) {
    source = 'service principal from environment (AZURE_CLIENT_ID, secret not shown)';
  } else if (await jsonFileParses(join(env.AZURE_CONFIG_DIR ?? join(home, '.azure'), 'azureProfile.json'))) {
    source = 'Azure CLI login (az login)';
  }
  const checks: Check[] = [
    { name: 'azure credentials', provider: 'azure', status: source ? 'ok' : 'fail', detail: source ?? 'none found: run az login, or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET' },
  ];
  const subscription = env.AZURE_SUBSCRIPTION_ID ?? config?.config.azure.subscriptionId;
  checks.push({ name: 'azure subscription', provider: 'azure', status: subscription ? 'ok' : 'warn', detail: subscription ?? 'not set: azure.subscriptionId or AZURE_SUBSCRIPTION_ID' });
  if (env.AZURE_STORAGE_CONNECTION_STRING) {
    const endpoint = /BlobEndpoint=([^;]+)/.exec(env.AZURE_STORAGE_CONNECTION_STRING)?.[1];
    checks.push({ name: 'azure storage', provider: 'azure', status: 'ok', detail: `AZURE_STORAGE_CONNECTION_STRING set (not shown)${endpoint ? `, blob endpoint ${safeUrl(endpoint)}` : ''}` });
  }
  return checks;
}

/** Section names of an INI file (empty when it is missing). */
async function iniSections(file: string): Promise<Set<string>> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return new Set([...text.matchAll(/^\s*\[([^\]]+)\]/gm)].map((m) => m[1]!.trim()));
}

/** Does the file exist and hold JSON (the Azure CLI writes a BOM first)? */
async function jsonFileParses(file: string): Promise<boolean> {
  try {
    JSON.parse((await readFile(file, 'utf8')).replace(/^\uFEFF/, ''));
    return true;
  } catch {
    return false;
  }
}

/** A URL with any user:password part removed. */
function safeUrl(value: string): string {
  try {
    const url = new URL(value);
    url.username = '';
    url.password = '';
    return url.toString().replace(/\/$/, '');
  } catch {
    return '(not a URL)';
  }
}

/** Does the provider have what it needs? `fail` checks for 'all' or that provider. */
export function providerReady(checks: Check[], provider: ProviderId): boolean {
  return !checks.some((c) => c.status === 'fail' && (c.provider === 'all' || c.provider === provider));
}
