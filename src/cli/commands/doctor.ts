import type { runDoctor } from '../../core/actions/doctor.js';
import { PROVIDERS, type ProviderId } from '../../core/config/ids.js';
import type { CommandBody } from '../context.js';
import { DEFAULT_PROVIDER } from '../../providers/registry.js';
import { table } from '../style.js';

export const doctorCommand: CommandBody = {
  description:
    'Check what each provider needs: Python and pip, a valid config, and AWS or Azure credentials (named by their source, never printed). Exits 1 when the chosen provider (--provider, else the config’s) is missing something.',
  options: [{ flags: '--provider <provider>', description: 'the provider whose needs decide the exit code', choices: PROVIDERS }],
  examples: [
    { command: 'mlserve doctor', description: 'everything, as a table' },
    { command: 'mlserve doctor --provider aws --json', description: 'for CI' },
  ],
  async run(ctx, _args, raw) {
    const opts: Parameters<typeof runDoctor>[0] = { cwd: ctx.io.cwd, env: ctx.io.env };
    if (ctx.options.config) opts.configPath = ctx.options.config;
    if (ctx.options.stage) opts.stage = ctx.options.stage;
    const { providerReady, runDoctor: run } = await import('../../core/actions/doctor.js');
    const { checks, config } = await run(opts);
    const provider = (raw.provider as ProviderId | undefined) ?? config?.config.provider ?? DEFAULT_PROVIDER;
    const ready = providerReady(checks, provider);
    const { style } = ctx;
    const mark = { ok: style.green('ok'), warn: style.yellow('warn'), fail: style.red('FAIL') };
    const rows = [['check', 'for', 'status', 'detail'], ...checks.map((c) => [c.name, c.provider, mark[c.status], c.detail])];
    return {
      data: { provider, ready, checks },
      text: `${table(rows, style)}\n\n${ready ? style.green(`ready for ${provider}`) : style.red(`not ready for ${provider}: fix the FAIL lines above`)}`,
      exitCode: ready ? 0 : 1,
    };
  },
};
