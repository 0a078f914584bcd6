import type { CommandSpec } from '../context.js';
import { awsOptions, openProvider, providerOption } from '../provider-context.js';

export const deployCommand: CommandSpec = {
  name: 'deploy',
  summary: 'package, publish an immutable version, point the stage at it, print the endpoint',
  description:
    'Package the bundle for the provider, publish it as a new immutable version (an unchanged bundle publishes nothing), point the stage’s alias at it unless --no-promote, and print the endpoint. Safe to run again after an interruption.',
  options: [providerOption, ...awsOptions, { flags: '--no-promote', description: 'publish the version but leave the alias where it is (for `promote`)' }],
  examples: [
    { command: 'mlserve deploy', description: 'to the config’s provider (local by default)' },
    { command: 'mlserve deploy --provider local --stage prod', description: 'another stage' },
    { command: 'mlserve deploy --no-promote && mlserve promote 3 --weight 10', description: 'a canary' },
  ],
  async run(ctx, _args, raw) {
    const { loaded, provider, id } = await openProvider(ctx, raw);
    const { packageBundle } = await import('../../core/actions/package.js');
    const bundle = await packageBundle({ loaded, provider: id, env: ctx.io.env, reporter: ctx.reporter, ...(ctx.io.signal ? { signal: ctx.io.signal } : {}) });
    for (const w of bundle.warnings) ctx.reporter.warn(w);
    const result = await provider.deploy(bundle, { promote: raw.promote !== false });
    ctx.reporter.info(
      result.published
        ? `Published version ${result.version} of ${loaded.config.name} (stage ${loaded.stage}).`
        : `Bundle unchanged: version ${result.version} is already deployed; nothing published.`,
    );
    for (const note of result.notes) ctx.reporter.info(note);
    return {
      data: { provider: id, stage: loaded.stage, ...result, bundle: bundle.bundle },
      text: result.endpoint,
    };
  },
};
