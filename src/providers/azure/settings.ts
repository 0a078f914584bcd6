import { execa } from 'execa';
import type { Config } from '../../core/config/schema.js';
import { MlserveError } from '../../core/errors.js';

/** Subscription, tenant and location in effect, each with where it came from (for doctor and messages). */
export interface AzureSettings {
  subscriptionId: string;
  subscriptionSource: string;
  tenantId?: string;
  location: string;
  locationSource: string;
}

/**
 * The one resolution of the subscription (config, then AZURE_SUBSCRIPTION_ID, then the Azure CLI's
 * default account), tenant and location, used by every Azure command and by doctor.
 */
export async function resolveAzureSettings(azure: Partial<Config['azure']>, env: Record<string, string | undefined>, options: { offline?: boolean } = {}): Promise<AzureSettings> {
  const tenantId = tenantOf(azure, env);
  const [location, locationSource] = azure.location
    ? [azure.location, 'azure.location in the config']
    : env.AZURE_LOCATION
      ? [env.AZURE_LOCATION, 'AZURE_LOCATION']
      : ['eastus', 'the default (set azure.location to change it)'];
  const base = { location, locationSource, ...(tenantId ? { tenantId } : {}) };
  if (azure.subscriptionId) return { ...base, subscriptionId: azure.subscriptionId, subscriptionSource: 'azure.subscriptionId in the config' };
  if (env.AZURE_SUBSCRIPTION_ID) return { ...base, subscriptionId: env.AZURE_SUBSCRIPTION_ID, subscriptionSource: 'AZURE_SUBSCRIPTION_ID' };
  // Offline (deploy --dry-run --offline): no CLI call; the plan shows where the subscription goes.
  if (options.offline) return { ...base, subscriptionId: '{subscription}', subscriptionSource: 'not resolved offline' };
  const fromCli = await cliDefaultSubscription(env);
  if (fromCli) return { ...base, subscriptionId: fromCli, subscriptionSource: 'the Azure CLI’s default subscription (az account show)' };
  throw new MlserveError('PROVIDER_CONFIG', 'no Azure subscription: azure.subscriptionId is not set, nor AZURE_SUBSCRIPTION_ID, and the Azure CLI has no default account', {
    hint: 'set azure.subscriptionId in mlserve.config.yaml, export AZURE_SUBSCRIPTION_ID, or run `az login` and `az account set --subscription <id>`',
  });
}

/** The tenant to sign in to: azure.tenantId, else AZURE_TENANT_ID, else the credential's own (undefined). */
export function tenantOf(azure: Partial<Config['azure']>, env: Record<string, string | undefined>): string | undefined {
  return azure.tenantId ?? env.AZURE_TENANT_ID;
}

/** The Azure CLI's default subscription id; undefined when the CLI is not installed or not signed in (both mean "not from the CLI"). */
async function cliDefaultSubscription(env: Record<string, string | undefined>): Promise<string | undefined> {
  const result = await execa('az', ['account', 'show', '--output', 'json'], { env, extendEnv: false, reject: false, timeout: 30_000 });
  if (result.failed || result.exitCode !== 0) return undefined;
  try {
    const id = (JSON.parse(result.stdout) as { id?: unknown }).id;
    return typeof id === 'string' && id ? id : undefined;
  } catch {
    return undefined; // not an account the CLI printed: treated as "no default"
  }
}
