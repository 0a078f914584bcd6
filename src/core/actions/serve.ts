import type { ProviderId } from '../config/schema.js';
import { MlserveError } from '../errors.js';
import type { Provider, ProviderContext, ServeHandle } from '../../providers/provider.js';
import { LOCAL_PROVIDER, openProvider } from '../../providers/registry.js';

/** What a local run needs: the provider context, its flags (--target) included. */
export type LocalRunOptions = ProviderContext;

/**
 * The local provider, running either this machine's build of the stage or, with `--target <id>`,
 * the exact bundle that provider would get: packaged for it, checked to run here (same Python minor
 * and architecture, glibc at least the target's) and published into a store of its own. When this
 * machine cannot run it, says why and falls back to the local build.
 */
export async function localRunner(o: LocalRunOptions): Promise<{ provider: Provider; target: ProviderId | null }> {
  const ctx: ProviderContext = { ...o, flags: { ...o.flags } };
  const target = o.flags?.target as ProviderId | undefined;
  if (!target || target === LOCAL_PROVIDER) return { provider: await openProvider(LOCAL_PROVIDER, { ...ctx, flags: { ...ctx.flags, target: undefined } }), target: null };
  // Loaded only here: packaging (execa, the zip code) is not on the path of a plain `serve`.
  const [{ packageModel }, { assertWithinLimits }, { hostRunnerFor }] = await Promise.all([import('./package.js'), import('./deploy.js'), import('../../packaging/preflight.js')]);
  const { report, bundle } = await packageModel({ loaded: o.loaded, provider: target, env: o.env, reporter: o.reporter, ...(o.signal ? { signal: o.signal } : {}) });
  assertWithinLimits(report);
  const runner = await hostRunnerFor(bundle!.target, o.env);
  if (!runner.ok) {
    o.reporter.warn(`cannot run the ${target} bundle on this machine (${runner.reason}): falling back to this machine's build of stage ${o.loaded.stage}`);
    return { provider: await openProvider(LOCAL_PROVIDER, { ...ctx, flags: { ...ctx.flags, target: undefined } }), target: null };
  }
  const provider = await openProvider(LOCAL_PROVIDER, { ...ctx, flags: { ...ctx.flags, target, python: runner.python } });
  const deployed = await provider.deploy(bundle!, { promote: true });
  o.reporter.info(`Running the exact ${target} bundle (${bundle!.sha256.slice(0, 12)}, version ${deployed.version} of its local copy) with ${runner.python}`);
  return { provider, target };
}

/** `mlserve serve`: the local endpoint, until the signal aborts. */
export async function serveModel(o: LocalRunOptions & { port: number; version?: number; onLog?: (line: string, source: string) => void; onAccess?: (line: string) => void }): Promise<{ handle: ServeHandle; target: ProviderId | null }> {
  const { provider, target } = await localRunner(o);
  if (!provider.serve) throw new MlserveError('INTERNAL', 'the local provider cannot serve');
  const handle = await provider.serve({ port: o.port, ...(o.version !== undefined ? { version: o.version } : {}), ...(o.onLog ? { onLog: o.onLog } : {}), ...(o.onAccess ? { onAccess: o.onAccess } : {}) });
  return { handle, target };
}
