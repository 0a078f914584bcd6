import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { Readable, Writable } from 'node:stream';

/** How to start workers for one version of the bundle. */
export interface WorkerSpec {
  python: string;
  /** The extracted bundle: the worker's cwd and PYTHONPATH. */
  bundleDir: string;
  env: Record<string, string>;
  timeoutMs: number;
  memoryMb: number;
  /** Every log line a worker prints (stdout and stderr). */
  onLog?: (line: string, pid: number) => void;
}

export interface FunctionError {
  errorType: string;
  errorMessage: string;
  stackTrace?: string[];
}

/** What happened to one invocation. */
export type Outcome =
  | { kind: 'ok'; result: unknown; cold: boolean; initMs: number | undefined; logs: string }
  | { kind: 'error'; error: FunctionError; cold: boolean; logs: string }
  | { kind: 'timeout'; timeoutMs: number; logs: string }
  | { kind: 'crash'; detail: string; logs: string }
  | { kind: 'memory'; rssMb: number; logs: string }
  | { kind: 'init_error'; error: FunctionError; logs: string }
  | { kind: 'throttled' };

const LOG_TAIL_BYTES = 4096;
const MEMORY_POLL_MS = 100;

/** One Python process running the bundle's handler; one invocation at a time. */
class Worker {
  readonly child: ChildProcess;
  readonly tmp: string;
  readonly ready: Promise<{ ok: true; initMs: number } | { ok: false; error: FunctionError }>;
  exited = false;
  private pending: ((reply: Record<string, unknown> | undefined) => void) | undefined;
  private logs = '';
  private readonly onExit: Promise<void>;

  constructor(private readonly spec: WorkerSpec) {
    this.tmp = mkdtempSync(join(tmpdir(), 'mlserve-worker-'));
    const env = {
      ...spec.env,
      PYTHONPATH: spec.bundleDir,
      PYTHONUNBUFFERED: '1',
      MLSERVE_TMP: this.tmp,
      TMPDIR: this.tmp,
    };
    this.child = spawn(spec.python, ['-m', 'mlserve_runtime.worker'], { cwd: spec.bundleDir, env, stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'] });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      onLines(stream, (line) => {
        this.logs = (this.logs + line + '\n').slice(-LOG_TAIL_BYTES * 4);
        spec.onLog?.(line, this.child.pid ?? 0);
      });
    }
    let first: ((v: Record<string, unknown> | undefined) => void) | undefined;
    const firstReply = new Promise<Record<string, unknown> | undefined>((resolve) => (first = resolve));
    onLines(this.child.stdio[4] as Readable, (line) => {
      const message = JSON.parse(line) as Record<string, unknown>;
      if (first) {
        const f = first;
        first = undefined;
        f(message);
      } else this.pending?.(message);
    });
    this.onExit = new Promise((resolve) =>
      this.child.once('exit', () => {
        this.exited = true;
        first?.(undefined);
        this.pending?.(undefined);
        rmSync(this.tmp, { recursive: true, force: true });
        resolve();
      }),
    );
    this.child.once('error', () => undefined);
    // A pipe fails when the worker dies under it: ECONNRESET when it exits with bytes of ours unread,
    // EPIPE when we write after it is gone. Either way the worker is no use any more: say so in its
    // log tail and kill it, and its exit answers the request in flight (a crash) as any death does.
    for (const pipe of this.child.stdio) {
      pipe?.on('error', (error: NodeJS.ErrnoException) => {
        this.logs += `mlserve: the worker's pipe failed (${error.code ?? error.message}); the worker is stopped\n`;
        void this.kill();
      });
    }
    this.ready = firstReply.then((m) => {
      if (m?.type === 'ready') return { ok: true as const, initMs: Number(m.init_ms) };
      const error = (m?.error as FunctionError | undefined) ?? { errorType: 'Runtime.ExitError', errorMessage: `the worker exited during init: ${this.takeLogs().trim().split('\n').slice(-3).join(' | ')}` };
      return { ok: false as const, error };
    });
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  takeLogs(): string {
    const logs = this.logs;
    this.logs = '';
    return logs;
  }

  /** Send one event; resolves with the reply, or undefined if the worker died first. */
  send(event: unknown, requestId: string, timeoutMs: number): Promise<Record<string, unknown> | undefined> {
    return new Promise((resolve) => {
      this.pending = (reply) => {
        this.pending = undefined;
        resolve(reply);
      };
      const message = { id: requestId, request_id: requestId, event, deadline_ms: Date.now() + timeoutMs };
      (this.child.stdio[3] as Writable).write(`${JSON.stringify(message)}\n`);
    });
  }

  rssMb(): number | undefined {
    try {
      const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'))?.[1];
      return kb ? Number(kb) / 1024 : undefined;
    } catch {
      return undefined;
    }
  }

  async kill(): Promise<void> {
    if (this.exited) return;
    this.child.kill('SIGKILL');
    await this.onExit;
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await this.onExit;
    clearTimeout(timer);
  }
}

/**
 * A pool of warm workers with Lambda's semantics: one request per worker at a time; at most `size`
 * workers (the configured concurrency), started on demand (each start is a cold start); requests
 * beyond that wait in a bounded queue and past it are throttled; a timeout, a crash or memory over
 * the limit kills the worker, which a later request replaces.
 */
