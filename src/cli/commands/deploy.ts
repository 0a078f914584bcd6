import type { CommandBody } from '../context.js';
import { loadFor, providerContext, providerFlagOptions, providerOption } from '../provider-context.js';
import type { LoadedConfig } from '../../core/config/load.js';
import type { ProviderId } from '../../core/config/schema.js';
import { MlserveError } from '../../core/errors.js';
import { openProvider } from '../../providers/registry.js';
import type { CommandContext } from '../context.js';

export const deployCommand: CommandBody = {
  description:
    'Package the bundle for the provider, run it in a clean interpreter with one request before anything is uploaded (the pre-flight), publish it as a new immutable version (an unchanged bundle publishes nothing), point the stage’s alias at it unless --no-promote, and print the endpoint. Safe to run again after an interruption.',
  options: [
    providerOption,
    ...providerFlagOptions,
    { flags: '--no-promote', description: 'publish the version but leave the alias where it is (for `promote`)' },
    { flags: '--no-preflight', description: 'skip running the bundle before the upload (not recommended)' },
    { flags: '--dry-run', description: 'print every resource the deploy would create or change, with the properties it would send; change nothing (providers that plan: azure)' },
    { flags: '--offline', description: 'with --dry-run: no credentials or network; the whole plan as if nothing existed yet' },
  ],
  examples: [
    { command: 'mlserve deploy', description: 'to the config’s provider (local by default)' },
    { command: 'mlserve deploy --provider aws --stage prod', description: 'another provider and stage' },
    { command: 'mlserve deploy --no-promote && mlserve promote 3 --weight 10', description: 'a canary' },
    { command: 'mlserve deploy --provider azure --dry-run --offline --json', description: 'the Azure plan, with no sign-in' },
  ],
  async run(ctx, _args, raw) {
    const loaded = await loadFor(ctx);
    const id = (raw.provider as ProviderId | undefined) ?? loaded.config.provider;
    if (raw.offline === true && raw.dryRun !== true) throw new MlserveError('USAGE', '--offline goes with --dry-run: a deploy needs the network', { hint: 'add --dry-run, or drop --offline' });
    if (raw.dryRun === true) return dryRun(ctx, loaded, id, raw);
    const { deployModel } = await import('../../core/actions/deploy.js');
    const outcome = await deployModel({ ...providerContext(ctx, loaded, raw), provider: id, promote: raw.promote !== false, preflight: raw.preflight !== false });
    for (const w of outcome.report.warnings) ctx.reporter.warn(w);
    const result = outcome.deploy;
    ctx.reporter.info(
      result.published
        ? `Published version ${result.version} of ${loaded.config.name} (stage ${loaded.stage}).`
        : `Bundle unchanged: version ${result.version} is already deployed; nothing published.`,
    );
    ctx.reporter.info(`Concurrency: ${result.concurrency}`);
    for (const note of result.notes) ctx.reporter.info(note);
    return {
      data: { provider: id, stage: loaded.stage, ...result, bundle: outcome.report.bundle, preflight: outcome.preflight },
      text: result.endpoint,
    };
  },
};

/** `deploy --dry-run`: the provider's plan, printed; nothing packaged, uploaded or changed. */
async function dryRun(ctx: CommandContext, loaded: LoadedConfig, id: ProviderId, raw: Record<string, unknown>) {
  const provider = await openProvider(id, providerContext(ctx, loaded, raw));
  if (!provider.plan) throw new MlserveError('USAGE', `deploy --dry-run is not available for the ${id} provider`, { hint: 'run `mlserve package --dry-run` to see the bundle it would deploy' });
  const plan = await provider.plan({ offline: raw.offline === true });
  const width = Math.max(...plan.resources.map((r) => r.type.length));
  const lines = plan.resources.map((r) => `${r.action.padEnd(7)} ${r.type.padEnd(width)}  ${r.name}  (api-version ${r.apiVersion})`);
  return { data: { provider: id, stage: loaded.stage, dryRun: true, ...plan }, text: [...lines, ...plan.notes.map((n) => `note: ${n}`)].join('\n') };
}
