import { relative } from 'node:path';
import type { PackageResult } from '../../core/actions/package.js';
import { PROVIDERS, type ProviderId } from '../../core/config/ids.js';
import { loadFor } from '../provider-context.js';
import { MlserveError } from '../../core/errors.js';
import { fmt } from '../../packaging/plan.js';
import type { CommandBody } from '../context.js';
import type { Style } from '../style.js';
import { table } from '../style.js';

export const packageCommand: CommandBody = {
  description:
    'Render the handler, install the requirements for the target platform (its Python, CPU architecture and glibc, never this machine’s), slim them, check every native library’s architecture, move oversized model files to object storage when the bundle would not fit, write a deterministic zip (or, for runtime.package image, a container image built without Docker) and its manifest, and report size against each limit.',
  options: [
    { flags: '--provider <provider>', description: 'target provider (default: the config’s)', choices: PROVIDERS },
    { flags: '--dry-run', description: 'plan and report, without writing the zip' },
    { flags: '--check', description: 'then run the bundle in a clean interpreter with one request (the pre-flight deploy runs)' },
  ],
  examples: [
    { command: 'mlserve package', description: 'build for the config’s provider' },
    { command: 'mlserve package --provider aws --check', description: 'build for Lambda and prove it loads and answers' },
    { command: 'mlserve package --dry-run --json', description: 'sizes and offload plan only, as JSON' },
  ],
  async run(ctx, _args, raw) {
    if (raw.dryRun !== true && raw.check !== true) {
      // Nothing changed since the last package: answer from its stamp, without parsing the config.
      const { reusedPackage } = await import('../../core/actions/package-stamp.js');
      const { config: configPath, stage } = ctx.options;
      const reused = await reusedPackage({ cwd: ctx.io.cwd, configPath, stage, provider: raw.provider as string | undefined, env: ctx.io.env });
      if (reused) {
        ctx.reporter.debug('nothing changed since the last package (its stamp): reusing the bundle');
        for (const w of reused.report.warnings) ctx.reporter.warn(w);
        return { data: { ...reused.report, preflight: null }, text: renderReport(reused.report, ctx.io.cwd, ctx.style) };
      }
    }
    const loaded = await loadFor(ctx);
    // Loaded on use: packaging pulls in execa and the zip code, which --help and --version never need.
    const [{ packageModel }, { assertWithinLimits, checkBundle }] = await Promise.all([import('../../core/actions/package.js'), import('../../core/actions/deploy.js')]);
    const common = { loaded, env: ctx.io.env, reporter: ctx.reporter, ...(ctx.io.signal ? { signal: ctx.io.signal } : {}) };
    const { report, bundle } = await packageModel({ ...common, ...(raw.provider ? { provider: raw.provider as ProviderId } : {}), dryRun: raw.dryRun === true });
    for (const w of report.warnings) ctx.reporter.warn(w);
    assertWithinLimits(report);
    if (raw.check === true && raw.dryRun === true) throw new MlserveError('USAGE', '--check runs the written bundle; it cannot go with --dry-run', { hint: 'drop one of them' });
    const preflight = raw.check === true && bundle ? await checkBundle(bundle, common) : null;
    return { data: { ...report, preflight }, text: renderReport(report, ctx.io.cwd, ctx.style) };
  },
};

function bar(ratio: number, style: Style): string {
  const width = 20;
  const filled = Math.min(width, Math.round(ratio * width));
  const text = `${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${Math.round(ratio * 100)}%`;
  return ratio > 1 || ratio >= 0.9 ? style.red(text) : ratio >= 0.7 ? style.yellow(text) : style.green(text);
}

/** An image's digest, its pinned base, and mlserve's layers (size pushed, size unpacked, reused or built). */
function imageLines(image: NonNullable<PackageResult['image']>, style: Style): string[] {
  return [
    `${style.bold('Image')}    ${image.digest}`,
    `         on ${image.base}${image.requested !== image.base ? style.dim(` (${image.requested})`) : ''} · ${fmt(image.uncompressedBytes)} uncompressed`,
    ...image.layers.map((l) => `         layer ${l.name.padEnd(12)} ${fmt(l.size).padStart(9)} gzip · ${fmt(l.uncompressedSize).padStart(9)} · ${l.files} files${l.reused ? style.dim(' (unchanged)') : ''}`),
  ];
}

/** The human report: bundle, target, upload route, limits with headroom bars, biggest contributors. */
export function renderReport(r: PackageResult, cwd: string, style: Style): string {
  const lines: string[] = [];
  const b = r.bundle;
  lines.push(`${style.bold('Bundle')}   ${b.path ? relative(cwd, b.path) || b.path : '(dry run: not written)'}${b.reused ? style.dim('  (unchanged, reused)') : ''}`);
  if (b.sha256) lines.push(`         sha256 ${b.sha256}`);
  lines.push(`         ${b.files} files · ${b.zippedBytes !== null ? `zipped ${fmt(b.zippedBytes)} · ` : ''}unzipped ${fmt(b.unzippedBytes)} · slimming saved ${fmt(r.dependencies.slimmedBytes)}`);
  if (r.image) lines.push(...imageLines(r.image, style));
  if (r.packageReason) lines.push(`         ${style.dim(`an image: ${r.packageReason}`)}`);
  lines.push(`${style.bold('Target')}   ${r.target.description}`);
  lines.push(`${style.bold('Upload')}   ${r.uploadDescription}`);
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
