import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import type { Config } from '../../core/config/schema.js';
import { MlserveError } from '../../core/errors.js';
import type { ConnectionSink } from './direct.js';
import { localPlatform } from './platform.js';
import type { LocalAlias, LocalStore, LocalVersion } from './store.js';
import { WorkerPool, type WorkerSpec, type Outcome } from './worker-pool.js';

/** Variables passed through from the user's shell, so local S3/SQS code can reach AWS or moto. */
const PASS_THROUGH = /^(PATH|LANG|LC_ALL|HOME|AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|REGION|DEFAULT_REGION|PROFILE|CONFIG_FILE|SHARED_CREDENTIALS_FILE|ENDPOINT_URL.*)|MLSERVE_ARTIFACTS_BUCKET|MLSERVE_OUTPUT_BUCKET)$/;

/**
 * Runs the versions of one app and stage: a warm WorkerPool per version (started lazily), and the
 * alias resolution (with a canary's weight) that picks the version for each request.
 */
export class LocalRuntime {
  private readonly pools = new Map<number, WorkerPool>();
  /** Versions are immutable once published: read each one once. */
  private readonly known = new Map<number, LocalVersion>();
  /** The alias, re-read only when alias.json is replaced (promote/rollback write it atomically). */
  private aliasCache: { stamp: string; alias: LocalAlias } | undefined;
  /** Set by `serve`: workers also take connections (direct.ts). */
  private direct: { sink: ConnectionSink; logFile: string } | undefined;

  constructor(
    private readonly store: LocalStore,
    private readonly config: Config,
    private readonly stage: string,
    private readonly env: Record<string, string | undefined>,
    private readonly onLog?: (line: string, version: number, pid: number) => void,
    private readonly pinned?: number,
  ) {}

  get poolSize(): number {
    return poolSize(this.config);
  }

  get functionName(): string {
    return `${this.config.name}-${this.stage}`;
  }

  /** The version for a qualifier: the stage alias (default, weighted when a canary is set), a number, or $LATEST. */
  async resolve(qualifier?: string): Promise<LocalVersion> {
    let n: number | null;
    if (this.pinned !== undefined && qualifier === undefined) n = this.pinned;
    else if (qualifier === undefined || qualifier === this.stage) {
      const alias = await this.currentAlias();
      const chosen = alias.canary && Math.random() < alias.canary.weight ? alias.canary.version : alias.version;
      n = chosen === null ? null : Number(chosen);
    } else if (qualifier === '$LATEST') n = (await this.store.list()).at(-1)?.version ?? null;
    else if (/^\d+$/.test(qualifier)) n = Number(qualifier);
    else throw new MlserveError('USAGE', `unknown qualifier ${qualifier}`, { hint: `use a version number, $LATEST, or the stage name (${this.stage})` });
    const version = n === null ? undefined : await this.version(n);
    if (!version) {
      throw new MlserveError('NOT_DEPLOYED', n === null ? `nothing is deployed to stage ${this.stage} on the local provider` : `version ${n} does not exist locally`, {
        hint: n === null ? 'run `mlserve deploy --provider local` first' : `run \`mlserve versions\` to see what exists`,
      });
    }
    return version;
  }

  private async version(n: number): Promise<LocalVersion | undefined> {
    let version = this.known.get(n);
    if (!version) {
      version = await this.store.get(n);
      if (version) this.known.set(n, version);
    }
    return version;
  }

  private async currentAlias(): Promise<LocalAlias> {
    const stamp = this.aliasStamp();
    if (this.aliasCache?.stamp !== stamp) this.aliasCache = { stamp, alias: await this.store.alias() };
    return this.aliasCache.alias;
  }

  private aliasStamp(): string {
    // A synchronous stat: microseconds, where the promise API's round trip through the thread pool
    // was the largest cost of a request in serve's profile.
    const info = statSync(this.store.aliasFile, { throwIfNoEntry: false });
    return info ? `${info.ino}:${info.mtimeMs}` : 'none';
  }

  /** From now on, pools started for `serve` let their workers take connections themselves. */
  serveDirectly(sink: ConnectionSink, logFile: string): void {
    this.direct = { sink, logFile };
  }

  /**
   * Hand a new connection to the workers of the version that takes all of the stage's traffic (the
   * pinned one, or the alias's when no canary splits it), if they are warm; false: the server keeps it.
   */
  adopt(socket: Socket): boolean {
    let version: number | undefined = this.pinned;
    if (version === undefined) {
      const alias = this.aliasCache?.stamp === this.aliasStamp() ? this.aliasCache.alias : undefined;
      if (!alias || alias.canary || alias.version === null) return false; // the server's path reads the alias anew
      version = Number(alias.version);
    }
    return this.pools.get(version)?.adopt(socket) ?? false;
  }

  /** What a version's workers are started with (`memoryMb`: what they may use; the config's unless tuning). */
  spec(version: LocalVersion, memoryMb = this.config.resources.memory): WorkerSpec {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.env)) if (v !== undefined && PASS_THROUGH.test(k)) env[k] = v;
    Object.assign(env, this.config.environment, {
      AWS_LAMBDA_FUNCTION_NAME: this.functionName,
      AWS_LAMBDA_FUNCTION_VERSION: String(version.version),
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb),
      MLSERVE_VERSION: String(version.version),
      MLSERVE_STAGE: this.stage,
    });
    return {
      python: version.python,
      bundleDir: this.store.versionDir(version.version),
      env,
      timeoutMs: this.config.resources.timeout * 1000,
      memoryMb,
      onLog: (line, pid) => this.onLog?.(line, version.version, pid),
      // A bundle made before direct serving has no direct.py: its workers are started as before.
      ...(this.direct && existsSync(join(this.store.versionDir(version.version), 'mlserve_runtime/direct.py'))
        ? { direct: { ...this.direct, aliasFile: this.store.aliasFile, version: version.version, pinned: this.pinned !== undefined, maxPayload: localPlatform.maxPayloadBytes } }
        : {}),
    };
  }

  pool(version: LocalVersion): WorkerPool {
    let pool = this.pools.get(version.version);
    if (!pool) {
      pool = new WorkerPool(this.spec(version), poolSize(this.config));
      this.pools.set(version.version, pool);
    }
    return pool;
  }

  async invoke(event: unknown, qualifier?: string, requestId: string = randomUUID()): Promise<{ outcome: Outcome; version: LocalVersion }> {
    const version = await this.resolve(qualifier);
    return { outcome: await this.pool(version).invoke(event, requestId), version };
  }

  allPids(): number[] {
    return [...this.pools.values()].flatMap((p) => p.pids());
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    this.pools.clear();
  }
}

/**
 * Workers per version: local.workers, else one per core of this machine (a Python worker is
 * single-threaded for predict, so more workers than cores only adds memory and cold starts), never
 * more than resources.concurrency when that is set.
 */
export function poolSize(config: Config): number {
  return config.local.workers ?? Math.min(availableParallelism(), config.resources.concurrency ?? Infinity);
}
