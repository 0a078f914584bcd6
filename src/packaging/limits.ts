import type { ProviderId } from '../core/config/schema.js';

export const MB = 1024 * 1024;

/**
 * Platform limits, one table, each with its source (../shared/fixtures/limits.md collects them).
 * `effect`: `error` fails the package, `route` changes how the code is uploaded, `warn` only warns.
 */
export interface LimitSpec {
  id: string;
  name: string;
  bytes: number;
  effect: 'error' | 'route' | 'warn';
  source: string;
}

export const LIMITS: Record<ProviderId, LimitSpec[]> = {
  aws: [
    {
      id: 'zipped',
      name: 'zipped, direct upload',
      bytes: 50 * MB,
      effect: 'route',
      source: 'https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html (50 MB zipped, for direct upload; larger code goes through S3)',
    },
    {
      id: 'unzipped',
      name: 'unzipped, incl. layers',
      bytes: 262_144_000,
      effect: 'error',
      source: 'https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html (250 MB unzipped, including layers)',
    },
    {
      id: 'tmp',
      name: '/tmp (ephemeral storage)',
      bytes: 10_240 * MB,
      effect: 'error',
      source: 'https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-lambda-function-ephemeralstorage.html (512–10,240 MB)',
    },
    {
      id: 'image',
      name: 'container image',
      bytes: 10 * 1024 * MB,
      effect: 'warn',
      source: 'https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html (10 GB container image code package)',
    },
  ],
  azure: [
    {
      id: 'unzipped',
      name: 'app content (Consumption)',
      bytes: 1024 * MB,
      effect: 'warn',
      source: 'https://learn.microsoft.com/en-us/azure/azure-functions/functions-scale#service-limits (Consumption app content storage; 1 GB in the 2019 table, 5 GB in 2023: unverified, no official package limit)',
    },
  ],
  local: [],
};

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

/** Compare measured sizes with the provider's limits. Missing measurements are skipped. */
export function checkLimits(provider: ProviderId, actual: Partial<Record<string, number>>): LimitCheck[] {
  return LIMITS[provider]
    .filter((l) => actual[l.id] !== undefined)
    .map((l) => {
      const value = actual[l.id]!;
      return { id: l.id, name: l.name, limit: l.bytes, actual: value, ok: value <= l.bytes, ratio: value / l.bytes, effect: l.effect, source: l.source };
    });
}
