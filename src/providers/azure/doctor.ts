import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Check } from '../../core/checks.js';
import { readTextIfExists } from '../../core/fs.js';
import type { DoctorContext } from '../platform.js';
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
  const subscription = env.AZURE_SUBSCRIPTION_ID ?? config?.azure.subscriptionId;
  checks.push({ name: 'azure subscription', provider: 'azure', status: subscription ? 'ok' : 'warn', detail: subscription ?? 'not set: azure.subscriptionId or AZURE_SUBSCRIPTION_ID' });
  if (env.AZURE_STORAGE_CONNECTION_STRING) {
    const endpoint = /BlobEndpoint=([^;]+)/.exec(env.AZURE_STORAGE_CONNECTION_STRING)?.[1];
    checks.push({ name: 'azure storage', provider: 'azure', status: 'ok', detail: `AZURE_STORAGE_CONNECTION_STRING set (not shown)${endpoint ? `, blob endpoint ${safeUrl(endpoint)}` : ''}` });
  }
  return checks;
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
