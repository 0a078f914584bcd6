import { DeleteFunctionConcurrencyCommand, GetFunctionConcurrencyCommand, PutFunctionConcurrencyCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { withRetry, type RetryOptions } from './retry.js';

/**
 * Reserved concurrency as the config asks: a value reserves exactly that many executions (and caps
 * the function there); no value reserves nothing, removing a reservation an earlier deploy made, so
 * the function scales with the account's unreserved pool. Returns the sentence deploy prints.
 */
export async function applyConcurrency(lambda: LambdaClient, name: string, wanted: number | undefined, retry: RetryOptions): Promise<string> {
  const current = (await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: name }))).ReservedConcurrentExecutions;
  if (wanted === undefined) {
    if (current !== undefined) await withRetry(() => lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: name })), retry);
    return 'no reserved concurrency: the function scales with the account’s unreserved concurrency (set resources.concurrency to reserve and cap it)';
  }
  if (current !== wanted) await withRetry(() => lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: name, ReservedConcurrentExecutions: wanted })), retry);
  return `${wanted} reserved concurrent executions (resources.concurrency): requests beyond ${wanted} at once are throttled`;
}
