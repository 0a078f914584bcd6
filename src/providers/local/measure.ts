import { readFile } from 'node:fs/promises';
import { MlserveError } from '../../core/errors.js';
import { functionUrlEvent } from '../http-event.js';
import type { TuneSample } from '../provider.js';
import { limitCpu, MB_PER_VCPU } from './cpu-limit.js';
import type { LocalRuntime } from './runtime.js';
import type { LocalStore } from './store.js';
import { WorkerPool, type Outcome } from './worker-pool.js';

/** The process's peak resident memory (VmHWM), in MB, where /proc tells it. */
async function peakMb(pid: number): Promise<number | null> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? '' : Promise.reject(error)));
  const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
  return kb ? Math.round(Number(kb) / 1024) : null;
}

function failureOf(outcome: Outcome, memoryMb: number): string | undefined {
  if (outcome.kind === 'ok') return undefined;
  if (outcome.kind === 'memory') return `out of memory: ${outcome.rssMb} MB resident, over ${memoryMb} MB`;
  if (outcome.kind === 'timeout') return `timed out after ${outcome.timeoutMs} ms`;
  if (outcome.kind === 'error' || outcome.kind === 'init_error') return `${outcome.error.errorType}: ${outcome.error.errorMessage}`;
  return outcome.kind === 'crash' ? `the worker died: ${outcome.detail}` : 'throttled';
}

/**
 * The stage's current version in one worker held to `memoryMb`'s CPU share (as Lambda allocates
 * it) and memory: one cold request (start and first answer), then `requests` warm ones, each timed
 * end to end. The worker and its CPU limit are gone after.
 */
export async function measureLocal(store: LocalStore, runtime: LocalRuntime, memoryMb: number, o: { requests: number; request: { method: string; path: string; body: string } }): Promise<TuneSample> {
  const alias = await store.alias();
  const version = alias.version === null ? undefined : await store.get(Number(alias.version));
  if (!version) throw new MlserveError('NOT_DEPLOYED', 'nothing is deployed to this stage on the local provider', { hint: 'run `mlserve deploy` first: tune measures the deployed bundle' });
  const pool = new WorkerPool({ ...runtime.spec(version, memoryMb), onLog: () => undefined }, 1);
  const started = Date.now();
  const warming = pool.prewarm();
  const pid = pool.pids()[0]!;
  const limit = await limitCpu(pid, memoryMb / MB_PER_VCPU);
  const method = `${limit.method}, ${(memoryMb / MB_PER_VCPU).toFixed(2)} vCPU`;
  try {
    const event = () => functionUrlEvent({ method: o.request.method, url: o.request.path, headers: { 'content-type': 'application/json' }, body: Buffer.from(o.request.body) });
    await warming;
    const first = await pool.invoke(event());
    const coldMs = Date.now() - started;
    const failure = failureOf(first, memoryMb);
    if (failure) return { memoryMb, durations: [], coldMs: null, maxMemoryMb: await peakMb(pid), failure, method };
    const durations: number[] = [];
    for (let i = 0; i < o.requests; i++) {
      const t0 = performance.now();
      const outcome = await pool.invoke(event());
      const failed = failureOf(outcome, memoryMb);
      if (failed) return { memoryMb, durations, coldMs, maxMemoryMb: await peakMb(pid), failure: failed, method };
      durations.push(Math.ceil(performance.now() - t0)); // billed in whole milliseconds
    }
    return { memoryMb, durations, coldMs, maxMemoryMb: await peakMb(pid), method };
  } finally {
    await pool.close();
    await limit.release();
  }
}
