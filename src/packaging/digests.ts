import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { readTextIfExists, writeFileAtomic } from '../core/fs.js';

/** What mlserve needs of a file's content: SHA-256 (manifests, offload keys, the deflate cache) and CRC-32 (zip). */
export interface Digest {
  sha256: string;
  crc32: number;
  size: number;
}

/** What tells a file apart from the one a digest was taken of. */
export interface FileIdentity {
  size: number;
  mtimeMs: number;
  ino: number;
}

interface Entry extends Digest {
  mtimeMs: number;
  ino: number;
}

/**
 * Digests of files, remembered by (path, size, mtime, inode) in a state file, so a file is read
 * again only when one of those changed: an unchanged 400 MiB model directory costs a stat per file.
 */
export class Digests {
  private readonly entries: Map<string, Entry>;
  private dirty = false;

  private constructor(private readonly file: string | undefined, entries: Record<string, Entry>) {
    this.entries = new Map(Object.entries(entries));
  }

  /** Load the state file (a missing or unreadable one starts empty: it is only a cache). */
  static async open(file?: string): Promise<Digests> {
    const text = file ? await readTextIfExists(file) : undefined;
    let entries: Record<string, Entry> = {};
    try {
      if (text) entries = JSON.parse(text) as Record<string, Entry>;
    } catch {
      entries = {}; // a state file cut short by a crash: every file is read once more
    }
    return new Digests(file, entries);
  }

  async of(path: string): Promise<Digest> {
    const info = await stat(path);
    return this.known(path, info) ?? this.remember(path, info, await digestFile(path));
  }

  /** The remembered digest when the file is still the one it was taken of, else undefined. */
  known(path: string, info: FileIdentity): Digest | undefined {
    const known = this.entries.get(path);
    return known && known.size === info.size && known.mtimeMs === info.mtimeMs && known.ino === info.ino ? known : undefined;
  }

  /** Remember a digest the caller computed from the file's bytes (read for another purpose anyway). */
  remember(path: string, info: FileIdentity, digest: Digest): Digest {
    this.entries.set(path, { ...digest, mtimeMs: info.mtimeMs, ino: info.ino });
    this.dirty = true;
    return digest;
  }

  /** Write the state back (atomically), keeping only the paths used this time. */
  async save(used: Iterable<string>): Promise<void> {
    if (!this.file) return;
    const keep = new Set(used);
    if (!this.dirty && keep.size === this.entries.size) return;
    const out: Record<string, Entry> = {};
    for (const path of [...keep].sort()) {
      const e = this.entries.get(path);
      if (e) out[path] = e;
    }
    await writeFileAtomic(this.file, JSON.stringify(out));
  }
}

/** SHA-256 and CRC-32 of a file in one streamed read. */
export async function digestFile(path: string): Promise<Digest> {
  const hash = createHash('sha256');
  let crc = 0;
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    crc = crc32(chunk, crc);
    size += chunk.length;
  }
  return { sha256: hash.digest('hex'), crc32: crc, size };
}

export function digestBuffer(data: Buffer): Digest {
  return { sha256: createHash('sha256').update(data).digest('hex'), crc32: crc32(data), size: data.length };
}
