import type { ContainerClient } from '@azure/storage-blob';
import { MlserveError } from '../../core/errors.js';
import type { AliasRecord } from '../alias.js';

/** One published package: immutable, content-addressed, numbered in publish order. */
export interface BlobVersion {
  version: string;
  created: string;
  bundleSha256: string;
  modelSha256: string;
  /** The package's blob: `<app>/<stage>/packages/<sha256>.zip`. */
  key: string;
}

interface Versioned<T> {
  value: T;
  /** The blob's ETag when read (undefined: it does not exist yet). */
  etag: string | undefined;
}

const ATTEMPTS = 20;

/**
 * Versions without deployment slots (Flex Consumption has none): every published package kept in
 * Blob Storage under its SHA-256, a versions index (`versions.json`) and the stage's pointer
 * (`stage.json`, the alias record every provider shares) beside them. Each index or pointer change
 * is a read, a change and a conditional write (If-Match its ETag, or If-None-Match * when new),
 * retried when another mlserve wrote in between: concurrent deploys never lose a version.
 */
export class BlobVersions {
  constructor(
    private readonly container: ContainerClient,
    /** `<app>/<stage>`. */
    private readonly prefix: string,
  ) {}

  /** Upload the package unless its SHA-256 is already there, and number it; an already published package is returned as it is. */
  async publish(file: string, meta: { bundleSha256: string; modelSha256: string }): Promise<{ version: BlobVersion; published: boolean; uploaded: string[] }> {
    const key = `${this.prefix}/packages/${meta.bundleSha256}.zip`;
    const uploaded = (await uploadOnce(this.container, key, file, meta.bundleSha256)) ? [key] : [];
    let result: { version: BlobVersion; published: boolean } | undefined;
    await this.change<BlobVersion[]>('versions.json', [], (versions) => {
      const existing = versions.find((v) => v.bundleSha256 === meta.bundleSha256);
      if (existing) {
        result = { version: existing, published: false };
        return undefined;
      }
      const version: BlobVersion = { version: String(Math.max(0, ...versions.map((v) => Number(v.version))) + 1), created: new Date().toISOString(), ...meta, key };
      result = { version, published: true };
      return [...versions, version];
    });
    return { ...result!, uploaded };
  }

  async list(): Promise<BlobVersion[]> {
    return (await this.read<BlobVersion[]>('versions.json', [])).value;
  }

  async alias(): Promise<AliasRecord> {
    return (await this.read<AliasRecord>('stage.json', { version: null, history: [] })).value;
  }

  /** Change the stage's pointer with `fn` (conditionally written; `fn` may run again on a conflict). */
  async setAlias(fn: (alias: AliasRecord) => AliasRecord): Promise<AliasRecord> {
    let next: AliasRecord | undefined;
    await this.change<AliasRecord>('stage.json', { version: null, history: [] }, (alias) => (next = fn(alias)));
    return next!;
  }

  /** Forget `versions` and delete their packages (callers never pass one the pointer uses). */
  async remove(versions: string[]): Promise<void> {
    let gone: BlobVersion[] = [];
    await this.change<BlobVersion[]>('versions.json', [], (all) => {
      gone = all.filter((v) => versions.includes(v.version));
      return all.filter((v) => !versions.includes(v.version));
    });
    for (const v of gone) await this.container.getBlockBlobClient(v.key).deleteIfExists();
  }

  /** The JSON blob and the ETag of exactly the bytes read (one download: its response carries both). */
  private async read<T>(name: string, empty: T): Promise<Versioned<T>> {
    try {
      const response = await this.container.getBlockBlobClient(`${this.prefix}/${name}`).download();
      const chunks: Buffer[] = [];
      for await (const chunk of response.readableStreamBody!) chunks.push(chunk as Buffer);
      return { value: JSON.parse(Buffer.concat(chunks).toString('utf8')) as T, etag: response.etag };
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return { value: empty, etag: undefined };
      throw error;
    }
  }

  /** Read, change, write only if nothing changed it meanwhile; `fn` returning undefined writes nothing. */
  private async change<T>(name: string, empty: T, fn: (value: T) => T | undefined): Promise<void> {
    const blob = this.container.getBlockBlobClient(`${this.prefix}/${name}`);
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const { value, etag } = await this.read(name, empty);
      const next = fn(value);
      if (next === undefined) return;
      const text = `${JSON.stringify(next, null, 2)}\n`;
      try {
        await blob.upload(text, Buffer.byteLength(text), {
          blobHTTPHeaders: { blobContentType: 'application/json' },
          conditions: etag ? { ifMatch: etag } : { ifNoneMatch: '*' },
        });
        return;
      } catch (error) {
        const status = (error as { statusCode?: number }).statusCode;
        if (status !== 412 && status !== 409) throw error; // another writer won: read again
        await new Promise((r) => setTimeout(r, 20 + Math.random() * 80 * (attempt + 1)));
      }
    }
    throw new MlserveError('PROVIDER_ERROR', `${this.prefix}/${name} kept changing under this deploy (${ATTEMPTS} attempts)`, { hint: 'another mlserve is changing this stage: wait for it, then run again' });
  }
}

/** Upload `file` to `key` unless a blob with this SHA-256 (in its metadata) is there. Returns whether it uploaded. */
export async function uploadOnce(container: ContainerClient, key: string, file: string, sha256: string, contentType = 'application/zip'): Promise<boolean> {
  const blob = container.getBlockBlobClient(key);
  const props = await blob.getProperties().catch((error: { statusCode?: number }) => (error.statusCode === 404 ? undefined : Promise.reject(error)));
  if (props?.metadata?.sha256 === sha256) return false;
  await blob.uploadFile(file, { metadata: { sha256 }, blobHTTPHeaders: { blobContentType: contentType } });
  return true;
}
