import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type Stats } from 'node:fs';
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createDeflateRaw, deflateRawSync } from 'node:zlib';
import { DeflateCache, PackReader, writeAll as writeBuffers, type PackedStream } from './deflate-cache.js';
import { deflateFiles } from './deflate-pool.js';
import { digestBuffer, type Digest, type Digests } from './digests.js';

/** One entry of the zip: its name in the archive, where its bytes come from, and whether to store it. */
export interface ZipInput {
  name: string;
  source: { path: string } | { data: Buffer };
  mode: number;
  store: boolean;
}

/** Where an entry's bytes in the zip come from: the source itself (stored), a new deflate stream, or a cached one. */
type Payload = { path: string } | { data: Buffer } | { packed: PackedStream };

interface Prepared {
  input: ZipInput;
  digest: Digest;
  method: 0 | 8;
  payload: Payload;
  compressedSize: number;
}

const LEVEL = 6;
/** Files up to this size are deflated whole in memory (on worker threads); larger ones as a stream. */
const IN_MEMORY = 32 * 1024 * 1024;
/** New deflate streams held in memory for the write; beyond it they go to the cache and are read back. */
const MEMORY_BUDGET = 512 * 1024 * 1024;
/** Bytes gathered before one write to the zip: a write per entry was thousands of round trips. */
const WRITE_BATCH = 8 * 1024 * 1024;
/** DOS date 1980-01-01 00:00 (the epoch of the format): every entry carries it. */
const DOS_TIME = 0;
const DOS_DATE = (1 << 5) | 1;
const UTF8 = 0x0800;

/**
 * Write a deterministic zip: entries in the given order, one fixed date, normalized modes. Files are
 * digested and deflated on every core (deflate-pool.ts), and each deflate stream is kept in
 * `cacheDir` by the content's SHA-256 and the level (deflate-cache.ts): a rebuild after a model
 * change deflates only what changed and copies the rest as raw deflate streams. The bytes are the
 * same whether an entry came from the cache or not. Returns the zip's SHA-256 and size, and each
 * entry's digest (for the manifest: nothing is read twice).
 *
 * Hand-written (the format here, the pool and the cache beside it) because no maintained zip
 * library writes an entry from an already-deflated stream: archiver, yazl and zip-stream all
 * compress what they are given.
 */
export async function writeDeterministicZip(
  inputs: ZipInput[],
  out: string,
  o: { cacheDir: string; digests: Digests },
): Promise<{ sha256: string; bytes: number; entries: Map<string, Digest> }> {
  const cache = await DeflateCache.open(join(o.cacheDir, `deflate-${LEVEL}-packs`));
  const fresh = new FreshStreams(cache);
  const prepared = await prepareAll(inputs, o.digests, cache, fresh);
  // The new streams go into the cache while the zip is written from memory.
  const [written] = await Promise.all([writeZipFile(prepared, out, cache.dir), fresh.finish()]);
  await cache.save();
  // The cache's first layout (a file per stream, before the packs): nothing reads it any more.
  await rm(join(o.cacheDir, `deflate-${LEVEL}`), { recursive: true, force: true });
  return { ...written, entries: new Map(prepared.map((p) => [p.input.name, p.digest])) };
}

