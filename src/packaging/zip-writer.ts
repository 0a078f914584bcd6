import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createDeflateRaw, deflateRaw as deflateRawCb } from 'node:zlib';
import { statIfExists } from '../core/fs.js';
import { digestBuffer, type Digest, type Digests } from './digests.js';

const deflateRaw = promisify(deflateRawCb);

/** One entry of the zip: its name in the archive, where its bytes come from, and whether to store it. */
export interface ZipInput {
  name: string;
  source: { path: string } | { data: Buffer };
  mode: number;
  store: boolean;
}

interface Prepared {
  input: ZipInput;
  digest: Digest;
  method: 0 | 8;
  /** The bytes that go into the zip: the source itself (stored) or a cached deflate stream. */
  payload: { path: string } | { data: Buffer };
  compressedSize: number;
}

const LEVEL = 6;
/** Files up to this size are deflated in memory (on the thread pool); larger ones as a stream. */
const IN_MEMORY = 32 * 1024 * 1024;
/** DOS date 1980-01-01 00:00 (the epoch of the format): every entry carries it. */
const DOS_TIME = 0;
const DOS_DATE = (1 << 5) | 1;
const UTF8 = 0x0800;

/**
 * Write a deterministic zip: entries in the given order, one fixed date, normalized modes. Entries
 * are digested and deflated in parallel (zlib runs on libuv's thread pool, so every core works),
 * and each deflate stream is kept in `cacheDir` by the content's SHA-256 and the level: a rebuild
 * after a model change deflates only what changed and copies the rest as raw deflate streams. The
 * bytes are the same whether an entry came from the cache or not. Returns the zip's SHA-256 and
 * size, and each entry's digest (for the manifest: nothing is read twice).
 *
 * Hand-written (about 150 lines) because no maintained zip library writes an entry from an
 * already-deflated stream: archiver, yazl and zip-stream all compress what they are given.
 */
export async function writeDeterministicZip(
  inputs: ZipInput[],
  out: string,
  o: { cacheDir: string; digests: Digests },
): Promise<{ sha256: string; bytes: number; entries: Map<string, Digest> }> {
  const budget = { left: MEMORY_BUDGET };
  const prepared = await mapLimit(inputs, Math.max(8, availableParallelism() * 4), (input) => prepare(input, o, budget));
  await mkdir(dirname(out), { recursive: true });
  const tmp = `${out}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    const { sha256, bytes } = await writeAll(handle, prepared);
    await handle.sync();
    await handle.close();
    await rename(tmp, out);
    return { sha256, bytes, entries: new Map(prepared.map((p) => [p.input.name, p.digest])) };
  } catch (error) {
    await handle.close().catch(() => undefined); // already closed after a failed rename
    await rm(tmp, { force: true });
    throw error;
  }
}

/** Compressed payloads kept in memory for the write (beyond it they are read back from the cache). */
const MEMORY_BUDGET = 512 * 1024 * 1024;
/** Bytes gathered before one write to the zip: a write per entry was thousands of round trips. */
const WRITE_BATCH = 8 * 1024 * 1024;

async function prepare(input: ZipInput, o: { cacheDir: string; digests: Digests }, budget: { left: number }): Promise<Prepared> {
  const { digest, data } = await contentOf(input, o.digests);
  if (input.store) return { input, digest, method: 0, payload: input.source, compressedSize: digest.size };
  const cached = join(o.cacheDir, `deflate-${LEVEL}`, digest.sha256.slice(0, 2), digest.sha256);
  const existing = (await statIfExists(cached))?.size ?? -1;
  if (existing >= 0) {
    const keep = existing <= IN_MEMORY && take(budget, existing);
    return { input, digest, method: 8, payload: keep ? { data: await readFile(cached) } : { path: cached }, compressedSize: existing };
  }
  await mkdir(dirname(cached), { recursive: true });
  const part = `${cached}.${process.pid}.${randomBytes(3).toString('hex')}`;
  if (data || digest.size <= IN_MEMORY) {
    const deflated = await deflateRaw(data ?? (await readFile(pathOf(input))), { level: LEVEL });
    await writeFileWhole(part, deflated);
    await rename(part, cached); // same content under the same name: a concurrent writer's copy is as good
    return { input, digest, method: 8, payload: take(budget, deflated.length) ? { data: deflated } : { path: cached }, compressedSize: deflated.length };
  }
  await pipeline(createReadStream(pathOf(input)), createDeflateRaw({ level: LEVEL }), createWriteStream(part));
  await rename(part, cached);
  return { input, digest, method: 8, payload: { path: cached }, compressedSize: (await stat(cached)).size };
}

/**
 * An entry's digest, and its bytes when they had to be read for it: a file read to be deflated is
 * digested from the same bytes, so each file is read once (and not at all when its digest is known).
 */
async function contentOf(input: ZipInput, digests: Digests): Promise<{ digest: Digest; data?: Buffer }> {
  if ('data' in input.source) return { digest: digestBuffer(input.source.data), data: input.source.data };
  const path = input.source.path;
  const info = await stat(path);
  const known = digests.known(path, info);
  if (known) return { digest: known };
  if (input.store || info.size > IN_MEMORY) return { digest: await digests.of(path) };
  const data = await readFile(path);
  return { digest: digests.remember(path, info, digestBuffer(data)), data };
}

const pathOf = (input: ZipInput) => (input.source as { path: string }).path;

function take(budget: { left: number }, bytes: number): boolean {
  if (bytes > budget.left) return false;
  budget.left -= bytes;
  return true;
}

async function writeFileWhole(path: string, data: Buffer): Promise<void> {
  const h = await open(path, 'w');
  try {
    await h.writeFile(data);
  } finally {
    await h.close();
  }
}

/** Local headers and data in order, then the central directory and its end record, in large writes. */
async function writeAll(handle: FileHandle, entries: Prepared[]): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let offset = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    const batch = pending;
    const total = pendingBytes;
    pending = [];
    pendingBytes = 0;
    const { bytesWritten } = await handle.writev(batch);
    if (bytesWritten < total) {
      // A short write is allowed by writev(2): write what is left.
      let rest = Buffer.concat(batch).subarray(bytesWritten);
      while (rest.length > 0) rest = rest.subarray((await handle.write(rest)).bytesWritten);
    }
  };
  const write = async (chunk: Buffer) => {
    hash.update(chunk);
    offset += chunk.length;
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes >= WRITE_BATCH) await flush();
  };
  const central: Buffer[] = [];
  for (const e of entries) {
    const name = Buffer.from(e.input.name, 'utf8');
    if (offset > 0xfffffffe || e.compressedSize > 0xfffffffe || e.digest.size > 0xfffffffe) {
      throw new Error(`the bundle is over 4 GB at ${e.input.name}: too big for a zip without ZIP64 (and for any function platform)`);
    }
    central.push(centralHeader(e, name, offset));
    await write(localHeader(e, name));
    if ('data' in e.payload) await write(e.payload.data);
    else for await (const chunk of createReadStream(e.payload.path, { highWaterMark: 4 * 1024 * 1024 }) as AsyncIterable<Buffer>) await write(chunk);
  }
  if (entries.length > 0xfffe) throw new Error(`the bundle has ${entries.length} files: too many for a zip without ZIP64`);
  const start = offset;
  for (const c of central) await write(c);
  await write(endRecord(entries.length, offset - start, start));
  await flush();
  return { sha256: hash.digest('hex'), bytes: offset };
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
