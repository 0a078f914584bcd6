import { relative } from 'node:path';
import type { CommandBody } from '../context.js';

export const configCommand: CommandBody = {
  description:
    'Load mlserve.config.yaml, apply ${env:…} values and the --stage overrides, validate it, and print the result with every default filled in. Values taken from the environment are shown as ***.',
  examples: [
    { command: 'mlserve config', description: 'check the config and see the defaults' },
    { command: 'mlserve config --stage prod --json', description: 'the prod stage as JSON' },
  ],
  async run(ctx) {
    const [{ loadConfig }, { stringify }] = await Promise.all([import('../../core/config/load.js'), import('yaml')]);
    const loaded = await loadConfig({ cwd: ctx.io.cwd, env: ctx.io.env, ...pick(ctx.options) });
    const shown = redact(loaded.config as unknown as Record<string, unknown>, loaded.fromEnv);
    return {
      data: { file: loaded.file, stage: loaded.stage, config: shown },
      text: `# ${relative(ctx.io.cwd, loaded.file) || loaded.file}, stage ${loaded.stage}: valid\n${stringify(shown)}`,
    };
  },
};

function pick(o: { config?: string; stage?: string }): { configPath?: string; stage?: string } {
  const out: { configPath?: string; stage?: string } = {};
  if (o.config) out.configPath = o.config;
  if (o.stage) out.stage = o.stage;
  return out;
}

/** Replace values that came from the environment (they may be secrets) with ***. */
function redact(config: Record<string, unknown>, paths: string[]): Record<string, unknown> {
  const copy = structuredClone(config);
  for (const path of paths) {
    const keys = path.split('.');
    let node: Record<string, unknown> | undefined = copy;
    for (const k of keys.slice(0, -1)) node = node?.[k] as Record<string, unknown> | undefined;
    const last = keys[keys.length - 1]!;
    if (node && last in node) node[last] = '***';
  }
  return copy;
}

export { pick as configLoadOptions };
