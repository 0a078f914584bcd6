import type { ProviderId } from './config/schema.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

/** One line of `mlserve doctor`. `detail` never holds a secret: sources are named, values are not. */
export interface Check {
  name: string;
  /** Which provider needs this check to pass ('all': every provider). */
  provider: ProviderId | 'all';
  status: CheckStatus;
  detail: string;
}
