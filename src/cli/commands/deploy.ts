import type { CommandBody } from '../context.js';
import { loadFor, providerContext, providerFlagOptions, providerOption } from '../provider-context.js';
import type { ProviderId } from '../../core/config/schema.js';

export const deployCommand: CommandBody = {
  description:
    'Package the bundle for the provider, run it in a clean interpreter with one request before anything is uploaded (the pre-flight), publish it as a new immutable version (an unchanged bundle publishes nothing), point the stage’s alias at it unless --no-promote, and print the endpoint. Safe to run again after an interruption.',
  options: [
    providerOption,
    ...providerFlagOptions,
    { flags: '--no-promote', description: 'publish the version but leave the alias where it is (for `promote`)' },
    { flags: '--no-preflight', description: 'skip running the bundle before the upload (not recommended)' },
  ],
  examples: [
    { command: 'mlserve deploy', description: 'to the config’s provider (local by default)' },
    { command: 'mlserve deploy --provider aws --stage prod', description: 'another provider and stage' },
    { command: 'mlserve deploy --no-promote && mlserve promote 3 --weight 10', description: 'a canary' },
  ],
  async run(ctx, _args, raw) {
    const loaded = await loadFor(ctx);
    const id = (raw.provider as ProviderId | undefined) ?? loaded.config.provider;
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
