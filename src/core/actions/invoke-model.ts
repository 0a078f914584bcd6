import type { ProviderId } from '../config/schema.js';
import { MlserveError } from '../errors.js';
import type { InvokeRequest, InvokeResult, ProviderContext } from '../../providers/provider.js';
import { LOCAL_PROVIDER, openProvider } from '../../providers/registry.js';
import { localRunner } from './serve.js';

/** `mlserve invoke`: one request to the stage (or a version) on the provider; `--target` runs another platform's bundle locally. */
export async function invokeModel(o: ProviderContext & { provider: ProviderId; request: InvokeRequest }): Promise<InvokeResult> {
  const { provider: id, request, ...ctx } = o;
  const target = ctx.flags?.target;
  if (typeof target === 'string' && id !== LOCAL_PROVIDER) {
    throw new MlserveError('USAGE', `--target runs another platform's bundle on the local provider; it does not go with --provider ${id}`, {
      hint: `mlserve invoke --provider ${LOCAL_PROVIDER} --target ${target} …`,
    });
  }
  const provider = typeof target === 'string' ? (await localRunner(ctx)).provider : await openProvider(id, ctx);
  return provider.invoke(request);
}
