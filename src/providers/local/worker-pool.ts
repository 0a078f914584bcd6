import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { DirectConnections, readInFlight, type ConnectionSink, type InFlight } from './direct.js';

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
  /** Workers also serve connections handed to them (direct.ts): `serve` only. */
  direct?: DirectSpec;
}

export interface DirectSpec {
  sink: ConnectionSink;
  /** The stage's alias file: a worker serves directly only while it names this version alone. */
  aliasFile: string;
  version: number;
  /** Serving a pinned version (`serve --version`): the alias does not matter. */
  pinned: boolean;
  maxPayload: number;
  /** The stage's log: a worker appends its request records there itself. */
  logFile: string;
  /** Requests a worker lets wait on its connections, past the one it runs; more are throttled (429). */
  queue?: number;
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

type Ready = { ok: true; initMs: number } | { ok: false; error: FunctionError; notForked?: true };

/** Each forked sibling has four pipes in its parent's stdio, after the parent's own five. */
const SIBLING_FDS = 5;

/**
 * A worker's process as the pool sees it: spawned by us (a ChildProcess), or forked by the first
 * worker after its init (its pid comes with its ready reply, its end is its pipes closing).
 */
interface Process {
  pipes: { stdout: Readable; stderr: Readable; requests: Writable; replies: Readable };
  /** Resolves when it has ended, with how (`exit code N`, `signal S`) if known here. */
  exit: Promise<string | undefined>;
  signal(signal: NodeJS.Signals, pid: number): void;
}

function spawned(spec: WorkerSpec, env: Record<string, string>, siblings: number): { proc: Process; child: ChildProcess } {
  // Direct serving adds Node's IPC channel after the siblings' pipes (its fd is in NODE_CHANNEL_FD).
  const stdio: ('ignore' | 'pipe' | 'ipc')[] = ['ignore', ...Array<'pipe'>(4 + 4 * siblings).fill('pipe'), ...(spec.direct ? ['ipc' as const] : [])];
  const child: ChildProcess = spawn(spec.python, ['-m', 'mlserve_runtime.worker'], { cwd: spec.bundleDir, env, stdio });
  child.once('error', () => undefined);
  const exit = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit code ${code}`)));
  const pipes = { stdout: child.stdout!, stderr: child.stderr!, requests: child.stdio[3] as Writable, replies: child.stdio[4] as Readable };
  return { proc: { pipes, exit, signal: (s) => child.kill(s) }, child };
}

function forked(parent: ChildProcess, index: number): Process {
  const [stdout, stderr, requests, replies] = parent.stdio.slice(SIBLING_FDS + 4 * index, SIBLING_FDS + 4 * index + 4) as [Readable, Readable, Writable, Readable];
  const exit = new Promise<undefined>((resolve) => replies.once('close', () => resolve(undefined)));
  const signal = (s: NodeJS.Signals, pid: number): void => {
    if (pid) signalUnlessGone(pid, s); // 0: not forked yet, nothing to signal
  };
  return { pipes: { stdout, stderr, requests, replies }, exit, signal };
}

/** Send `signal` to `pid`; a process already gone (ESRCH) has nothing left to signal. */
export function signalUnlessGone(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/**
 * How a forked worker ended. It is not our child, so no exit event says; its parent never reaps it,
 * and a zombie's /proc/PID/stat keeps the status waitpid would give (field 52, Linux 3.5+).
 */
function exitStatus(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const status = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[49]); // fields from the 3rd on
    if ((status & 0x7f) === 0) return `exit code ${(status >> 8) & 0xff}`;
    const name = Object.entries(constants.signals).find(([, n]) => n === (status & 0x7f))?.[0];
    return `signal ${name ?? status & 0x7f}`;
  } catch {
    return pid ? 'exit (status unknown: its parent has exited)' : 'exit before it started';
  }
}

/** One Python process running the bundle's handler; one invocation at a time. */
class Worker {
  readonly ready: Promise<Ready>;
  /** The ready reply: its pid, and for a first worker asked to fork, what came of it. */
  hello: Record<string, unknown> | undefined;
  exited = false;
  detail = '';
  /** Direct serving: why the pool killed it (its request in flight is answered so), and that request. */
  killedFor: Exclude<Outcome, { kind: 'ok' | 'throttled' }> | undefined;
  inFlight: InFlight | undefined;
  private pending: ((reply: Record<string, unknown> | undefined) => void) | undefined;
  private logs = '';
  private readonly onExit: Promise<void>;
  private readonly pipes: Process['pipes'];

  constructor(
    private readonly spec: WorkerSpec,
    readonly tmp: string,
    private readonly proc: Process,
    readonly child?: ChildProcess,
    /** Direct serving: the channel its family takes connections from (its own, or its forker's). */
    readonly link?: ChildProcess,
  ) {
    this.pipes = proc.pipes;
    for (const stream of [this.pipes.stdout, this.pipes.stderr]) {
      onLines(stream, (line) => {
        this.logs = (this.logs + line + '\n').slice(-LOG_TAIL_BYTES * 4);
        spec.onLog?.(line, this.pid);
      });
    }
    let first: ((v: Record<string, unknown> | undefined) => void) | undefined;
    const firstReply = new Promise<Record<string, unknown> | undefined>((resolve) => (first = resolve));
    onLines(this.pipes.replies, (line) => {
      const message = JSON.parse(line) as Record<string, unknown>;
      if (first) {
        const f = first;
        first = undefined;
        this.hello = message;
        f(message);
      } else this.pending?.(message);
    });
    this.onExit = proc.exit.then((detail) => {
      this.exited = true;
      this.detail = detail ?? exitStatus(this.pid);
      first?.(undefined);
      this.pending?.(undefined);
      if (spec.direct) {
        this.inFlight = readInFlight(this.stateFile);
        rmSync(this.stateFile, { force: true });
      }
      rmSync(this.tmp, { recursive: true, force: true });
    });
    // A pipe fails when the worker dies under it: ECONNRESET when it exits with bytes of ours unread,
    // EPIPE when we write after it is gone. Either way the worker is no use any more: say so in its
    // log tail and kill it, and its exit answers the request in flight (a crash) as any death does.
    for (const pipe of Object.values(this.pipes)) {
      pipe.on('error', (error: NodeJS.ErrnoException) => {
        this.logs += `mlserve: the worker's pipe failed (${error.code ?? error.message}); the worker is stopped\n`;
        void this.kill();
      });
    }
    this.ready = firstReply.then((m) => {
      if (m?.type === 'ready') return { ok: true as const, initMs: Number(m.init_ms) };
      if (!m && !child) return { ok: false as const, notForked: true as const, error: { errorType: 'Runtime.ExitError', errorMessage: 'the worker was not forked' } };
      const error = (m?.error as FunctionError | undefined) ?? { errorType: 'Runtime.ExitError', errorMessage: `the worker exited during init: ${this.takeLogs().trim().split('\n').slice(-3).join(' | ')}` };
      return { ok: false as const, error };
    });
  }

  get pid(): number {
    return this.child?.pid ?? Number(this.hello?.pid ?? 0);
  }

  /** Where direct.py records the request it is running. */
  get stateFile(): string {
    return `${this.tmp}.inflight`;
  }

  /** Resolves when the process has ended. */
  get ended(): Promise<void> {
    return this.onExit;
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
      this.pipes.requests.write(`${JSON.stringify(message)}\n`);
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
    await this.signal('SIGKILL');
    await this.onExit;
  }

  async stop(): Promise<void> {
    await this.signal('SIGTERM');
    const timer = setTimeout(() => void this.signal('SIGKILL'), 2000);
    await this.onExit;
    clearTimeout(timer);
  }

  /** A forked worker's pid comes with its ready reply: wait for that (or its end) to signal it. */
  private async signal(signal: NodeJS.Signals): Promise<void> {
    if (!this.child) await Promise.race([this.ready, this.onExit]);
    if (!this.exited) this.proc.signal(signal, this.pid);
  }
}