export class WorkerPool {
  private readonly workers = new Set<Worker>();
  private readonly idle: Worker[] = [];
  private readonly waiting: ((w: Worker | undefined) => void)[] = [];
  private closed = false;

  constructor(
    private readonly spec: WorkerSpec,
    readonly size: number,
    readonly queueLimit: number = size * 25,
  ) {}

  /**
   * Start every worker ahead of traffic, in parallel; resolves when the first is ready (or failed to
   * start), so serve answers as soon as one can while the rest finish their init: a request that
   * comes meanwhile waits for a warm worker instead of starting another cold one.
   */
  async prewarm(): Promise<{ ok: true; initMs: number } | { ok: false; error: FunctionError }> {
    const workers = Array.from({ length: this.size - this.workers.size }, () => this.spawn());
    if (workers.length === 0) return { ok: true, initMs: 0 }; // already running: nothing to wait for
    const settled = workers.map((w) =>
      w.ready.then(async (ready) => {
        if (ready.ok) this.release(w);
        else await this.retire(w);
        return ready;
      }),
    );
    return Promise.race(settled);
  }

  pids(): number[] {
    return [...this.workers].map((w) => w.pid);
  }

  stats(): { workers: number; idle: number; queued: number } {
    return { workers: this.workers.size, idle: this.idle.length, queued: this.waiting.length };
  }

  async invoke(event: unknown, requestId: string = randomUUID()): Promise<Outcome> {
    const lease = await this.acquire();
    if (!lease) return { kind: 'throttled' };
    const { worker, cold } = lease;
    const ready = await worker.ready;
    if (!ready.ok) {
      await this.retire(worker);
      return { kind: 'init_error', error: ready.error, logs: worker.takeLogs() };
    }
    worker.takeLogs(); // init logs belong to no request
    let killedFor: Outcome | undefined;
    const timer = setTimeout(() => {
      killedFor = { kind: 'timeout', timeoutMs: this.spec.timeoutMs, logs: '' };
      void worker.kill();
    }, this.spec.timeoutMs);
    const poll = setInterval(() => {
      const rss = worker.rssMb();
      if (rss !== undefined && rss > this.spec.memoryMb) {
        killedFor = { kind: 'memory', rssMb: Math.round(rss), logs: '' };
        void worker.kill();
      }
    }, MEMORY_POLL_MS);
    const reply = await worker.send(event, requestId, this.spec.timeoutMs);
    clearTimeout(timer);
    clearInterval(poll);
    const logs = worker.takeLogs();
    if (!reply || worker.exited) {
      await this.retire(worker);
      if (killedFor) return { ...killedFor, logs } as Outcome;
      const code = worker.child.exitCode;
      const signal = worker.child.signalCode;
      return { kind: 'crash', detail: signal ? `signal ${signal}` : `exit code ${code}`, logs };
    }
    this.release(worker);
    const initMs = cold ? ready.initMs : undefined;
    return reply.ok
      ? { kind: 'ok', result: reply.result, cold, initMs, logs }
      : { kind: 'error', error: reply.error as FunctionError, cold, logs };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w(undefined);
    await Promise.all([...this.workers].map((w) => w.stop()));
    this.workers.clear();
    this.idle.length = 0;
  }

  private spawn(): Worker {
    const worker = new Worker(this.spec);
    this.workers.add(worker);
    // A worker that dies while idle (killed from outside) leaves the pool at once.
    worker.child.once('exit', () => {
      const i = this.idle.indexOf(worker);
      if (i >= 0) {
        this.idle.splice(i, 1);
        this.workers.delete(worker);
        this.serveWaiter();
      }
    });
    return worker;
  }

  private acquire(): Promise<{ worker: Worker; cold: boolean } | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    const idle = this.idle.pop();
    if (idle) return Promise.resolve({ worker: idle, cold: false });
    if (this.workers.size < this.size) return Promise.resolve({ worker: this.spawn(), cold: true });
    if (this.waiting.length >= this.queueLimit) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.waiting.push((w) => resolve(w ? { worker: w, cold: false } : undefined));
    });
  }

  private release(worker: Worker): void {
    if (this.closed) {
      void worker.stop();
      return;
    }
    const next = this.waiting.shift();
    if (next) next(worker);
    else this.idle.push(worker);
  }

  private async retire(worker: Worker): Promise<void> {
    this.workers.delete(worker);
    await worker.kill();
    this.serveWaiter();
  }

  /** A worker left: start a replacement for the first queued request, if any. */
  private serveWaiter(): void {
    if (this.closed || this.waiting.length === 0 || this.workers.size >= this.size) return;
    const next = this.waiting.shift()!;
    const worker = this.spawn();
    // The replacement's start is a cold start, but the waiter already counted as queued.
    next(worker);
  }
}

/**
 * Call `fn` with each line of a stream (without its newline; a last line without one at the end).
 * readline does the same with the machinery of an interactive prompt, a measurable cost per request.
 */
function onLines(stream: Readable, fn: (line: string) => void): void {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  stream.on('data', (chunk: Buffer) => {
    const text = rest + decoder.write(chunk);
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      fn(text.charCodeAt(end - 1) === 13 ? text.slice(start, end - 1) : text.slice(start, end));
      start = end + 1;
    }
    rest = text.slice(start);
  });
  stream.on('end', () => {
    const last = rest + decoder.end();
    if (last) fn(last);
  });
}
