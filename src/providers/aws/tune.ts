import {
  DeleteFunctionCommand,
  GetFunctionConfigurationCommand,
  InvokeCommand,
  PublishVersionCommand,
  UpdateFunctionConfigurationCommand,
  waitUntilFunctionUpdatedV2,
  type LambdaClient,
} from '@aws-sdk/client-lambda';
import { MlserveError } from '../../core/errors.js';
import { functionUrlEvent } from '../http-event.js';
import type { TuneSample } from '../provider.js';
import { withRetry, type RetryOptions } from './retry.js';

const WAIT = { maxWaitTime: 600, minDelay: 1, maxDelay: 5 };

/** What one invocation's REPORT line says (Lambda's own accounting). */
export function parseReport(log: string): { billedMs: number; durationMs: number; maxMemoryMb: number; initMs: number; errorType?: string } | undefined {
  const line = log.split('\n').find((l) => l.startsWith('REPORT '));
  if (!line) return undefined;
  const num = (label: string) => Number(new RegExp(`${label}: ([\\d.]+)`).exec(line)?.[1] ?? 0);
  const errorType = /Error Type: (\S+)/.exec(line)?.[1];
  return { billedMs: num('Billed Duration'), durationMs: num('Duration'), maxMemoryMb: num('Max Memory Used'), initMs: num('Init Duration'), ...(errorType ? { errorType } : {}) };
}

async function setMemory(lambda: LambdaClient, name: string, memoryMb: number, retry: RetryOptions): Promise<void> {
  await withRetry(() => lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: name, MemorySize: memoryMb })), retry);
  await waitUntilFunctionUpdatedV2({ client: lambda, ...WAIT }, { FunctionName: name });
}

/**
 * The stage's version at `memoryMb` on Lambda: a temporary version of the function at that memory
 * (its code must be the stage's), invoked once cold and `requests` times warm with its log tail,
 * each REPORT line read; then the version is deleted and the function's memory put back.
 */
export async function measureAws(lambda: LambdaClient, o: { name: string; aliasVersion: string; memoryMb: number; requests: number; request: { method: string; path: string; body: string }; retry: RetryOptions }): Promise<TuneSample> {
  const [latest, stage] = await Promise.all([lambda.send(new GetFunctionConfigurationCommand({ FunctionName: o.name })), lambda.send(new GetFunctionConfigurationCommand({ FunctionName: o.name, Qualifier: o.aliasVersion }))]);
  if (latest.CodeSha256 !== stage.CodeSha256) {
    throw new MlserveError('USAGE', `the function's latest code is not version ${o.aliasVersion}'s, which the stage serves: tune measures the stage's code`, { hint: `promote the latest version, or deploy version ${o.aliasVersion}'s bundle again, then tune` });
  }
  const original = latest.MemorySize!;
  const method = `temporary versions on Lambda, REPORT lines (billed duration)`;
  let version: string | undefined;
  try {
    await setMemory(lambda, o.name, o.memoryMb, o.retry);
    version = (await withRetry(() => lambda.send(new PublishVersionCommand({ FunctionName: o.name, Description: `mlserve tune: ${o.memoryMb} MB (temporary)` })), o.retry)).Version!;
    const durations: number[] = [];
    let coldMs: number | null = null;
    let maxMemoryMb = 0;
    for (let i = 0; i <= o.requests; i++) {
      const event = functionUrlEvent({ method: o.request.method, url: o.request.path, headers: { 'content-type': 'application/json' }, body: Buffer.from(o.request.body) });
      const out = await lambda.send(new InvokeCommand({ FunctionName: o.name, Qualifier: version, Payload: Buffer.from(JSON.stringify(event)), LogType: 'Tail' }));
      const report = parseReport(Buffer.from(out.LogResult ?? '', 'base64').toString('utf8'));
      maxMemoryMb = Math.max(maxMemoryMb, report?.maxMemoryMb ?? 0);
      if (out.FunctionError || report?.errorType) {
        const error = report?.errorType === 'Runtime.OutOfMemory' ? `out of memory: ${report.maxMemoryMb} MB used of ${o.memoryMb} MB` : `${report?.errorType ?? out.FunctionError}: the function failed`;
        return { memoryMb: o.memoryMb, durations, coldMs, maxMemoryMb, failure: error, method };
      }
      if (i === 0) coldMs = (report?.initMs ?? 0) + (report?.durationMs ?? 0);
      else durations.push(report?.billedMs ?? 0);
    }
    return { memoryMb: o.memoryMb, durations, coldMs, maxMemoryMb: maxMemoryMb || null, method };
  } finally {
    if (version) await withRetry(() => lambda.send(new DeleteFunctionCommand({ FunctionName: o.name, Qualifier: version })), o.retry);
    await setMemory(lambda, o.name, original, o.retry);
  }
}
