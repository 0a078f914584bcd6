import { MlserveError } from '../errors.js';
import type { Reporter } from '../reporter.js';
import type { AliasState, Provider, StatusRow } from '../../providers/provider.js';

export interface CanaryOptions {
  version: string;
  /** Percent of traffic at each step, ascending; 100 ends with every request on the version. */
  steps: number[];
  /** How long each step is watched before the next. */
  watchMs: number;
  /** How often the figures are read. */
  intervalMs: number;
  /** Limits (monitoring.errorRate as 0–1, monitoring.p99 in ms). */
  errorRate: number;
  p99: number;
  /** Requests the version must have served before its figures are judged. */
  minRequests: number;
  reporter: Reporter;
  signal?: AbortSignal;
}

export interface CanaryOutcome {
  outcome: 'promoted' | 'rolled-back';
  reason?: string;
  alias: AliasState;
  /** What each step saw when it was judged, in order. */
  watched: { weight: number; requests: number; errors: number; p99: number | null }[];
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/**
 * Why the canary must go back, or null: compared with the version serving the rest of the traffic,
 * not only with the limits. Errors: over the limit and over twice the current version's rate. p99:
 * over the target and over 1.5 times the current version's.
 */
export function breach(canary: StatusRow | undefined, current: StatusRow | undefined, o: Pick<CanaryOptions, 'errorRate' | 'p99' | 'minRequests'>): string | null {
  if (!canary || canary.invocations < o.minRequests) return null;
  const baseline = current && current.invocations >= o.minRequests ? current : undefined;
  if (canary.errorRate > o.errorRate && canary.errorRate > 2 * (baseline?.errorRate ?? 0)) {
    return `version ${canary.version}'s error rate ${pct(canary.errorRate)} (${canary.errors} of ${canary.invocations}) is over monitoring.errorRate ${pct(o.errorRate)}${baseline ? ` and twice version ${baseline.version}'s ${pct(baseline.errorRate)}` : ''}`;
  }
  if (canary.p99 !== null && canary.p99 > o.p99 && (baseline?.p99 === null || baseline?.p99 === undefined || canary.p99 > 1.5 * baseline.p99)) {
    return `version ${canary.version}'s p99 ${Math.round(canary.p99)} ms is over monitoring.p99 ${o.p99} ms${baseline?.p99 !== null && baseline?.p99 !== undefined ? ` and 1.5 times version ${baseline.version}'s ${Math.round(baseline.p99)} ms` : ''}`;
  }
  return null;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}

/** The first step still to do: a canary already running for the version (an interrupted watch) resumes at its weight. */
function firstStep(alias: AliasState, o: CanaryOptions): number {
  if (alias.version === o.version && !alias.canary) return o.steps.length; // already everywhere
  if (alias.canary?.version !== o.version) return 0;
  const at = o.steps.findIndex((s) => s >= Math.round(alias.canary!.weight * 100));
  return at === -1 ? o.steps.length - 1 : at;
}

/** Watch one step until its time is up (null) or the version breaches (the reason). */
async function watchStep(provider: Provider, o: CanaryOptions, weight: number, watched: CanaryOutcome['watched']): Promise<string | null> {
  const since = Date.now();
  let last: StatusRow | undefined;
  while (Date.now() - since < o.watchMs) {
    await sleep(Math.min(o.intervalMs, o.watchMs - (Date.now() - since)), o.signal);
    if (o.signal?.aborted) throw new MlserveError('INTERRUPTED', `stopped watching: version ${o.version} keeps ${weight}% of the traffic`, { hint: `run \`mlserve promote ${o.version} --watch …\` again to resume, or \`mlserve rollback\`` });
    const report = await provider.status!({ since, until: Date.now() });
    last = report.rows.find((r) => r.version === o.version);
    const reason = breach(last, report.rows.find((r) => r.version !== o.version && r.weight > 0), o);
    if (reason) {
      watched.push({ weight, requests: last!.invocations, errors: last!.errors, p99: last!.p99 });
      return reason;
    }
  }
  watched.push({ weight, requests: last?.invocations ?? 0, errors: last?.errors ?? 0, p99: last?.p99 ?? null });
  o.reporter.info(`${weight}%: ${last?.invocations ?? 0} requests to version ${o.version}, ${last?.errors ?? 0} errors, p99 ${last?.p99 === null || last?.p99 === undefined ? '-' : `${Math.round(last.p99)} ms`}: healthy`);
  return null;
}

/**
 * `promote <version> --watch`: shift the stage's traffic to the version step by step, watching each
 * step's figures (the provider's `status`) against the current version's and the limits, and roll
 * back by itself at the first breach. The state is the alias: run again, it resumes.
 */
export async function watchCanary(provider: Provider, o: CanaryOptions): Promise<CanaryOutcome> {
  if (!provider.status) throw new MlserveError('USAGE', `promote --watch needs \`mlserve status\`, which the ${provider.id} provider does not have yet`, { hint: 'promote with --weight and watch it yourself' });
  const watched: CanaryOutcome['watched'] = [];
  let alias = (await provider.versions()).alias;
  for (const weight of o.steps.slice(firstStep(alias, o))) {
    alias = await provider.promote(o.version, weight >= 100 ? {} : { weight });
    o.reporter.info(`Version ${o.version} now serves ${weight}% of stage ${alias.alias}; watching for ${Math.round(o.watchMs / 1000)} s`);
    const reason = await watchStep(provider, o, weight, watched);
    if (reason) {
      alias = await provider.rollback();
      o.reporter.warn(`rolled back: ${reason}`);
      return { outcome: 'rolled-back', reason, alias, watched };
    }
  }
  return { outcome: 'promoted', alias, watched };
}
