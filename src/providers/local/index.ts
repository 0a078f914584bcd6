import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MlserveError } from '../../core/errors.js';
import { readTextIfExists, writeFileAtomic } from '../../core/fs.js';
import { findPython } from '../../core/python.js';
import { aliasesOf, forget, promote, prunable, rollback, switchTo, toState } from '../alias.js';
import type { PackagedBundle } from '../../packaging/packaged.js';
import type { AliasState, DeployResult, InvokeRequest, InvokeResult, LogLine, Provider, ProviderContext, ServeHandle, ServeOptions, StatusReport, TuneSample, VersionInfo } from '../provider.js';
import { functionUrlEvent } from '../http-event.js';
import { functionErrorOf, invokeResultOf, parseBody } from '../invoke-result.js';
import { LocalRuntime, poolSize } from './runtime.js';
import { failure, lambdaError } from './server.js';
import { LocalStore } from './store.js';

/** A running `mlserve serve`, as recorded for `invoke` to find. */
export interface ServeRecord {
  pid: number;
  url: string;
  started: string;
}

/** The local provider: versions in `.mlserve/local/<app>/<stage>/`, served by Python workers. */
export class LocalProvider implements Provider {
  readonly id = 'local' as const;
  readonly store: LocalStore;

  constructor(private readonly ctx: ProviderContext) {
    const { loaded } = ctx;
    const root = join(loaded.dir, '.mlserve', 'local', loaded.config.name, loaded.stage);
    // `--target aws`: another platform's exact bundle, kept apart from the stage's own versions.
    this.store = new LocalStore(this.target ? join(root, 'targets', this.target) : root);
  }

  /** The platform whose bundle this provider runs (--target), when it is not this machine's build. */
  get target(): string | undefined {
    const target = this.ctx.flags?.target;
    return typeof target === 'string' && target !== this.id ? target : undefined;
  }

  get context(): ProviderContext {
    return this.ctx;
  }

  async serve(options: ServeOptions): Promise<ServeHandle> {
    const { serveStage } = await import('./serve.js');
    return serveStage(this, options);
  }

  get stage(): string {
    return this.ctx.loaded.stage;
  }

  endpoint(port = this.ctx.loaded.config.local.port): string {
    return `http://127.0.0.1:${port}`;
  }

  async deploy(bundle: PackagedBundle, options: { promote: boolean }): Promise<DeployResult> {
    // A target bundle runs with the interpreter found for its target; this machine's build with this machine's Python.
    const python = typeof this.ctx.flags?.python === 'string' ? { path: this.ctx.flags.python } : await findPython(this.ctx.env);
    const notes: string[] = [];
    const { version, published, alias } = await this.ctx.reporter.step('Storing the version', () =>
      this.store.locked(async () => {
        const stored = await this.store.publish(bundle, {
          bundleSha256: bundle.sha256,
          modelSha256: bundle.modelSha256,
          python: python.path,
          description: `bundle ${bundle.sha256.slice(0, 12)} model ${bundle.modelSha256.slice(0, 12)}`,
        });
        const current = await this.store.alias();
        const v = String(stored.version.version);
        if (current.version === null || (options.promote && current.version !== v)) await this.store.setAlias(switchTo(current, v));
        else if (!options.promote && current.version !== v) notes.push(`the ${this.stage} alias still points at version ${current.version}: run \`mlserve promote ${v}\``);
        return { ...stored, alias: await this.store.alias() };
      }),
    );
    const serve = await this.runningServe();
    notes.push(serve ? `a running \`mlserve serve\` (pid ${serve.pid}) serves it now` : 'start it with `mlserve serve`');
    const { config } = this.ctx.loaded;
    const concurrency = `${poolSize(config)} local worker${poolSize(config) > 1 ? 's' : ''} (local.workers, else this machine's cores, at most resources.concurrency)`;
    return { version: String(version.version), published, alias: toState(this.stage, alias), endpoint: serve?.url ?? this.endpoint(), uploaded: [], concurrency, notes };
  }

  async versions(): Promise<{ versions: VersionInfo[]; alias: AliasState }> {
    const alias = await this.store.alias();
    const versions = (await this.store.list()).map(
      (v): VersionInfo => ({ version: String(v.version), created: v.created, bundleSha256: v.bundleSha256, modelSha256: v.modelSha256, aliases: aliasesOf(alias, this.stage, String(v.version)) }),
    );
    return { versions, alias: toState(this.stage, alias) };
  }

  /** The current version at `memoryMb`, in one worker held to that memory's CPU share. */
  async measure(memoryMb: number, o: { requests: number; request: { method: string; path: string; body: string } }): Promise<TuneSample> {
    const { measureLocal } = await import('./measure.js');
    const runtime = new LocalRuntime(this.store, this.ctx.loaded.config, this.stage, this.ctx.env);
    try {
      return await measureLocal(this.store, runtime, memoryMb, o);
    } finally {
      await runtime.close();
    }
  }

