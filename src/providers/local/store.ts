import type { PackagedBundle } from '../../packaging/packaged.js';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { MlserveError } from '../../core/errors.js';
import { readTextIfExists, writeFileAtomic } from '../../core/fs.js';
import type { AliasRecord } from '../alias.js';

/** What is recorded with each local version (inside its directory). */
export interface LocalVersion {
  version: number;
  created: string;
  bundleSha256: string;
  modelSha256: string;
  python: string;
  description: string;
}

/** The stage alias, in the one shape every provider uses (see providers/alias.ts). */
export type LocalAlias = AliasRecord;

const VERSION_FILE = '.mlserve-version.json';

/**
 * The local provider's store for one app and stage: `versions/<n>/` holds an extracted bundle
 * (immutable once renamed into place) and `alias.json` where the stage points. The version
 * directories are the source of truth, so an interrupted deploy converges on the next run.
 */
export class LocalStore {
  constructor(readonly root: string) {}

  get versionsDir(): string {
    return join(this.root, 'versions');
  }

  versionDir(n: number): string {
    return join(this.versionsDir, String(n));
  }

  /** One version's record, or undefined when it does not exist. */
  async get(n: number): Promise<LocalVersion | undefined> {
    const meta = await readTextIfExists(join(this.versionDir(n), VERSION_FILE));
    return meta ? (JSON.parse(meta) as LocalVersion) : undefined;
  }

  async list(): Promise<LocalVersion[]> {
    const names = await readdir(this.versionsDir).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? [] : Promise.reject(error)));
    const out: LocalVersion[] = [];
    for (const name of names.filter((n) => /^\d+$/.test(n))) {
      const meta = await readTextIfExists(join(this.versionsDir, name, VERSION_FILE));
      if (meta) out.push(JSON.parse(meta) as LocalVersion);
    }
    return out.sort((a, b) => a.version - b.version);
  }

  /**
   * Run `fn` holding the stage's lock (a lock file beside the stage directory, taken with
   * proper-lockfile: stale after a minute, so a killed deploy never blocks the next one). Every
   * change to versions and the alias goes through here, so concurrent deploys and promotes queue.
   */
  async locked<T>(fn: () => Promise<T>): Promise<T> {
    await mkdir(dirname(this.root), { recursive: true });
    // Loaded here, like the zip reader below: `serve` and `invoke` never lock or extract.
    const { default: lockfile } = await import('proper-lockfile');
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(this.root, { realpath: false, lockfilePath: `${this.root}.lock`, stale: 60_000, retries: { retries: 600, minTimeout: 50, maxTimeout: 250 } });
    } catch (error) {
      throw new MlserveError('PROVIDER_ERROR', `stage ${this.root} is locked by another mlserve: ${(error as Error).message}`, { hint: 'wait for the other deploy or promote to finish, then run again', cause: error });
    }
    try {
      return await fn();
    } finally {
      await release();
    }
  }

  /** Add a bundle (a zip, or an image's layers) as a new version, or return the existing version with the same bundle SHA-256. Call under `locked`. */
  async publish(bundle: Pick<PackagedBundle, 'path' | 'image'>, meta: Omit<LocalVersion, 'version' | 'created'>): Promise<{ version: LocalVersion; published: boolean }> {
    const existing = (await this.list()).find((v) => v.bundleSha256 === meta.bundleSha256);
    if (existing) return { version: existing, published: false };
    await mkdir(this.versionsDir, { recursive: true });
    await this.removeLeftovers();
    const tmp = join(this.versionsDir, `next.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
    if (bundle.image) {
      // An image: its own layers (handler, dependencies, model), the files Lambda would run.
      await (await import('../../packaging/image/unpack.js')).unpackImage(bundle.image, tmp);
    } else {
      const { extractZip } = await import('../../packaging/extract.js');
      await extractZip(bundle.path, tmp);
    }
    const next = ((await this.list()).at(-1)?.version ?? 0) + 1;
    const version: LocalVersion = { ...meta, version: next, created: new Date().toISOString() };
    await writeFileAtomic(join(tmp, VERSION_FILE), `${JSON.stringify(version, null, 2)}\n`);
    await rename(tmp, this.versionDir(next));
    return { version, published: true };
  }

  /** Half-extracted versions left by a publish that was killed: only those whose process is gone. */
  private async removeLeftovers(): Promise<void> {
    for (const name of await readdir(this.versionsDir)) {
      const pid = /\.tmp-(\d+)-/.exec(name)?.[1];
      if (pid && !alive(Number(pid))) await rm(join(this.versionsDir, name), { recursive: true, force: true });
    }
  }

  get aliasFile(): string {
    return join(this.root, 'alias.json');
  }

  async alias(): Promise<LocalAlias> {
    const text = await readTextIfExists(this.aliasFile);
    return text ? (JSON.parse(text) as LocalAlias) : { version: null, history: [] };
  }

  async setAlias(alias: LocalAlias): Promise<void> {
    await writeFileAtomic(this.aliasFile, `${JSON.stringify(alias, null, 2)}\n`);
  }

  /** Read, change and write the alias under the stage lock; returns the new alias. */
  async updateAlias(change: (alias: LocalAlias) => LocalAlias | Promise<LocalAlias>): Promise<LocalAlias> {
    return this.locked(async () => {
      const next = await change(await this.alias());
      await this.setAlias(next);
      return next;
    });
  }

  async exists(): Promise<boolean> {
    return stat(this.root).then(() => true, () => false);
  }

  async remove(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
