import type { LoadedConfig } from '../core/config/load.js';
import { PROVIDERS, type ProviderId } from '../core/config/ids.js';
import type { Provider, ProviderContext } from '../providers/provider.js';
import { openProvider as open, providerFlags } from '../providers/registry.js';
import { configLoadOptions } from './commands/config.js';
import type { CommandContext, CommandSpec } from './context.js';

/** The `--provider` flag every lifecycle command takes. */
export const providerOption: NonNullable<CommandSpec['options']>[number] = {
  flags: '--provider <provider>',
  description: 'local, aws or azure (default: the config’s provider)',
  choices: PROVIDERS,
};

/** Each provider's own flags (AWS's --region and --profile…), declared by its platform description. */
export const providerFlagOptions: NonNullable<CommandSpec['options']> = providerFlags();

export async function loadFor(ctx: CommandContext): Promise<LoadedConfig> {
  // Loaded on use: config loading pulls in yaml and zod, which --help and --version never need.
  const { loadConfig } = await import('../core/config/load.js');
  return loadConfig({ cwd: ctx.io.cwd, env: ctx.io.env, ...configLoadOptions(ctx.options) });
}

/** What core actions need of the command: config, environment, reporter, the provider's flags, Ctrl-C. */
export function providerContext(ctx: CommandContext, loaded: LoadedConfig, raw: Record<string, unknown>): ProviderContext {
  return { loaded, env: ctx.io.env, reporter: ctx.reporter, flags: raw, ...(ctx.io.signal ? { signal: ctx.io.signal } : {}) };
}

/** Load the config and open the chosen provider (--provider, else the config's). */
export async function openProvider(ctx: CommandContext, raw: Record<string, unknown>): Promise<{ loaded: LoadedConfig; provider: Provider; id: ProviderId }> {
  const loaded = await loadFor(ctx);
  const id = (raw.provider as ProviderId | undefined) ?? loaded.config.provider;
  const provider = await open(id, providerContext(ctx, loaded, raw));
  return { loaded, provider, id };
}