  /** What `serve` recorded for the stage over the range, per version. */
  async status(range: { since: number; until: number }): Promise<StatusReport> {
    const { localStatus } = await import('./status.js');
    return localStatus(this.logFile, toState(this.stage, await this.store.alias()), this.ctx.loaded.config, range);
  }

  async promote(version: string | undefined, options: { weight?: number; finish?: boolean }): Promise<AliasState> {
    if (!options.finish) await this.existing(version);
    const alias = await this.store.updateAlias((current) => promote(current, this.stage, { ...(version ? { version } : {}), ...options }));
    return toState(this.stage, alias);
  }

  async prune(keep: number, options: { dryRun: boolean }): Promise<{ deleted: string[]; kept: string[] }> {
    // Decided and done under the stage lock: a promote cannot point the alias at a version being deleted.
    const decide = async () => {
      const { versions, alias } = await this.versions();
      return { all: versions.map((v) => v.version), deleted: prunable(versions.map((v) => v.version), keep, alias) };
    };
    const { all, deleted } = options.dryRun
      ? await decide()
      : await this.store.locked(async () => {
          const plan = await decide();
          await Promise.all(plan.deleted.map((v) => rm(this.store.versionDir(Number(v)), { recursive: true, force: true })));
          if (plan.deleted.length) await this.store.setAlias(forget(await this.store.alias(), plan.deleted));
          return plan;
        });
    return { deleted, kept: all.filter((v) => !deleted.includes(v)) };
  }

  async rollback(): Promise<AliasState> {
    return toState(this.stage, await this.store.updateAlias((current) => rollback(current, this.stage)));
  }

  async invoke(request: InvokeRequest): Promise<InvokeResult> {
    const serve = await this.runningServe();
    if (serve) return this.invokeOverHttp(serve.url, request);
    const runtime = new LocalRuntime(this.store, this.ctx.loaded.config, this.stage, this.ctx.env);
    try {
      const requestId = randomUUID();
      const event =
        request.kind === 'event'
          ? request.event
          : functionUrlEvent({ method: request.method, url: request.path, headers: { 'content-type': 'application/json', ...request.headers }, body: Buffer.from(request.body ?? '') }, requestId);
      const { outcome, version } = await runtime.invoke(event, request.qualifier, requestId);
      const meta = { version: String(version.version), ...(outcome.kind !== 'throttled' && outcome.logs ? { logTail: outcome.logs } : {}) };
      if (outcome.kind === 'ok') return invokeResultOf(request, outcome.result, meta);
      if (request.kind === 'http') {
        const [status, code, message] = failure(outcome);
        return { ...meta, status, body: { error: { code, message } }, functionError: { type: code, message } };
      }
      if (outcome.kind === 'throttled') return { ...meta, body: null, functionError: { type: 'TooManyRequestsException', message: 'throttled' } };
      const error = lambdaError(outcome, requestId);
      return invokeResultOf(request, error, { ...meta, functionError: functionErrorOf(error, 'Unhandled') });
    } finally {
      await runtime.close();
    }
  }

  private async invokeOverHttp(url: string, request: InvokeRequest): Promise<InvokeResult> {
    if (request.kind === 'http') {
      const target = new URL(request.path, url);
      if (request.qualifier) this.ctx.reporter.warn('--version is ignored by a running `mlserve serve`, which follows the alias');
      const init: RequestInit = { method: request.method, headers: { 'content-type': 'application/json', ...request.headers } };
      if (request.body !== undefined && request.method !== 'GET' && request.method !== 'HEAD') init.body = request.body;
      const response = await fetch(target, init);
      const body = parseBody(await response.text());
      const result: InvokeResult = { status: response.status, body, version: response.headers.get('x-mlserve-version') ?? '?' };
      if (response.status >= 500) {
        const error = (body as { error?: { code?: string; message?: string } } | null)?.error;
        result.functionError = { type: error?.code ?? `HTTP ${response.status}`, message: error?.message ?? '' };
      }
      return result;
    }
    const name = this.ctx.loaded.config.name;
    const qualifier = request.qualifier ? `?Qualifier=${encodeURIComponent(request.qualifier)}` : '';
    const response = await fetch(`${url}/2015-03-31/functions/${name}/invocations${qualifier}`, {
      method: 'POST',
      headers: { 'x-amz-log-type': 'Tail', 'content-type': 'application/json' },
      body: JSON.stringify(request.event),
    });
    const payload = parseBody(await response.text());
    const logs = response.headers.get('x-amz-log-result');
    const meta = { version: response.headers.get('x-amz-executed-version') ?? '?', ...(logs ? { logTail: Buffer.from(logs, 'base64').toString('utf8') } : {}) };
    if (response.headers.get('x-amz-function-error')) return invokeResultOf(request, payload, { ...meta, functionError: functionErrorOf(payload, 'Unhandled') });
    if (response.status >= 400) {
      const type = response.headers.get('x-amzn-errortype') ?? `HTTP ${response.status}`;
      return invokeResultOf(request, payload, { ...meta, functionError: { type, message: (payload as { message?: string } | null)?.message ?? '' } });
    }
    return invokeResultOf(request, payload, meta);
  }