/** Start a worker; with `siblings`, it forks that many more after its init (worker.py says how). */
function startWorker(spec: WorkerSpec, siblings = 0): Worker[] {
  const tmps = Array.from({ length: siblings + 1 }, () => mkdtempSync(join(tmpdir(), 'mlserve-worker-')));
  const env: Record<string, string> = { ...spec.env, PYTHONPATH: spec.bundleDir, PYTHONUNBUFFERED: '1', MLSERVE_TMP: tmps[0]!, TMPDIR: tmps[0]! };
  if (siblings) env.MLSERVE_FORK_TMPS = tmps.slice(1).join(delimiter);
  const d = spec.direct;
  if (d) env.MLSERVE_DIRECT = JSON.stringify({ alias: d.aliasFile, version: d.version, pinned: d.pinned, max_payload: d.maxPayload, timeout_ms: spec.timeoutMs, log: d.logFile, queue: d.queue });
  const { proc, child } = spawned(spec, env, siblings);
  const link = d ? child : undefined;
  const first = new Worker(spec, tmps[0]!, proc, child, link);
  return [first, ...tmps.slice(1).map((tmp, i) => new Worker(spec, tmp, forked(child, i), undefined, link))];
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
  private readonly direct: DirectConnections | undefined = undefined;
  private guard: NodeJS.Timeout | undefined;
  private nextLink = 0;

  constructor(
    private spec: WorkerSpec,
    readonly size: number,
    readonly queueLimit: number = size * 25,
  ) {
    if (spec.direct) {
      // A worker sees only the requests on its own connections, and those need not be spread
      // evenly: it throttles only past the whole pool's capacity (size running + queueLimit
      // waiting), so direct serving never answers 429 where the pool would not.
      this.spec = { ...spec, direct: { ...spec.direct, queue: queueLimit + size - 1 } };
      this.direct = new DirectConnections(spec.direct.sink, String(spec.direct.version));
    }
  }

  /**
   * Hand a connection to the workers (direct serving) when one is ready to take it and the queue of
   * connections waiting for one has room; false: the server keeps it (and throttles it when that queue
   * is full). A worker also throttles the requests ready at once on its connections past the pool's capacity.
   */
  adopt(socket: Socket): boolean {
    if (!this.direct || this.closed || this.direct.undelivered >= this.queueLimit) return false;
    const links = [...this.workers].filter((w) => w.child && w.link && !w.exited && w.hello?.type === 'ready' && w.hello.direct === true);
    if (links.length === 0) return false;
    this.direct.adopt(socket, links[this.nextLink++ % links.length]!.link!);
    this.guard ??= setInterval(() => this.watchDirect(), MEMORY_POLL_MS).unref();
    return true;
  }

  /** A direct request past the timeout, or its worker over the memory limit: killed, and answered so when it ends. */
  private watchDirect(): void {
    if (!this.direct?.open) {
      clearInterval(this.guard);
      this.guard = undefined;
      return;
    }
    const now = Date.now();
    for (const worker of this.workers) {
      if (worker.exited || worker.killedFor) continue;
      const inFlight = readInFlight(worker.stateFile);
      if (!inFlight) continue;
      const rss = worker.rssMb();
      if (now - inFlight.started > this.spec.timeoutMs) worker.killedFor = { kind: 'timeout', timeoutMs: this.spec.timeoutMs, logs: '' };
      else if (rss !== undefined && rss > this.spec.memoryMb) worker.killedFor = { kind: 'memory', rssMb: Math.round(rss), logs: '' };
      if (worker.killedFor) void worker.kill();
    }
  }

  /** A worker ended: the direct request it ran is answered, its other connections go back to the server. */
  private directLost(worker: Worker): void {
    const family = [...this.workers].some((w) => w !== worker && w.link === worker.link && !w.exited);
    const outcome = worker.killedFor ?? { kind: 'crash' as const, detail: worker.detail, logs: '' };
    this.direct?.lost(worker.pid, worker.inFlight, outcome, family ? undefined : worker.link);
  }

  /**
   * Start every worker ahead of traffic. The first forks the rest once its init is done: one init
   * instead of one per worker run at once, and the model's pages shared. Where a fork would not be
   * safe (worker.py checks), the pool starts the rest itself and logs why. Resolves when the first
   * is ready (or failed to start), so serve answers as soon as one can: a request that comes
   * meanwhile waits for a warm worker instead of starting another cold one.
   */
  async prewarm(): Promise<Ready> {
    const missing = this.size - this.workers.size;
    if (missing === 0) return { ok: true, initMs: 0 }; // already running: nothing to wait for
    const [first, ...siblings] = this.spawn(missing - 1) as [Worker, ...Worker[]];
    void first.ready.then(() => {
      const why = first.hello?.fork_refused;
      if (typeof why === 'string') this.spec.onLog?.(`mlserve: the other workers were started, not forked from this one: ${why}`, first.pid);
    });
    return Promise.race([first, ...siblings].map((w) => this.settle(w, first)));
  }

  /** Into the pool when ready, out when not; a sibling that was not forked is started instead. */
  private async settle(worker: Worker, first: Worker): Promise<Ready> {
    const ready = await worker.ready;
    if (ready.ok) {
      this.release(worker);
      return ready;
    }
    await this.retire(worker);
    if (!('notForked' in ready)) return ready;
    const firstReady = await first.ready; // its init failed (the same error), or it could not fork safely
    if (!firstReady.ok || this.closed || this.workers.size >= this.size) return firstReady;
    const [replacement] = this.spawn(0) as [Worker];
    return this.settle(replacement, replacement);
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
      return { kind: 'crash', detail: worker.detail, logs };
    }
    this.release(worker);
    const initMs = cold ? ready.initMs : undefined;
    return reply.ok
      ? { kind: 'ok', result: reply.result, cold, initMs, logs }
      : { kind: 'error', error: reply.error as FunctionError, cold, logs };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.guard);
    for (const w of this.waiting.splice(0)) w(undefined);
    await Promise.all([...this.workers].map((w) => w.stop()));
    this.workers.clear();
    this.idle.length = 0;
  }

  /** Start a worker, and with `siblings` that many more forked from it: all in the pool, none ready yet. */
  private spawn(siblings = 0): Worker[] {
    const workers = startWorker(this.spec, siblings);
    if (this.direct && workers[0]!.child) this.direct.listen(workers[0]!.child);
    for (const worker of workers) {
      this.workers.add(worker);
      // A worker that dies while idle (killed from outside) leaves the pool at once.
      void worker.ended.then(() => {
        if (this.direct) this.directLost(worker);
        const i = this.idle.indexOf(worker);
        if (i >= 0) {
          this.idle.splice(i, 1);
          this.workers.delete(worker);
          this.serveWaiter();
        }
      });
    }
    return workers;
  }

  private acquire(): Promise<{ worker: Worker; cold: boolean } | undefined> {
    if (this.closed || (this.direct && this.direct.undelivered + this.waiting.length >= this.queueLimit)) return Promise.resolve(undefined);
    const idle = this.idle.pop();
    if (idle) return Promise.resolve({ worker: idle, cold: false });
    if (this.workers.size < this.size) return Promise.resolve({ worker: this.spawn()[0]!, cold: true });
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
    const [worker] = this.spawn() as [Worker];
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
