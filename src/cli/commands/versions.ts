import { MlserveError } from '../../core/errors.js';
import type { AliasState } from '../../providers/provider.js';
import type { CommandBody, CommandContext } from '../context.js';
import { parseDuration } from './logs.js';
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
    { flags: '--watch <duration>', description: 'watch each step this long (30s, 10m) against the current version and the monitoring limits; roll back by itself at the first breach' },
    { flags: '--steps <percents>', description: 'with --watch: the weights to step through, e.g. 10,50,100 (default: --weight)' },
    { flags: '--interval <duration>', description: 'with --watch: how often to read the figures (default 30s)' },
  ],
  examples: [
    { command: 'mlserve promote 1', description: 'all traffic to version 1' },
    { command: 'mlserve promote 2 --weight 10', description: '10% to version 2' },
    { command: 'mlserve promote --finish', description: 'then all of it' },
    { command: 'mlserve promote 2 --steps 10,50,100 --watch 10m', description: 'a canary that steps up, or rolls itself back' },
  ],
  async run(ctx, args, raw) {
    const weight = raw.weight === undefined ? undefined : Number(raw.weight);
    if (weight !== undefined && !(Number.isInteger(weight) && weight >= 1 && weight <= 100)) {
      throw new MlserveError('USAGE', `--weight ${String(raw.weight)}: expected a whole percent from 1 to 100`, { hint: 'e.g. --weight 10' });
    }
    if (!args[0] && raw.finish !== true) throw new MlserveError('USAGE', 'promote needs a version (or --finish)', { hint: 'mlserve promote <version> [--weight <percent>]' });
    if (typeof raw.watch === 'string') return watched(ctx, args[0], weight, raw);
    if (raw.steps !== undefined || raw.interval !== undefined) throw new MlserveError('USAGE', '--steps and --interval go with --watch', { hint: 'mlserve promote 2 --steps 10,100 --watch 10m' });
    const { provider, id } = await openProvider(ctx, raw);
    const alias = await provider.promote(args[0], { ...(weight !== undefined ? { weight } : {}), finish: raw.finish === true });
    return { data: { provider: id, alias }, text: describeAlias(alias) };
  },
};

/** The weights --steps lists (ascending whole percents, 1–100), else --weight's alone. */
function stepsOf(raw: Record<string, unknown>, weight: number | undefined): number[] {
  if (typeof raw.steps === 'string' && weight !== undefined) throw new MlserveError('USAGE', '--weight and --steps both say where to start: give one', { hint: 'mlserve promote 2 --steps 10,50,100 --watch 10m' });
  if (typeof raw.steps !== 'string') {
    if (weight === undefined) throw new MlserveError('USAGE', '--watch needs --weight or --steps', { hint: 'mlserve promote 2 --weight 10 --watch 10m' });
    return [weight];
  }
  const steps = raw.steps.split(',').map((s) => Number(s.trim()));
  if (!steps.every((s, i) => Number.isInteger(s) && s >= 1 && s <= 100 && (i === 0 || s > steps[i - 1]!))) {
    throw new MlserveError('USAGE', `--steps ${raw.steps}: expected ascending whole percents from 1 to 100`, { hint: 'e.g. --steps 10,50,100' });
  }
  return steps;
}

/** `promote <version> --watch`: the self-protecting canary. */
async function watched(ctx: CommandContext, version: string | undefined, weight: number | undefined, raw: Record<string, unknown>) {
  if (!version) throw new MlserveError('USAGE', '--watch needs the version to promote', { hint: 'mlserve promote 2 --weight 10 --watch 10m' });
  const steps = stepsOf(raw, weight);
  const watchMs = parseDuration(String(raw.watch), '--watch');
  const intervalMs = typeof raw.interval === 'string' ? parseDuration(raw.interval, '--interval') : 30_000;
  const { provider, id, loaded } = await openProvider(ctx, raw);
  const { watchCanary } = await import('../../core/actions/canary.js');
  const { monitoring } = loaded.config;
  const result = await watchCanary(provider, {
    version, steps, watchMs, intervalMs: Math.min(intervalMs, watchMs), errorRate: monitoring.errorRate / 100, p99: monitoring.p99, minRequests: 5, reporter: ctx.reporter,
    ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
  });
  if (result.outcome === 'rolled-back') {
    throw new MlserveError('CANARY_ROLLED_BACK', `rolled back: ${result.reason}`, { hint: `the stage is on version ${result.alias.version} again; look at \`mlserve logs\` for version ${version}` });
  }
  return { data: { provider: id, ...result }, text: describeAlias(result.alias) };
}

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
