import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../core/fs.js';
import type { AliasRecord } from '../alias.js';
import { extractZip } from './extract.js';

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
    const meta = await readFile(join(this.versionDir(n), VERSION_FILE), 'utf8').catch(() => undefined);
    return meta ? (JSON.parse(meta) as LocalVersion) : undefined;
  }

  async list(): Promise<LocalVersion[]> {
    const names = await readdir(this.versionsDir).catch(() => [] as string[]);
    const out: LocalVersion[] = [];
    for (const name of names.filter((n) => /^\d+$/.test(n))) {
      const meta = await readFile(join(this.versionsDir, name, VERSION_FILE), 'utf8').catch(() => undefined);
      if (meta) out.push(JSON.parse(meta) as LocalVersion);
    }
    return out.sort((a, b) => a.version - b.version);
  }

  /** Add a bundle as a new version, or return the existing version with the same bundle SHA-256. */
  async publish(zipPath: string, meta: Omit<LocalVersion, 'version' | 'created'>): Promise<{ version: LocalVersion; published: boolean }> {
    const existing = (await this.list()).find((v) => v.bundleSha256 === meta.bundleSha256);
    if (existing) return { version: existing, published: false };
    await mkdir(this.versionsDir, { recursive: true });
    // Leftovers of an interrupted publish are never a version: clear them.
    for (const name of await readdir(this.versionsDir)) if (name.includes('.tmp-')) await rm(join(this.versionsDir, name), { recursive: true, force: true });
    const tmp = join(this.versionsDir, `next.tmp-${randomBytes(4).toString('hex')}`);
    await extractZip(zipPath, tmp);
    for (;;) {
      const next = ((await this.list()).at(-1)?.version ?? 0) + 1;
      const version: LocalVersion = { ...meta, version: next, created: new Date().toISOString() };
      await writeFileAtomic(join(tmp, VERSION_FILE), `${JSON.stringify(version, null, 2)}\n`);
      try {
        await rename(tmp, this.versionDir(next));
        return { version, published: true };
      } catch (error) {
        // Another deploy took that number first: try the next one.
        if (!(await stat(this.versionDir(next)).then(() => true, () => false))) throw error;
      }
    }
  }

  get aliasFile(): string {
    return join(this.root, 'alias.json');
  }

  async alias(): Promise<LocalAlias> {
    const text = await readFile(this.aliasFile, 'utf8').catch(() => undefined);
    return text ? (JSON.parse(text) as LocalAlias) : { version: null, history: [] };
  }

  async setAlias(alias: LocalAlias): Promise<void> {
    await writeFileAtomic(this.aliasFile, `${JSON.stringify(alias, null, 2)}\n`);
  }

  async exists(): Promise<boolean> {
    return stat(this.root).then(() => true, () => false);
  }

  async remove(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}
