import type { AliasState } from '../../providers/provider.js';
import type { CommandBody } from '../context.js';
import { openProvider, providerFlagOptions, providerOption } from '../provider-context.js';
import { table } from '../style.js';

export function describeAlias(a: AliasState): string {
  if (a.version === null) return `${a.alias} → (nothing deployed)`;
  return a.canary
    ? `${a.alias} → version ${a.version} ${Math.round((1 - a.canary.weight) * 100)}%, version ${a.canary.version} ${Math.round(a.canary.weight * 100)}% (canary)`
    : `${a.alias} → version ${a.version}`;
}

export const versionsCommand: CommandBody = {
  options: [
    providerOption,
    ...providerFlagOptions,
    { flags: '--keep <n>', description: 'with prune: how many of the newest versions to keep (default 5)' },
    { flags: '--dry-run', description: 'with prune: list what would be deleted' },
  ],
  examples: [
    { command: 'mlserve versions', description: 'versions of this stage' },
    { command: 'mlserve versions --json', description: 'for scripts' },
    { command: 'mlserve versions prune --keep 3', description: 'free code storage (Lambda’s 75 GB fills up)' },
  ],
  async run(ctx, args, raw) {
    const { MlserveError } = await import('../../core/errors.js');
    if (args[0] !== undefined && args[0] !== 'prune') throw new MlserveError('USAGE', `unknown versions action "${args[0]}"`, { hint: 'mlserve versions [prune --keep <n>]' });
    const { provider, id } = await openProvider(ctx, raw);
    if (args[0] === 'prune') {
      const keep = raw.keep === undefined ? 5 : Number(raw.keep);
      if (!Number.isInteger(keep) || keep < 1) throw new MlserveError('USAGE', `--keep ${String(raw.keep)}: expected a whole number of versions, at least 1`, { hint: 'e.g. --keep 3' });
      const result = await provider.prune(keep, { dryRun: raw.dryRun === true });
      const verb = raw.dryRun === true ? 'would delete' : 'deleted';
      return { data: { provider: id, ...result }, text: result.deleted.length ? `${verb} version${result.deleted.length > 1 ? 's' : ''} ${result.deleted.join(', ')}; kept ${result.kept.join(', ')}` : `nothing to prune; kept ${result.kept.join(', ') || 'none'}` };
    }
    const { versions, alias } = await provider.versions();
    const rows = [
      ['version', 'created', 'bundle', 'model', 'aliases'],
      ...versions.map((v) => [v.version, v.created.replace('T', ' ').replace(/\.\d+Z$/, 'Z'), v.bundleSha256.slice(0, 12), v.modelSha256.slice(0, 12), v.aliases.map((a) => `${a.name} ${Math.round(a.weight * 100)}%`).join(', ')]),
    ];
    return {
      data: { provider: id, versions, alias },
      text: versions.length ? `${table(rows, ctx.style)}\n\n${describeAlias(alias)}` : `no versions deployed to stage ${alias.alias}`,
    };
  },
};

export const promoteCommand: CommandBody = {
  options: [
    providerOption,
    ...providerFlagOptions,
    { flags: '--weight <percent>', description: 'send only this share (1–99) of traffic to the version (a canary)' },
    { flags: '--finish', description: 'complete a running canary: all traffic to the canary version' },
  ],
  examples: [
    { command: 'mlserve promote 1', description: 'all traffic to version 1' },
    { command: 'mlserve promote 2 --weight 10', description: '10% to version 2' },
    { command: 'mlserve promote --finish', description: 'then all of it' },
  ],
  async run(ctx, args, raw) {
    const { MlserveError } = await import('../../core/errors.js');
    const weight = raw.weight === undefined ? undefined : Number(raw.weight);
    if (weight !== undefined && !(Number.isInteger(weight) && weight >= 1 && weight <= 100)) {
      throw new MlserveError('USAGE', `--weight ${String(raw.weight)}: expected a whole percent from 1 to 100`, { hint: 'e.g. --weight 10' });
    }
    if (!args[0] && raw.finish !== true) throw new MlserveError('USAGE', 'promote needs a version (or --finish)', { hint: 'mlserve promote <version> [--weight <percent>]' });
    const { provider, id } = await openProvider(ctx, raw);
    const alias = await provider.promote(args[0], { ...(weight !== undefined ? { weight } : {}), finish: raw.finish === true });
    return { data: { provider: id, alias }, text: describeAlias(alias) };
  },
};

export const rollbackCommand: CommandBody = {
  options: [providerOption, ...providerFlagOptions],
  examples: [{ command: 'mlserve rollback', description: 'undo the last promote' }],
  async run(ctx, _args, raw) {
    const { provider, id } = await openProvider(ctx, raw);
    const alias = await provider.rollback();
    return { data: { provider: id, alias }, text: describeAlias(alias) };
  },
};

export const destroyCommand: CommandBody = {
  options: [providerOption, ...providerFlagOptions, { flags: '--dry-run', description: 'list what would be removed, remove nothing' }],
  examples: [
    { command: 'mlserve destroy --dry-run', description: 'see what would go' },
    { command: 'mlserve destroy --yes', description: 'in CI (no prompt)' },
  ],
  async run(ctx, _args, raw) {
    const { MlserveError } = await import('../../core/errors.js');
    const { provider, id, loaded } = await openProvider(ctx, raw);
    const dryRun = raw.dryRun === true;
    if (!dryRun && !ctx.options.yes) {
      if (!ctx.interactive) throw new MlserveError('NOT_INTERACTIVE', `destroy removes ${loaded.config.name} (stage ${loaded.stage}) from ${id} and needs confirmation`, { hint: 'pass --yes to confirm, or --dry-run to see what would go' });
      const sure = await ctx.reporter.confirm(`Remove ${loaded.config.name} (stage ${loaded.stage}) from ${id}?`, false);
      if (!sure) throw new MlserveError('ABORTED', 'destroy cancelled; nothing was removed');
    }
    const { removed } = await provider.destroy({ dryRun });
    const verb = dryRun ? 'would remove' : 'removed';
    return { data: { provider: id, dryRun, removed }, text: removed.length ? `${verb}:\n${removed.map((r) => `  ${r}`).join('\n')}` : 'nothing to remove' };
  },
};
