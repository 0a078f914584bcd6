import type { ProviderId } from '../core/config/schema.js';
import { MlserveError } from '../core/errors.js';
import type { Provider, ProviderContext } from './provider.js';

/** The one switch on the provider id. Cloud SDKs load only when their provider is used. */
export async function getProvider(id: ProviderId, ctx: ProviderContext): Promise<Provider> {
  switch (id) {
    case 'local': {
      const { LocalProvider } = await import('./local/index.js');
      return new LocalProvider(ctx);
    }
    case 'aws': {
      const { AwsProvider } = await import('./aws/index.js');
      return new AwsProvider(ctx);
    }
    default:
      throw new MlserveError('USAGE', `the ${id} provider is not available in this version of mlserve`, {
        hint: 'use --provider local or aws; the azure provider is on the roadmap in README.md',
      });
  }
}
