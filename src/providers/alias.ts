import { MlserveError } from '../core/errors.js';
import type { AliasState, VersionInfo } from './provider.js';

/**
 * Where a stage points, as every provider stores it: the stable version, an optional canary with
 * its share of traffic, and the earlier stable versions (most recent last) that rollback returns to.
 * These functions are the one state machine behind deploy, promote and rollback; pure, so providers
 * only read and write the record.
 */
export interface AliasRecord {
  version: string | null;
  canary?: { version: string; weight: number };
  history: string[];
}

/** All traffic to `version`, remembering the previous stable version for rollback. */
export function switchTo(alias: AliasRecord, version: string): AliasRecord {
  const history = alias.version !== null && alias.version !== version ? [...alias.history, alias.version] : alias.history;
  return { version, history };
}

/** `promote <version> [--weight n]` and `promote --finish`. */
export function promote(alias: AliasRecord, stage: string, request: { version?: string; weight?: number; finish?: boolean }): AliasRecord {
  if (request.finish) {
    if (!alias.canary) throw new MlserveError('USAGE', `no canary is running on stage ${stage}`, { hint: 'start one with `mlserve promote <version> --weight 10`' });
    return switchTo(alias, alias.canary.version);
  }
  const version = request.version!;
  if (request.weight === undefined || request.weight >= 100) return switchTo(alias, version);
  if (alias.version === null || alias.version === version) {
    throw new MlserveError('USAGE', `version ${version} is already the stable version of ${stage}`, { hint: 'a canary needs another version: deploy a new one with --no-promote' });
  }
  return { ...alias, canary: { version, weight: request.weight / 100 } };
}

/** End a canary, else go back to the previous stable version. */
export function rollback(alias: AliasRecord, stage: string): AliasRecord {
  if (alias.canary) return { version: alias.version, history: alias.history };
  const previous = alias.history.at(-1);
  if (previous === undefined) throw new MlserveError('USAGE', `stage ${stage} has no earlier version to roll back to`, { hint: 'run `mlserve versions`, then `mlserve promote <version>`' });
  return { version: previous, history: alias.history.slice(0, -1) };
}

/** Forget pruned versions so rollback never points at one. */
export function forget(alias: AliasRecord, deleted: string[]): AliasRecord {
  return { ...alias, history: alias.history.filter((v) => !deleted.includes(v)) };
}

/** The share of the stage's traffic each version gets (for `versions`). */
export function aliasesOf(alias: AliasRecord, stage: string, version: string): VersionInfo['aliases'] {
  const weight = weightsOf(alias).get(version);
  return weight === undefined ? [] : [{ name: stage, weight }];
}

/** Each version the alias routes to, with its share of the traffic (1 = all). */
export function weightsOf(alias: Pick<AliasRecord, 'version' | 'canary'>): Map<string, number> {
  const weights = new Map<string, number>();
  if (alias.version !== null) weights.set(alias.version, 1 - (alias.canary?.weight ?? 0));
  if (alias.canary) weights.set(alias.canary.version, alias.canary.weight);
  return weights;
}

export function toState(stage: string, alias: AliasRecord): AliasState {
  const state: AliasState = { alias: stage, version: alias.version };
  if (alias.canary) state.canary = { ...alias.canary };
  return state;
}

/** Which versions `prune` may delete: beyond the newest `keep`, and not pointed at by the alias. */
export function prunable(versions: string[], keep: number, alias: AliasState): string[] {
  const protectedVersions = new Set([alias.version, alias.canary?.version].filter((v): v is string => !!v));
  const sorted = [...versions].sort((a, b) => Number(a) - Number(b));
  return sorted.slice(0, Math.max(0, sorted.length - keep)).filter((v) => !protectedVersions.has(v));
}
