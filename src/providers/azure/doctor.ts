import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Check } from '../../core/checks.js';
import { readTextIfExists } from '../../core/fs.js';
import type { Config } from '../../core/config/schema.js';
import { MlserveError } from '../../core/errors.js';
import type { DoctorContext } from '../platform.js';
import { cloudOf } from './cloud.js';
import { resolveAzureSettings } from './settings.js';
import { safeUrl } from '../../core/safe-url.js';

/** Azure credentials and subscription, named by their source, never printed. */
export async function azureChecks({ env, config }: DoctorContext): Promise<Check[]> {
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
  // Signing in (the CLI credential runs `az`; managed identity probes a metadata endpoint) only when
  // something points at Azure: a credential found above, or a config whose provider is azure. Then the
  // chain itself is the judge (managed identity, for one, leaves no trace in files or variables).
  if (source || config?.provider === 'azure') {
    const identity = await identityCheck(config, env);
    if (!source && identity.status === 'ok') Object.assign(checks[0]!, { status: 'ok', detail: 'found by DefaultAzureCredential (Azure CLI, Developer CLI or managed identity)' });
    checks.push(identity, await subscriptionCheck(config, env));
  } else {
    const settings = await resolveAzureSettings(config?.azure ?? {}, env, { offline: true });
    const known = settings.subscriptionId !== '{subscription}';
    checks.push({ name: 'azure subscription', provider: 'azure', status: known ? 'ok' : 'warn', detail: known ? `${settings.subscriptionId} (from ${settings.subscriptionSource})` : 'not set: azure.subscriptionId, AZURE_SUBSCRIPTION_ID, or the Azure CLI’s default after az login' });
  }
  if (env.AZURE_STORAGE_CONNECTION_STRING) {
    const endpoint = /BlobEndpoint=([^;]+)/.exec(env.AZURE_STORAGE_CONNECTION_STRING)?.[1];
    checks.push({ name: 'azure storage', provider: 'azure', status: 'ok', detail: `AZURE_STORAGE_CONNECTION_STRING set (not shown)${endpoint ? `, blob endpoint ${safeUrl(endpoint)}` : ''}` });
  }
  return checks;
}

/**
 * Who the credential chain signs in as: a Resource Manager token is fetched (never shown) and its
 * claims named: the user or application, its object id and tenant.
 */
async function identityCheck(config: Config | undefined, env: Record<string, string | undefined>): Promise<Check> {
  const { azureCredential } = await import('./clients.js');
  const cloud = cloudOf(config?.azure);
  try {
    const token = await azureCredential(config?.azure ?? {}, env).getToken(cloud.armScope, { abortSignal: AbortSignal.timeout(30_000) });
    if (!token) throw new Error('the credential chain returned no token');
    const claims = JSON.parse(Buffer.from(token.token.split('.')[1] ?? '', 'base64url').toString('utf8') || '{}') as Record<string, string | undefined>;
    const who = claims.upn ?? claims.unique_name ?? claims.preferred_username ?? (claims.appid ? `application ${claims.appid}` : 'an identity');
    return { name: 'azure identity', provider: 'azure', status: 'ok', detail: `${who} (object ${claims.oid ?? '?'}, tenant ${claims.tid ?? '?'}), signed in to ${cloud.id} Azure` };
  } catch (error) {
    return { name: 'azure identity', provider: 'azure', status: 'fail', detail: `sign-in failed: ${((error as Error).message ?? String(error)).split('\n')[0]}` };
  }
}

/** The subscription deploys go to, and where it came from. */
async function subscriptionCheck(config: Config | undefined, env: Record<string, string | undefined>): Promise<Check> {
  try {
    const settings = await resolveAzureSettings(config?.azure ?? {}, env);
    return { name: 'azure subscription', provider: 'azure', status: 'ok', detail: `${settings.subscriptionId} (from ${settings.subscriptionSource}); location ${settings.location}` };
  } catch (error) {
    if (!(error instanceof MlserveError)) throw error;
    return { name: 'azure subscription', provider: 'azure', status: 'warn', detail: `${error.message}; ${error.hint ?? ''}` };
  }
}

/** Does the file exist and hold JSON (the Azure CLI writes a BOM first)? A missing file is "no". */
async function jsonFileParses(file: string): Promise<boolean> {
  const text = await readTextIfExists(file);
  if (text === undefined) return false;
  try {
    JSON.parse(text.replace(/^\uFEFF/, ''));
    return true;
  } catch {
    return false; // not a login the CLI wrote: reported as "none found"
  }
}
