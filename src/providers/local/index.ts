import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { PackageResult } from '../../core/actions/package.js';
import { MlserveError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/fs.js';
import { findPython } from '../../core/python.js';
import { aliasesOf, forget, promote, prunable, rollback, switchTo, toState } from '../alias.js';
import type { AliasState, DeployResult, InvokeRequest, InvokeResult, LogLine, Provider, ProviderContext, VersionInfo } from '../provider.js';
import { functionUrlEvent, httpResponseOf } from '../http-event.js';
import { LocalRuntime } from './runtime.js';
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
    this.store = new LocalStore(join(loaded.dir, '.mlserve', 'local', loaded.config.name, loaded.stage));
  }

  get stage(): string {
    return this.ctx.loaded.stage;
  }

  endpoint(port = this.ctx.loaded.config.local.port): string {
    return `http://127.0.0.1:${port}`;
  }

  async deploy(bundle: PackageResult, options: { promote: boolean }): Promise<DeployResult> {
    if (!bundle.bundle.path || !bundle.bundle.sha256) throw new MlserveError('USAGE', 'deploy needs a written bundle', { hint: 'run without --dry-run' });
    const python = await findPython(this.ctx.env);
    const { version, published } = await this.ctx.reporter.step('Storing the version', () =>
      this.store.publish(bundle.bundle.path!, {
        bundleSha256: bundle.bundle.sha256!,
        modelSha256: bundle.modelSha256,
        python: python.path,
        description: `bundle ${bundle.bundle.sha256!.slice(0, 12)} model ${bundle.modelSha256.slice(0, 12)}`,
      }),
    );
    const alias = await this.store.alias();
    const notes: string[] = [];
    const v = String(version.version);
    if (alias.version === null || (options.promote && alias.version !== v)) {
      await this.store.setAlias(switchTo(alias, v));
    } else if (!options.promote) notes.push(`the ${this.stage} alias still points at version ${alias.version}: run \`mlserve promote ${version.version}\``);
    const serve = await this.runningServe();
    notes.push(serve ? `a running \`mlserve serve\` (pid ${serve.pid}) serves it now` : 'start it with `mlserve serve`');
    return { version: String(version.version), published, alias: toState(this.stage, await this.store.alias()), endpoint: serve?.url ?? this.endpoint(), uploaded: [], notes };
  }

  async versions(): Promise<{ versions: VersionInfo[]; alias: AliasState }> {
    const alias = await this.store.alias();
    const versions = (await this.store.list()).map(
      (v): VersionInfo => ({ version: String(v.version), created: v.created, bundleSha256: v.bundleSha256, modelSha256: v.modelSha256, aliases: aliasesOf(alias, this.stage, String(v.version)) }),
    );
    return { versions, alias: toState(this.stage, alias) };
  }

  async promote(version: string | undefined, options: { weight?: number; finish?: boolean }): Promise<AliasState> {
    const alias = await this.store.alias();
    if (!options.finish) await this.existing(version);
    await this.store.setAlias(promote(alias, this.stage, { ...(version ? { version } : {}), ...options }));
    return toState(this.stage, await this.store.alias());
  }

  async prune(keep: number, options: { dryRun: boolean }): Promise<{ deleted: string[]; kept: string[] }> {
    const { versions, alias } = await this.versions();
    const deleted = prunable(versions.map((v) => v.version), keep, alias);
    if (!options.dryRun && deleted.length) {
      await Promise.all(deleted.map((v) => rm(this.store.versionDir(Number(v)), { recursive: true, force: true })));
      await this.store.setAlias(forget(await this.store.alias(), deleted));
    }
    return { deleted, kept: versions.map((v) => v.version).filter((v) => !deleted.includes(v)) };
  }

  async rollback(): Promise<AliasState> {
    await this.store.setAlias(rollback(await this.store.alias(), this.stage));
    return toState(this.stage, await this.store.alias());
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
      const base = { version: String(version.version), ...(outcome.kind !== 'throttled' && outcome.logs ? { logTail: outcome.logs } : {}) };
      if (outcome.kind === 'ok') {
        if (request.kind === 'event') return { ...base, body: outcome.result, ...directStatus(outcome.result) };
        const http = httpResponseOf(outcome.result);
        return { ...base, status: http.status, body: parseBody(http.body.toString('utf8')) };
      }
      if (request.kind === 'http') {
        const [status, code, message] = failure(outcome);
        return { ...base, status, body: { error: { code, message } }, functionError: { type: code, message } };
      }
      if (outcome.kind === 'throttled') return { ...base, body: null, functionError: { type: 'TooManyRequestsException', message: 'throttled' } };
      const error = lambdaError(outcome, requestId);
      return { ...base, body: error, functionError: { type: String(error.errorType), message: String(error.errorMessage) } };
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
    const body = parseBody(await response.text());
    const logs = response.headers.get('x-amz-log-result');
    const result: InvokeResult = { body, version: response.headers.get('x-amz-executed-version') ?? '?', ...directStatus(body) };
    if (logs) result.logTail = Buffer.from(logs, 'base64').toString('utf8');
    if (response.headers.get('x-amz-function-error')) {
      const e = body as { errorType?: string; errorMessage?: string };
      result.functionError = { type: e.errorType ?? 'Unhandled', message: e.errorMessage ?? '' };
    } else if (response.status >= 400) {
      result.functionError = { type: response.headers.get('x-amzn-errortype') ?? `HTTP ${response.status}`, message: (body as { message?: string })?.message ?? '' };
    }
    return result;
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
    const text = await readFile(this.serveFile, 'utf8').catch(() => undefined);
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

  private logStream: WriteStream | undefined;

  /** Append a worker's log line to the stage's log (what `mlserve logs` reads); buffered, off the request path. */
  appendLog(line: string, version: number, pid: number): void {
    if (!this.logStream) {
      mkdirSync(this.store.root, { recursive: true });
      this.logStream = createWriteStream(this.logFile, { flags: 'a' });
    }
    this.logStream.write(`${JSON.stringify({ time: new Date().toISOString(), version, pid, message: line })}\n`);
  }

  /** Flush and close the log file. */
  async closeLog(): Promise<void> {
    const stream = this.logStream;
    this.logStream = undefined;
    if (stream) await new Promise<void>((resolve) => stream.end(resolve));
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

function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A direct invocation answering {statusCode: 4xx, error} is a failed request. */
function directStatus(result: unknown): { status?: number } {
  const code = (result as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' && !('headers' in (result as object)) ? { status: code } : {};
}
