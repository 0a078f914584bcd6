import { setTimeout as sleep } from 'node:timers/promises';

/** Errors that mean "the function is busy or we are too fast": wait and try again. */
const RETRYABLE = new Set(['ResourceConflictException', 'TooManyRequestsException', 'ThrottlingException', 'Throttling', 'ServiceUnavailableException', 'EC2ThrottledException']);

/** An IAM role just created cannot be assumed by Lambda for a few seconds. */
function iamNotReady(error: { name?: string; message?: string }): boolean {
  return error.name === 'InvalidParameterValueException' && /cannot be assumed|role defined for the function/i.test(error.message ?? '');
}

export interface RetryOptions {
  attempts?: number;
  baseMs?: number;
  signal?: AbortSignal;
  onRetry?: (error: Error, attempt: number, delayMs: number) => void;
}

/** Run `fn`, retrying conflicts, throttling and IAM propagation with exponential backoff and jitter. */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 8;
  const base = options.baseMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const e = error as Error & { name?: string };
      if (attempt >= attempts || !(RETRYABLE.has(e.name ?? '') || iamNotReady(e))) throw error;
      const delay = Math.min(base * 2 ** (attempt - 1), 10_000) * (0.5 + Math.random() / 2);
      options.onRetry?.(e, attempt, delay);
      await sleep(delay, undefined, options.signal ? { signal: options.signal } : undefined);
    }
  }
}