  async destroy(options: { dryRun: boolean }): Promise<{ removed: string[] }> {
    const serve = await this.runningServe();
    if (serve && !options.dryRun) {
      throw new MlserveError('USAGE', `\`mlserve serve\` (pid ${serve.pid}) is serving stage ${this.stage}`, { hint: 'stop it (Ctrl-C) before destroy' });
    }
    if (!(await this.store.exists())) return { removed: [] };
    const removed = [...(await this.store.list()).map((v) => `version ${v.version}`), `alias ${this.stage}`, this.store.root];
    if (!options.dryRun) await this.store.remove();
    return { removed };
  }

  async logs(since: number, follow: boolean, print: (line: LogLine) => void): Promise<void> {
    let offset = 0;
    const readNew = async () => {
      const size = await stat(this.logFile).then((s) => s.size, () => 0);
      if (size <= offset) return;
      const handle = await open(this.logFile, 'r');
      const buf = Buffer.alloc(size - offset);
      await handle.read(buf, 0, buf.length, offset);
      await handle.close();
      const text = buf.toString('utf8');
      const complete = text.slice(0, text.lastIndexOf('\n') + 1);
      offset += Buffer.byteLength(complete);
      for (const line of complete.split('\n').filter(Boolean)) {
        const r = JSON.parse(line) as { time: string; version: number; pid: number; message: string };
        if (Date.parse(r.time) >= since) print({ time: r.time, stream: `v${r.version} ${r.pid}`, message: r.message });
      }
    };
    await readNew();
    const signal = this.ctx.signal;
    while (follow && signal && !signal.aborted) {
      await new Promise((r) => setTimeout(r, 250));
      await readNew();
    }
  }

  // -- serve registry and logs ----------------------------------------------------------------

  get serveFile(): string {
    return join(this.store.root, 'serve.json');
  }

  get logFile(): string {
    return join(this.store.root, 'logs.jsonl');
  }

  async runningServe(): Promise<ServeRecord | undefined> {
    const text = await readTextIfExists(this.serveFile);
    if (!text) return undefined;
    const record = JSON.parse(text) as ServeRecord;
    try {
      process.kill(record.pid, 0);
      return record;
    } catch {
      await rm(this.serveFile, { force: true }); // left by a serve that did not exit cleanly
      return undefined;
    }
  }

  async registerServe(record: ServeRecord): Promise<() => Promise<void>> {
    await writeFileAtomic(this.serveFile, JSON.stringify(record));
    return () => rm(this.serveFile, { force: true });
  }

  private log: { fd: number; pending: string[] } | undefined;

  /**
   * Append a worker's log line to the stage's log (what `mlserve logs` reads). The lines of one
   * event-loop turn go out in one synchronous append: to the page cache, microseconds, where a
   * write through the thread pool cost two thread hand-offs per request.
   */
  appendLog(line: string, version: number, pid: number): void {
    if (!this.log) {
      mkdirSync(this.store.root, { recursive: true });
      this.log = { fd: openSync(this.logFile, 'a'), pending: [] };
    }
    const log = this.log;
    if (log.pending.length === 0) setImmediate(() => this.flushLog(log));
    log.pending.push(`${JSON.stringify({ time: new Date().toISOString(), version, pid, message: line })}\n`);
  }

  private flushLog(log: { fd: number; pending: string[] }): void {
    if (log.pending.length === 0) return;
    const text = log.pending.join('');
    log.pending.length = 0;
    try {
      writeSync(log.fd, text);
    } catch (error) {
      // A full disk must not stop the endpoint: the lines are lost, and said to be.
      this.ctx.reporter.warn(`could not append ${text.split('\n').length - 1} log line(s) to ${this.logFile}: ${(error as Error).message}`);
    }
  }

  /** Write what is pending and close the log file. */
  async closeLog(): Promise<void> {
    const log = this.log;
    this.log = undefined;
    if (!log) return;
    this.flushLog(log);
    closeSync(log.fd);
  }

  private async existing(version: string | undefined): Promise<number> {
    const all = await this.store.list();
    const n = Number(version);
    if (!version || !all.some((v) => v.version === n)) {
      throw new MlserveError('USAGE', `version ${version ?? '(none)'} does not exist on stage ${this.stage}`, {
        hint: all.length ? `versions: ${all.map((v) => v.version).join(', ')}` : 'deploy first: `mlserve deploy --provider local`',
      });
    }
    return n;
  }
}
