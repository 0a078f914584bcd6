import { join } from 'node:path';
import type { ProviderId } from '../config/schema.js';
import { MlserveError } from '../errors.js';
import { fmt } from '../../packaging/plan.js';
import { preflight, type PreflightResult } from '../../packaging/preflight.js';
import type { PackagedBundle } from '../../packaging/packaged.js';
import type { DeployResult, ProviderContext } from '../../providers/provider.js';
import { openProvider, platformOf } from '../../providers/registry.js';
import { SAMPLE_FILE } from '../sample.js';
import { packageModel, type PackageResult } from './package.js';

export interface DeployOptions extends ProviderContext {
  provider: ProviderId;
  promote?: boolean;
  /** Run the bundle before uploading it (default true). */
  preflight?: boolean;
}

export interface DeployOutcome {
  deploy: DeployResult;
  report: PackageResult;
  preflight: PreflightResult | null;
}

/** A report whose hard limits are exceeded cannot deploy: the error names each limit and its source. */
export function assertWithinLimits(report: PackageResult): void {
  const failed = report.limits.filter((l) => !l.ok && l.effect === 'error');
  if (failed.length === 0) return;
  throw new MlserveError('BUNDLE_TOO_LARGE', failed.map((l) => `${l.name}: ${fmt(l.actual)} > ${fmt(l.limit)}`).join('; '), { hint: failed[0]!.source });
}

/**
 * Run the pre-flight for a bundle headed to a platform it is uploaded to, and say what happened:
 * refused (thrown), passed, or skipped with the reason (no interpreter of the target's Python here).
 */
export async function checkBundle(bundle: PackagedBundle, o: Pick<ProviderContext, 'loaded' | 'env' | 'reporter' | 'signal'>): Promise<PreflightResult> {
  const result = await o.reporter.step('Pre-flight: loading the bundle in a clean interpreter and sending it one request', () =>
    preflight(bundle, { sampleFile: join(o.loaded.dir, SAMPLE_FILE), env: o.env, ...(o.signal ? { signal: o.signal } : {}) }),
  );
  if (!result.ran) o.reporter.warn(`pre-flight skipped: ${result.skipped}`);
  else if (result.cached) o.reporter.debug('pre-flight: this bundle already passed');
  else o.reporter.info(`Pre-flight passed in ${((result.ms ?? 0) / 1000).toFixed(1)} s (${result.request ? `${result.request} request answered ${result.status}` : 'model loaded; no request: its input size is not declared, add mlserve.sample.json'})`);
  return result;
}

/**
 * `mlserve deploy`: package for the provider, check the limits, pre-flight the exact bundle when it
 * is about to be uploaded, then let the provider publish a version and point the stage at it.
 */
export async function deployModel(o: DeployOptions): Promise<DeployOutcome> {
  if (typeof o.flags?.target === 'string') {
    throw new MlserveError('USAGE', `--target ${o.flags.target} runs another platform's bundle locally; deploy publishes this provider's own`, {
      hint: `run \`mlserve serve --target ${o.flags.target}\` or \`mlserve invoke --provider local --target ${o.flags.target}\`, which package and publish it locally themselves`,
    });
  }
  const { report, bundle } = await packageModel({ loaded: o.loaded, provider: o.provider, env: o.env, reporter: o.reporter, ...(o.signal ? { signal: o.signal } : {}) });
  assertWithinLimits(report);
  if (!bundle) throw new MlserveError('INTERNAL', 'packaging wrote no bundle');
  const uploaded = platformOf(o.provider).uploadRoute(bundle.zippedBytes, bundle.packageType).id !== 'none';
  const checked = uploaded && o.preflight !== false ? await checkBundle(bundle, o) : null;
  const { provider: id, promote, preflight: _preflight, ...ctx } = o;
  const provider = await openProvider(id, ctx);
  const deploy = await provider.deploy(bundle, { promote: promote !== false });
  return { deploy, report, preflight: checked };
}
