import { ResourceManagementClient } from '@azure/arm-resources';
import { WebSiteManagementClient } from '@azure/arm-appservice';
import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import type { Config } from '../../core/config/schema.js';
import { MlserveError } from '../../core/errors.js';
import { cloudOf, type AzureCloud } from './cloud.js';
import { resolveAzureSettings, tenantOf, type AzureSettings } from './settings.js';

export interface AzureClients {
  cloud: AzureCloud;
  settings: AzureSettings;
  credential: TokenCredential;
  arm: ResourceManagementClient;
  web: WebSiteManagementClient;
  /** A Blob client for a storage account's endpoint (read from Resource Manager), signed in with the same identity. */
  blob(endpoint: string): BlobServiceClient;
}

/**
 * The credential (DefaultAzureCredential: environment, workload identity, managed identity, Azure CLI,
 * Azure Developer CLI…, in the SDK's order) and the SDK clients, pointed at the configured cloud's
 * endpoints the way a user points them at a sovereign cloud.
 */
export async function createAzureClients(config: Config, env: Record<string, string | undefined>): Promise<AzureClients> {
  const cloud = cloudOf(config.azure);
  const settings = await resolveAzureSettings(config.azure, env);
  const credential = azureCredential(config.azure, env);
  const arm = { endpoint: cloud.resourceManager, credentialScopes: [cloud.armScope], userAgentOptions: { userAgentPrefix: 'mlserve' } };
  return {
    cloud,
    settings,
    credential,
    arm: new ResourceManagementClient(credential, settings.subscriptionId, arm),
    web: new WebSiteManagementClient(credential, settings.subscriptionId, arm),
    blob: (endpoint) => new BlobServiceClient(endpoint, credential, { audience: cloud.storageScope }),
  };
}

/** The one credential every Azure call (and doctor) signs in with: the chain, at the cloud's authority, in the configured tenant. */
export function azureCredential(azure: Partial<Config['azure']>, env: Record<string, string | undefined>): TokenCredential {
  const tenantId = tenantOf(azure, env);
  return new DefaultAzureCredential({ authorityHost: cloudOf(azure).authorityHost, ...(tenantId ? { tenantId } : {}) });
}

/** Turn an SDK error into an MlserveError naming the call; never includes a token. */
export function azureError(action: string, error: unknown): MlserveError {
  if (error instanceof MlserveError) return error;
  const e = error as Error & { statusCode?: number; code?: string };
  const name = e?.name ?? 'Error';
  if (/CredentialUnavailableError|AuthenticationError|AggregateAuthenticationError/.test(name) || e.statusCode === 401 || e.statusCode === 403) {
    return new MlserveError('PROVIDER_AUTH', `${action}: ${e.code ?? name}: ${firstLine(e.message)}`, {
      hint: 'sign in (`az login`, or AZURE_CLIENT_ID/AZURE_TENANT_ID with a secret, certificate or federated token), then check `mlserve doctor --provider azure` and the identity’s role on the subscription',
      cause: error,
    });
  }
  if (e.code === 'StorageAccountAlreadyTaken') {
    return new MlserveError('PROVIDER_CONFIG', `${action}: ${firstLine(e.message)} (storage account names are global across Azure)`, {
      hint: 'set azure.storageAccount to a free name (3–24 lowercase letters and digits), or to an account of yours with azure.resourceGroup',
      cause: error,
    });
  }
  const status = e.statusCode ? ` (HTTP ${e.statusCode})` : '';
  return new MlserveError('PROVIDER_ERROR', `${action}: ${e.code ?? name}${status}: ${firstLine(e.message)}`, { hint: 'run again; each step is idempotent. --debug shows the stack', cause: error });
}

function firstLine(text: string | undefined): string {
  return (text ?? '').split('\n')[0]!.slice(0, 500);
}
