import type { ProviderId } from '../core/config/schema.js';
import { awsPlatform } from './aws/platform.js';
import { azurePlatform } from './azure/platform.js';
import { localPlatform } from './local/platform.js';
import type { Platform, ProviderFlag } from './platform.js';
import type { Provider, ProviderContext } from './provider.js';

interface Entry {
  platform: Platform;
  /** Loads the provider's SDK code only when it is used. */
  open(ctx: ProviderContext): Promise<Provider>;
}

/**
 * Every provider: its platform description and how to open it. Adding a provider is a folder under
 * src/providers/ and one line here (and its id in the config schema's list).
 */
const REGISTRY: Record<ProviderId, Entry> = {
  local: { platform: localPlatform, open: async (ctx) => new (await import('./local/index.js')).LocalProvider(ctx) },
  aws: { platform: awsPlatform, open: async (ctx) => new (await import('./aws/index.js')).AwsProvider(ctx) },
  azure: { platform: azurePlatform, open: async (ctx) => new (await import('./azure/index.js')).AzureProvider(ctx) },
};

/** The provider a config gets when it names none, and the one that runs bundles on this machine. */
export const DEFAULT_PROVIDER: ProviderId = 'local';
export const LOCAL_PROVIDER: ProviderId = 'local';

export function platformOf(id: ProviderId): Platform {
  return REGISTRY[id].platform;
}

export function allPlatforms(): Platform[] {
  return Object.values(REGISTRY).map((e) => e.platform);
}

/** Every provider's lifecycle flags (AWS's --region and --profile…), for the commands that take them. */
export function providerFlags(): ProviderFlag[] {
  return allPlatforms().flatMap((p) => p.flags);
}

export async function openProvider(id: ProviderId, ctx: ProviderContext): Promise<Provider> {
  return REGISTRY[id].open(ctx);
}
