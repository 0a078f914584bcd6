/**
 * mlserve as a library: the same actions the CLI runs, returning values instead of printing.
 *
 *     import { deploy, invoke } from 'mlserve';
 *     const { deploy: result } = await deploy({ cwd: 'models/iris' });
 *     const answer = await invoke({ cwd: 'models/iris', data: { instances: [[5.1, 3.5, 1.4, 0.2]] } });
 *
 * Progress and warnings go to `reporter` (default: a RecordingReporter you can read afterwards).
 */
import { deployModel, type DeployOutcome } from './core/actions/deploy.js';
import { checkBundle } from './core/actions/deploy.js';
import { invokeModel } from './core/actions/invoke-model.js';
import { packageModel as packageAction, type PackageOutcome } from './core/actions/package.js';
import { loadConfig, type LoadedConfig } from './core/config/load.js';
import type { ProviderId } from './core/config/schema.js';
import { RecordingReporter, type Reporter } from './core/reporter.js';
import type { PreflightResult } from './packaging/preflight.js';
import type { InvokeRequest, InvokeResult, Provider } from './providers/provider.js';
import { openProvider } from './providers/registry.js';

export { MlserveError, exitCodeFor, type ErrorCode } from './core/errors.js';
export { RecordingReporter, type Reporter } from './core/reporter.js';
export type { Config, ProviderId } from './core/config/schema.js';
export type { DeployOutcome } from './core/actions/deploy.js';
export type { PackageOutcome, PackageResult } from './core/actions/package.js';
export type { PackagedBundle } from './packaging/packaged.js';
export type { PreflightResult } from './packaging/preflight.js';
export type { AliasState, DeployResult, InvokeRequest, InvokeResult, Provider, VersionInfo } from './providers/provider.js';

/** Where the project is and how to run: the same choices as the CLI's global options. */
export interface ApiOptions {
  /** Directory to look for mlserve.config.yaml from (default: process.cwd()). */
  cwd?: string;
  /** An explicit config file (like --config). */
  config?: string;
  stage?: string;
  provider?: ProviderId;
  /** Environment (default: process.env): credentials, MLSERVE_PYTHON, AWS_ENDPOINT_URL… */
  env?: Record<string, string | undefined>;
  reporter?: Reporter;
  /** Provider flags, as on the command line: { region, profile, target }. */
  flags?: Record<string, unknown>;
  signal?: AbortSignal;
}

async function resolve(o: ApiOptions): Promise<{ loaded: LoadedConfig; env: Record<string, string | undefined>; reporter: Reporter; provider: ProviderId }> {
  const env = o.env ?? process.env;
  const loaded = await loadConfig({ cwd: o.cwd ?? process.cwd(), env, ...(o.config ? { configPath: o.config } : {}), ...(o.stage ? { stage: o.stage } : {}) });
  return { loaded, env, reporter: o.reporter ?? new RecordingReporter(), provider: o.provider ?? loaded.config.provider };
}

const optional = (o: ApiOptions) => ({ ...(o.flags ? { flags: o.flags } : {}), ...(o.signal ? { signal: o.signal } : {}) });

/** `mlserve package`: build the bundle for the provider; with `check`, run the pre-flight on it. */
export async function packageModel(o: ApiOptions & { dryRun?: boolean; check?: boolean } = {}): Promise<PackageOutcome & { preflight: PreflightResult | null }> {
  const r = await resolve(o);
  const outcome = await packageAction({ loaded: r.loaded, provider: r.provider, env: r.env, reporter: r.reporter, dryRun: o.dryRun === true, ...(o.signal ? { signal: o.signal } : {}) });
  const preflight = o.check && outcome.bundle ? await checkBundle(outcome.bundle, { ...r, ...optional(o) }) : null;
  return { ...outcome, preflight };
}

/** `mlserve deploy`: package, pre-flight, publish a version and point the stage at it. */
export async function deploy(o: ApiOptions & { promote?: boolean; preflight?: boolean } = {}): Promise<DeployOutcome> {
  const r = await resolve(o);
  return deployModel({ ...r, ...optional(o), ...(o.promote !== undefined ? { promote: o.promote } : {}), ...(o.preflight !== undefined ? { preflight: o.preflight } : {}) });
}

/** `mlserve invoke`: an HTTP request (data, path, method) or a raw event to the stage or a version. */
export async function invoke(o: ApiOptions & { data?: unknown; path?: string; method?: string; event?: unknown; version?: string } = {}): Promise<InvokeResult> {
  const r = await resolve(o);
  const qualifier = o.version ? { qualifier: o.version } : {};
  const request: InvokeRequest =
    o.event !== undefined
      ? { kind: 'event', event: o.event, ...qualifier }
      : { kind: 'http', method: o.method ?? (o.data === undefined ? 'GET' : 'POST'), path: o.path ?? '/', ...(o.data !== undefined ? { body: JSON.stringify(o.data) } : {}), ...qualifier };
  return invokeModel({ ...r, ...optional(o), request });
}

/** The provider itself, for versions, promote, rollback, prune, logs and destroy. */
export async function provider(o: ApiOptions = {}): Promise<Provider> {
  const r = await resolve(o);
  return openProvider(r.provider, { loaded: r.loaded, env: r.env, reporter: r.reporter, ...optional(o) });
}
