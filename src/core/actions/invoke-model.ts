import type { ProviderId } from '../config/schema.js';
import { MlserveError } from '../errors.js';
import type { InvokeRequest, InvokeResult } from '../../providers/provider.js';
import { LOCAL_PROVIDER, openProvider } from '../../providers/registry.js';
import { localRunner, type LocalRunOptions } from './serve.js';

/** `mlserve invoke`: one request to the stage (or a version) on the provider; `--target` runs another platform's bundle locally. */
export async function invokeModel(o: LocalRunOptions & { provider: ProviderId; request: InvokeRequest }): Promise<InvokeResult> {
  const target = o.flags?.target;
  if (typeof target === 'string' && o.provider !== LOCAL_PROVIDER) {
    throw new MlserveError('USAGE', `--target runs another platform's bundle on the local provider; it does not go with --provider ${o.provider}`, {
      hint: `mlserve invoke --provider ${LOCAL_PROVIDER} --target ${target} …`,
    });
  }
  const provider = typeof target === 'string' ? (await localRunner(o)).provider : await openProvider(o.provider, { loaded: o.loaded, env: o.env, reporter: o.reporter, ...(o.flags ? { flags: o.flags } : {}), ...(o.signal ? { signal: o.signal } : {}) });
  return provider.invoke(o.request);
}
