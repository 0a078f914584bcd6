import { relative } from 'node:path';
import type { PackageResult } from '../../core/actions/package.js';
import { loadConfig } from '../../core/config/load.js';
import { PROVIDERS, type ProviderId } from '../../core/config/schema.js';
import { MlserveError } from '../../core/errors.js';
import { fmt } from '../../packaging/plan.js';
import type { CommandSpec } from '../context.js';
import type { Style } from '../style.js';
import { table } from '../style.js';
import { configLoadOptions } from './config.js';

export const packageCommand: CommandSpec = {
  name: 'package',
  summary: 'build the bundle for the target and check it against the platform limits',
  description:
    'Render the handler, install the requirements for the target platform (its Python, CPU architecture and glibc, never this machine’s), slim them, check every native library’s architecture, move oversized model files to object storage when the bundle would not fit, write a deterministic zip and its manifest, and report size against each limit.',
  options: [
    { flags: '--provider <provider>', description: 'target provider (default: the config’s)', choices: PROVIDERS },
    { flags: '--dry-run', description: 'plan and report, without writing the zip' },
  ],
  examples: [
    { command: 'mlserve package', description: 'build for the config’s provider' },
    { command: 'mlserve package --provider aws --json', description: 'the report as one JSON document' },
    { command: 'mlserve package --dry-run', description: 'sizes and offload plan only' },
  ],
  async run(ctx, _args, raw) {
    const loaded = await loadConfig({ cwd: ctx.io.cwd, env: ctx.io.env, ...configLoadOptions(ctx.options) });
    // Loaded on use: packaging pulls in archiver and execa, which --help and --version never need.
    const { packageBundle } = await import('../../core/actions/package.js');
    const result = await packageBundle({
      loaded,
      ...(raw.provider ? { provider: raw.provider as ProviderId } : {}),
      dryRun: raw.dryRun === true,
      env: ctx.io.env,
      reporter: ctx.reporter,
      ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
    });
    for (const w of result.warnings) ctx.reporter.warn(w);
    const failed = result.limits.filter((l) => !l.ok && l.effect === 'error');
    if (failed.length > 0) {
      throw new MlserveError('BUNDLE_TOO_LARGE', failed.map((l) => `${l.name}: ${fmt(l.actual)} > ${fmt(l.limit)}`).join('; '), { hint: failed[0]!.source });
    }
    return { data: { ...result }, text: renderReport(result, ctx.io.cwd, ctx.style) };
  },
};

function bar(ratio: number, style: Style): string {
  const width = 20;
  const filled = Math.min(width, Math.round(ratio * width));
  const text = `${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${Math.round(ratio * 100)}%`;
  return ratio > 1 || ratio >= 0.9 ? style.red(text) : ratio >= 0.7 ? style.yellow(text) : style.green(text);
}

/** The human report: bundle, target, upload route, limits with headroom bars, biggest contributors. */
export function renderReport(r: PackageResult, cwd: string, style: Style): string {
  const lines: string[] = [];
  const b = r.bundle;
  lines.push(`${style.bold('Bundle')}   ${b.path ? relative(cwd, b.path) || b.path : '(dry run: not written)'}${b.reused ? style.dim('  (unchanged, reused)') : ''}`);
  if (b.sha256) lines.push(`         sha256 ${b.sha256}`);
  lines.push(`         ${b.files} files · ${b.zippedBytes !== null ? `zipped ${fmt(b.zippedBytes)} · ` : ''}unzipped ${fmt(b.unzippedBytes)} · slimming saved ${fmt(r.dependencies.slimmedBytes)}`);
  lines.push(`${style.bold('Target')}   ${r.target.description}`);
  const upload = { direct: 'direct (≤ 50 MB zipped)', s3: 'through S3 (over 50 MB zipped)', local: 'local store' }[r.upload];
  lines.push(`${style.bold('Upload')}   ${b.zippedBytes === null && r.upload !== 'local' ? 'decided when the zip is written' : upload}`);
  if (r.limits.length > 0) {
    lines.push('', table([
      ['limit', 'actual', 'max', 'used', 'headroom'],
      ...r.limits.map((l) => [l.name, fmt(l.actual), fmt(l.limit), bar(l.ratio, style), l.ok ? fmt(l.limit - l.actual) : style.red(`over by ${fmt(l.actual - l.limit)}`)]),
    ], style));
  }
  if (r.offload.length > 0) {
    lines.push('', style.bold('Offloaded to object storage (fetched and SHA-256 verified at cold start):'));
    for (const o of r.offload) lines.push(`  ${o.path}  ${fmt(o.bytes)}  → ${o.key}`);
    lines.push(`  ephemeral storage: ${r.ephemeralStorageMb} MB`);
  }
  if (r.contributors.dependencies.length) lines.push('', `${style.bold('Biggest dependencies:')} ${r.contributors.dependencies.map((d) => `${d.name} ${fmt(d.bytes)}`).join(', ')}`);
  if (r.contributors.model.length) lines.push(`${style.bold('Model files:')} ${r.contributors.model.map((d) => `${d.name} ${fmt(d.bytes)}`).join(', ')}`);
  if (r.excluded.length) lines.push(`${style.bold('Excluded:')} ${r.excluded.join(', ')}`);
  return lines.join('\n');
}
