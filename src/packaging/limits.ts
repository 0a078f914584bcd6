export const MB = 1024 * 1024;

/**
 * One platform limit with its source (../shared/fixtures/limits.md collects them); each provider's
 * platform description holds its own list. `effect`: `error` fails the package, `route` changes how
 * the code is uploaded, `warn` only warns.
 */
export interface LimitSpec {
  id: string;
  name: string;
  bytes: number;
  effect: 'error' | 'route' | 'warn';
  source: string;
  /** The package type it applies to; undefined: every type. */
  packageType?: 'zip' | 'image';
}

export interface LimitCheck {
  id: string;
  name: string;
  limit: number;
  actual: number;
  ok: boolean;
  /** actual / limit, 0..n. */
  ratio: number;
  effect: LimitSpec['effect'];
  source: string;
}

/** Compare measured sizes with a platform's limits for a package type. Missing measurements are skipped. */
export function checkLimits(limits: LimitSpec[], actual: Partial<Record<string, number>>, packageType: 'zip' | 'image' = 'zip'): LimitCheck[] {
  return limits
    .filter((l) => actual[l.id] !== undefined && (l.packageType === undefined || l.packageType === packageType))
    .map((l) => {
      const value = actual[l.id]!;
      return { id: l.id, name: l.name, limit: l.bytes, actual: value, ok: value <= l.bytes, ratio: value / l.bytes, effect: l.effect, source: l.source };
    });
}

/** The limit with this id and effect, if the platform has one. */
export function limitOf(limits: LimitSpec[], id: string, effect?: LimitSpec['effect']): number | undefined {
  return limits.find((l) => l.id === id && (effect === undefined || l.effect === effect))?.bytes;
}
