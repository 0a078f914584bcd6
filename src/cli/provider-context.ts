import { loadConfig, type LoadedConfig } from '../core/config/load.js';
import { PROVIDERS, type ProviderId } from '../core/config/schema.js';
import { getProvider } from '../providers/index.js';
import type { Provider } from '../providers/provider.js';
import { configLoadOptions } from './commands/config.js';
import type { CommandContext, CommandSpec } from './context.js';

/** The `--provider` flag every lifecycle command takes. */
export const providerOption: NonNullable<CommandSpec['options']>[number] = {
  flags: '--provider <provider>',
  description: 'local, aws or azure (default: the config’s provider)',
  choices: PROVIDERS,
};

/** Load the config and open the chosen provider. */
export async function openProvider(ctx: CommandContext, raw: Record<string, unknown>): Promise<{ loaded: LoadedConfig; provider: Provider; id: ProviderId }> {
  const loaded = await loadConfig({ cwd: ctx.io.cwd, env: ctx.io.env, ...configLoadOptions(ctx.options) });
  const id = (raw.provider as ProviderId | undefined) ?? loaded.config.provider;
  const provider = await getProvider(id, { loaded, env: ctx.io.env, reporter: ctx.reporter, ...(ctx.io.signal ? { signal: ctx.io.signal } : {}) });
  return { loaded, provider, id };
}
