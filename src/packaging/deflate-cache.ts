import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { readTextIfExists, statIfExists, writeFileAtomic } from '../core/fs.js';

/** Where one deflate stream lies: a pack file in the cache, and its offset and length there. */
export interface PackedStream {
  pack: string;
  offset: number;
  length: number;
}

interface IndexFile {
  version: 1;
  /** Pack file name → its size when written (a pack of another size is not trusted). */
  packs: Record<string, number>;
  /** Content SHA-256 → [pack, offset, length]. */
  streams: Record<string, [string, number, number]>;
}

const INDEX = 'index.json';

/**
 * Deflate streams kept by the SHA-256 of their content, in pack files: each build that deflated
 * something new appends one or more packs (written whole, fsynced, then renamed into place, never
 * changed after), and `index.json` maps each content to its place. One file per build instead of
 * one per entry: creating 3,000 small cache files cost a cold package 2 s of system time here.
 * A pack that is missing or not the size the index recorded is ignored, so a cache cut short by a
 * crash or a partial clean-up costs a deflate, never a wrong byte.
 */
export class DeflateCache {
  private readonly added: IndexFile = { version: 1, packs: {}, streams: {} };

  private constructor(
    readonly dir: string,
    private readonly streams: Map<string, PackedStream>,
    /** Packs in the index that are gone or the wrong size: dropped from it (and removed) on save. */
    private readonly broken: string[],
  ) {}

  static async open(dir: string): Promise<DeflateCache> {
    const index = await readIndex(dir);
    const broken: string[] = [];
    for (const [pack, size] of Object.entries(index.packs)) {
      if ((await statIfExists(join(dir, pack)))?.size !== size) broken.push(pack);
    }
    const streams = new Map<string, PackedStream>();
    for (const [sha256, [pack, offset, length]] of Object.entries(index.streams)) {
      if (!broken.includes(pack)) streams.set(sha256, { pack, offset, length });
    }
    return new DeflateCache(dir, streams, broken);
  }

  get(sha256: string): PackedStream | undefined {
    return this.streams.get(sha256);
  }

  /** Every content this cache holds a stream of. */
  known(): Set<string> {
    return new Set(this.streams.keys());
  }

