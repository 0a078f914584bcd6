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

/** AWS account selection, as flags over the config's aws.region / aws.profile. */
export const awsOptions: NonNullable<CommandSpec['options']> = [
  { flags: '--region <region>', description: 'AWS region (overrides aws.region and AWS_REGION)' },
  { flags: '--profile <name>', description: 'AWS profile from ~/.aws/config (overrides aws.profile)' },
];

/** Load the config and open the chosen provider. */
export async function openProvider(ctx: CommandContext, raw: Record<string, unknown>): Promise<{ loaded: LoadedConfig; provider: Provider; id: ProviderId }> {
  const loaded = await loadConfig({ cwd: ctx.io.cwd, env: ctx.io.env, ...configLoadOptions(ctx.options) });
  if (typeof raw.region === 'string') loaded.config.aws.region = raw.region;
  if (typeof raw.profile === 'string') loaded.config.aws.profile = raw.profile;
  const id = (raw.provider as ProviderId | undefined) ?? loaded.config.provider;
  const provider = await getProvider(id, { loaded, env: ctx.io.env, reporter: ctx.reporter, ...(ctx.io.signal ? { signal: ctx.io.signal } : {}) });
  return { loaded, provider, id };
}