/** The zip at `out`, written whole to a temp file beside it, synced, then renamed into place. */
async function writeZipFile(prepared: Prepared[], out: string, packDir: string): Promise<{ sha256: string; bytes: number }> {
  await mkdir(dirname(out), { recursive: true });
  const tmp = `${out}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(tmp, 'w');
  const packs = new PackReader(packDir);
  try {
    const written = await writeEntries(handle, prepared, packs);
    await handle.sync();
    await handle.close();
    await rename(tmp, out);
    return written;
  } catch (error) {
    await handle.close().catch(() => undefined); // already closed after a failed rename
    await rm(tmp, { force: true });
    throw error;
  } finally {
    await packs.close();
  }
}

/**
 * Every entry's digest and payload. Stored entries and cached contents whose files are unchanged
 * (by their remembered digest) are settled here without reading them; the rest are read, digested
 * and deflated once, on every core, and their new streams added to the cache.
 */
async function prepareAll(inputs: ZipInput[], digests: Digests, cache: DeflateCache, fresh: FreshStreams): Promise<Prepared[]> {
  const prepared = new Array<Prepared>(inputs.length);
  const toDeflate: { index: number; path: string; size: number; info: Stats }[] = [];
  const large: number[] = [];
  await mapLimit(inputs.map((_, i) => i), 64, async (index) => {
    const input = inputs[index]!;
    if (input.store) {
      const digest = 'data' in input.source ? digestBuffer(input.source.data) : await digests.of(input.source.path);
      prepared[index] = { input, digest, method: 0, payload: input.source, compressedSize: digest.size };
    } else if ('data' in input.source) {
      const digest = digestBuffer(input.source.data);
      const hit = cache.get(digest.sha256);
      if (hit) prepared[index] = packed(input, digest, hit);
      else prepared[index] = fresh.add(index, input, digest, deflateRawSync(input.source.data, { level: LEVEL }));
    } else {
      const info = await stat(input.source.path);
      const known = digests.known(input.source.path, info);
      const hit = known && cache.get(known.sha256);
      if (known && hit) prepared[index] = packed(input, known, hit);
      else if (info.size > IN_MEMORY) large.push(index);
      else toDeflate.push({ index, path: input.source.path, size: info.size, info });
    }
  });
  const small = deflateFiles(toDeflate, LEVEL, cache.known(), (k, r) => {
    const { index, path, info } = toDeflate[k]!;
    digests.remember(path, info, r.digest);
    // No stream back: the worker found the content in the cache's list.
    if (r.data) prepared[index] = fresh.add(index, inputs[index]!, r.digest, r.data);
    else prepared[index] = packed(inputs[index]!, r.digest, cache.get(r.digest.sha256)!);
  });
  // Large files stream through zlib on libuv's pool meanwhile.
  const big = mapLimit(large, 2, async (index) => {
    prepared[index] = await deflateLarge(inputs[index]!, digests, cache);
  });
  await Promise.all([small, big]);
  await fresh.spilled();
  return prepared;
}

const packed = (input: ZipInput, digest: Digest, s: PackedStream): Prepared => ({ input, digest, method: 8, payload: { packed: s }, compressedSize: s.length });

/** A file too large to hold in memory: digested, then (unless cached) deflated as a stream into a pack of its own. */
async function deflateLarge(input: ZipInput, digests: Digests, cache: DeflateCache): Promise<Prepared> {
  const path = (input.source as { path: string }).path;
  const digest = await digests.of(path);
  const hit = cache.get(digest.sha256);
  if (hit) return packed(input, digest, hit);
  const file = await cache.tempFile();
  try {
    await pipeline(createReadStream(path), createDeflateRaw({ level: LEVEL }), createWriteStream(file.tmp, { flags: 'wx' }));
  } catch (error) {
    await rm(file.tmp, { force: true });
    throw error;
  }
  return packed(input, digest, await cache.adopt(file, digest.sha256));
}

/**
 * New deflate streams: held in memory for the write, and packed into the cache in the zip's order
 * (so the next build reads them back in long runs). Past the memory budget, what is held is packed
 * at once and read back from the pack when the zip is written.
 */
class FreshStreams {
  private held: [number, Prepared][] = [];
  private bytes = 0;
  private packing: Promise<void> = Promise.resolve();

  constructor(private readonly cache: DeflateCache) {}

  add(index: number, input: ZipInput, digest: Digest, data: Buffer): Prepared {
    const p: Prepared = { input, digest, method: 8, payload: { data }, compressedSize: data.length };
    this.held.push([index, p]);
    this.bytes += data.length;
    if (this.bytes > MEMORY_BUDGET) this.spill();
    return p;
  }

  /** Settled once every spilled stream is in the cache (and its entry reads it from there). */
  spilled(): Promise<void> {
    return this.packing;
  }

  /** Pack what is still held. */
  async finish(): Promise<void> {
    await this.packing;
    await this.write(this.take());
  }

  private spill(): void {
    const batch = this.take();
    this.packing = this.packing.then(async () => {
      const placed = await this.write(batch);
      for (const [, q] of batch) q.payload = { packed: placed.get(q.digest.sha256)! };
    });
    this.packing.catch(() => undefined); // raised where it is awaited
  }

  private take(): [number, Prepared][] {
    const batch = this.held.sort((a, b) => a[0] - b[0]);
    this.held = [];
    this.bytes = 0;
    return batch;
  }

  /** One pack of these streams, in zip order, each content once. */
  private async write(batch: [number, Prepared][]): Promise<Map<string, PackedStream>> {
    const streams = new Map<string, Buffer>();
    for (const [, p] of batch) if (!streams.has(p.digest.sha256)) streams.set(p.digest.sha256, (p.payload as { data: Buffer }).data);
    if (streams.size === 0) return new Map();
    const placed = await this.cache.pack([...streams].map(([sha256, data]) => ({ sha256, data })));
    return new Map([...streams.keys()].map((sha256, i) => [sha256, placed[i]!]));
  }
}

/** Local headers and data in order, then the central directory and its end record, in large writes. */
async function writeEntries(handle: FileHandle, entries: Prepared[], packs: PackReader): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let offset = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const write = async (chunk: Buffer) => {
    hash.update(chunk);
    offset += chunk.length;
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes < WRITE_BATCH) return;
    await writeBuffers(handle, pending);
    pending = [];
    pendingBytes = 0;
  };
  const runs = packedRuns(entries);
  const central: Buffer[] = [];
  for (const [i, e] of entries.entries()) {
    const name = Buffer.from(e.input.name, 'utf8');
    if (offset > 0xfffffffe || e.compressedSize > 0xfffffffe || e.digest.size > 0xfffffffe) {
      throw new Error(`the bundle is over 4 GB at ${e.input.name}: too big for a zip without ZIP64 (and for any function platform)`);
    }
    central.push(centralHeader(e, name, offset));
    await write(localHeader(e, name));
    if ('data' in e.payload) await write(e.payload.data);
    else if ('packed' in e.payload) for await (const chunk of packs.chunks(e.payload.packed, runs[i]!)) await write(chunk);
    else for await (const chunk of createReadStream(e.payload.path, { highWaterMark: 4 * 1024 * 1024 }) as AsyncIterable<Buffer>) await write(chunk);
  }
  if (entries.length > 0xfffe) throw new Error(`the bundle has ${entries.length} files: too many for a zip without ZIP64`);
  const start = offset;
  for (const c of central) await write(c);
  await write(endRecord(entries.length, offset - start, start));
  await writeBuffers(handle, pending);
  return { sha256: hash.digest('hex'), bytes: offset };
}

/** For each packed entry, the bytes of its pack that the next entries read on from it (one read for a run). */
function packedRuns(entries: Prepared[]): number[] {
  const runs = new Array<number>(entries.length).fill(0);
  for (let i = entries.length - 1; i >= 0; i--) {
    const here = entries[i]!.payload;
    if (!('packed' in here)) continue;
    const next = entries[i + 1]?.payload;
    const follows = next && 'packed' in next && next.packed.pack === here.packed.pack && next.packed.offset === here.packed.offset + here.packed.length;
    runs[i] = here.packed.length + (follows ? runs[i + 1]! : 0);
  }
  return runs;
}

/** Method, date, CRC-32 and sizes: the same 18 bytes in the local and the central header. */
function entryFields(b: Buffer, at: number, e: Prepared): void {
  b.writeUInt16LE(e.method, at);
  b.writeUInt16LE(DOS_TIME, at + 2);
  b.writeUInt16LE(DOS_DATE, at + 4);
  b.writeUInt32LE(e.digest.crc32 >>> 0, at + 6);
  b.writeUInt32LE(e.compressedSize, at + 10);
  b.writeUInt32LE(e.digest.size, at + 14);
}

function localHeader(e: Prepared, name: Buffer): Buffer {
  const b = Buffer.alloc(30);
  b.writeUInt32LE(0x04034b50, 0);
  b.writeUInt16LE(20, 4);
  b.writeUInt16LE(UTF8, 6);
  entryFields(b, 8, e);
  b.writeUInt16LE(name.length, 26);
  b.writeUInt16LE(0, 28);
  return Buffer.concat([b, name]);
}

function centralHeader(e: Prepared, name: Buffer, offset: number): Buffer {
  const mode = e.input.mode & 0o111 ? 0o755 : 0o644;
  const b = Buffer.alloc(46);
  b.writeUInt32LE(0x02014b50, 0);
  b.writeUInt16LE((3 << 8) | 20, 4); // made by UNIX, so the external attributes carry the mode
  b.writeUInt16LE(20, 6);
  b.writeUInt16LE(UTF8, 8);
  entryFields(b, 10, e);
  b.writeUInt16LE(name.length, 28);
  b.writeUInt32LE(((0o100000 | mode) << 16) >>> 0, 38);
  b.writeUInt32LE(offset, 42);
  return Buffer.concat([b, name]);
}

function endRecord(count: number, size: number, offset: number): Buffer {
  const b = Buffer.alloc(22);
  b.writeUInt32LE(0x06054b50, 0);
  b.writeUInt16LE(count, 8);
  b.writeUInt16LE(count, 10);
  b.writeUInt32LE(size, 12);
  b.writeUInt32LE(offset, 16);
  return b;
}

/** `fn` over `items` with at most `limit` running at once, results in order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
