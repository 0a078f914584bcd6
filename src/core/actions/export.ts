import { isAbsolute, join, relative, sep } from 'node:path';
import type { ExportFormat } from '../config/ids.js';
import type { ProviderId } from '../config/schema.js';
import { MlserveError } from '../errors.js';
import type { PreflightResult } from '../../packaging/preflight.js';
import type { ExportResult, ProviderContext } from '../../providers/provider.js';
import { openProvider, platformOf } from '../../providers/registry.js';
import { assertWithinLimits, checkBundle } from './deploy.js';
import { packageModel, type PackageResult } from './package.js';

export interface ExportModelOptions extends ProviderContext {
  provider: ProviderId;
  format: ExportFormat;
  /** Output directory (absolute); default `infrastructure/<provider>/<format>/<stage>` beside the config. */
  out?: string;
  upload: boolean;
  preflight?: boolean;
}

export interface ExportOutcome {
  export: ExportResult;
  out: string;
  report: PackageResult;
  preflight: PreflightResult | null;
}

/** The directory an export writes to: `--out`, else `infrastructure/<provider>/<format>/<stage>` beside the config. */
function exportDir(o: Pick<ExportModelOptions, 'out' | 'provider' | 'format' | 'loaded'>): string {
  return o.out ?? join(o.loaded.dir, 'infrastructure', o.provider, o.format, o.loaded.stage);
}

/**
 * `mlserve export`: package for the provider as deploy does (limits, pre-flight), then let the
 * provider write the deployment as infrastructure as code. The format is checked before anything
 * is built.
 */
export async function exportModel(o: ExportModelOptions): Promise<ExportOutcome> {
  const formats = platformOf(o.provider).exportFormats;
  if (!formats.includes(o.format)) {
    throw new MlserveError('USAGE', `--format ${o.format} is not available for the ${o.provider} provider`, {
      hint: formats.length ? `use one of: ${formats.join(', ')}` : `the ${o.provider} provider has no infrastructure-as-code export yet (the README's status table says what exists)`,
    });
  }
  const { report, bundle } = await packageModel({ loaded: o.loaded, provider: o.provider, env: o.env, reporter: o.reporter, ...(o.signal ? { signal: o.signal } : {}) });
  assertWithinLimits(report);
  if (!bundle) throw new MlserveError('INTERNAL', 'packaging wrote no bundle');
  const checked = o.preflight !== false ? await checkBundle(bundle, o) : null;
  const { provider: id, format, out: _out, upload, preflight: _preflight, ...ctx } = o;
  const provider = await openProvider(id, ctx);
  if (!provider.export) throw new MlserveError('INTERNAL', `the ${id} platform lists export formats but its provider writes none`);
  const out = exportDir(o);
  const rel = relative(o.loaded.modelDir, out);
  if (!isAbsolute(rel) && rel.split(sep)[0] !== '..' && rel.split(sep)[0] !== 'infrastructure') {
    o.reporter.warn(`${out} is inside the model directory: add ${rel.split(sep).join('/') || '.'}/ to .mlserveignore, or the next package bundles the export (infrastructure/ is never bundled)`);
  }
  return { export: await provider.export(bundle, { format, out, upload }), out, report, preflight: checked };
}