  /** Write streams as one new pack and index them (in memory until `save`). */
  async pack(streams: { sha256: string; data: Buffer }[]): Promise<PackedStream[]> {
    await mkdir(this.dir, { recursive: true });
    const { name, tmp } = this.newPack();
    const handle = await open(tmp, 'wx', 0o644);
    const placed: PackedStream[] = [];
    let offset = 0;
    try {
      for (const s of streams) {
        placed.push({ pack: name, offset, length: s.data.length });
        offset += s.data.length;
      }
      await writeAll(handle, streams.map((s) => s.data));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await this.publish(tmp, name, offset);
    streams.forEach((s, i) => this.remember(s.sha256, placed[i]!));
    return placed;
  }

  /** A temp file in the cache for a stream the caller writes itself, then hands to `adopt`. */
  async tempFile(): Promise<{ name: string; tmp: string }> {
    await mkdir(this.dir, { recursive: true });
    return this.newPack();
  }

  /** Take a temp file written by the caller as a pack holding one stream. */
  async adopt(file: { name: string; tmp: string }, sha256: string): Promise<PackedStream> {
    const handle = await open(file.tmp, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    const { size } = await stat(file.tmp);
    await this.publish(file.tmp, file.name, size);
    const placed = { pack: file.name, offset: 0, length: size };
    this.remember(sha256, placed);
    return placed;
  }

  /** Merge this run's packs into the index on disk, re-read first so another mlserve's additions stay. */
  async save(): Promise<void> {
    if (Object.keys(this.added.packs).length === 0 && this.broken.length === 0) return;
    const index = await readIndex(this.dir);
    for (const pack of this.broken) delete index.packs[pack];
    for (const [sha256, [pack]] of Object.entries(index.streams)) if (this.broken.includes(pack)) delete index.streams[sha256];
    Object.assign(index.packs, this.added.packs);
    Object.assign(index.streams, this.added.streams);
    await writeFileAtomic(join(this.dir, INDEX), JSON.stringify(index));
    // Listed but unusable: nothing can read them any more.
    await Promise.all(this.broken.map((pack) => rm(join(this.dir, pack), { force: true })));
  }

  private newPack(): { name: string; tmp: string } {
    const name = `${randomBytes(8).toString('hex')}.pack`;
    return { name, tmp: join(this.dir, `.${name}.tmp`) };
  }

  private async publish(tmp: string, name: string, size: number): Promise<void> {
    try {
      await rename(tmp, join(this.dir, name));
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
    this.added.packs[name] = size;
  }

  private remember(sha256: string, placed: PackedStream): void {
    this.streams.set(sha256, placed);
    this.added.streams[sha256] = [placed.pack, placed.offset, placed.length];
  }
}

async function readIndex(dir: string): Promise<IndexFile> {
  const text = await readTextIfExists(join(dir, INDEX));
  try {
    const index = text ? (JSON.parse(text) as IndexFile) : undefined;
    if (index?.version === 1 && index.packs && index.streams) return index;
  } catch {
    // unreadable: start afresh (it is only a cache; writeFileAtomic means this is not a torn write)
  }
  return { version: 1, packs: {}, streams: {} };
}

/** Every buffer, in order, in as few writes as the kernel allows. */
export async function writeAll(handle: FileHandle, buffers: Buffer[]): Promise<void> {
  for (let i = 0; i < buffers.length; i += 512) {
    const batch = buffers.slice(i, i + 512);
    const total = batch.reduce((n, b) => n + b.length, 0);
    const { bytesWritten } = await handle.writev(batch);
    // A short write is allowed by writev(2): write what is left.
    let rest = bytesWritten < total ? Buffer.concat(batch).subarray(bytesWritten) : Buffer.alloc(0);
    while (rest.length > 0) rest = rest.subarray((await handle.write(rest)).bytesWritten);
  }
}

/**
 * Reads of packed streams in the order a zip is written. The caller says how many bytes of the pack
 * follow on from each stream in that order (`run`), so consecutive streams of a pack are one read.
 */
export class PackReader {
  private readonly handles = new Map<string, FileHandle>();
  private window: { pack: string; start: number; data: Buffer } | undefined;

  constructor(private readonly dir: string) {}

  async *chunks(s: PackedStream, run: number): AsyncGenerator<Buffer> {
    if (s.length > WINDOW) {
      yield* createReadStream(join(this.dir, s.pack), { start: s.offset, end: s.offset + s.length - 1, highWaterMark: 4 * 1024 * 1024 }) as AsyncIterable<Buffer>;
      return;
    }
    const w = this.window;
    if (!w || w.pack !== s.pack || s.offset < w.start || s.offset + s.length > w.start + w.data.length) {
      this.window = await this.read(s, Math.min(WINDOW, Math.max(run, s.length)));
    }
    const { start, data } = this.window!;
    yield data.subarray(s.offset - start, s.offset - start + s.length);
  }

  async close(): Promise<void> {
    await Promise.all([...this.handles.values()].map((h) => h.close()));
    this.handles.clear();
  }

  private async read(s: PackedStream, bytes: number): Promise<{ pack: string; start: number; data: Buffer }> {
    let handle = this.handles.get(s.pack);
    if (!handle) this.handles.set(s.pack, (handle = await open(join(this.dir, s.pack), 'r')));
    const data = Buffer.allocUnsafe(bytes);
    let got = 0;
    for (let n = -1; n !== 0 && got < bytes; got += n) n = (await handle.read(data, got, bytes - got, s.offset + got)).bytesRead;
    if (got < bytes) throw new Error(`the deflate cache's ${join(this.dir, s.pack)} is shorter than its index says: delete ${this.dir} and package again`);
    return { pack: s.pack, start: s.offset, data };
  }
}

/** Most bytes read from a pack at once; a longer stream is streamed. */
const WINDOW = 16 * 1024 * 1024;
