import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createDeflateRaw, deflateRaw as deflateRawCb } from 'node:zlib';
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
  const prepared = await mapLimit(inputs, Math.max(8, availableParallelism() * 4), (input) => prepare(input, o));
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

async function prepare(input: ZipInput, o: { cacheDir: string; digests: Digests }): Promise<Prepared> {
  const digest = 'data' in input.source ? digestBuffer(input.source.data) : await o.digests.of(input.source.path);
  if (input.store) return { input, digest, method: 0, payload: input.source, compressedSize: digest.size };
  const cached = join(o.cacheDir, `deflate-${LEVEL}`, digest.sha256.slice(0, 2), digest.sha256);
  const existing = await stat(cached).then((s) => s.size, () => -1);
  if (existing >= 0) return { input, digest, method: 8, payload: { path: cached }, compressedSize: existing };
  await mkdir(dirname(cached), { recursive: true });
  const part = `${cached}.${process.pid}.${randomBytes(3).toString('hex')}`;
  if ('data' in input.source || digest.size <= IN_MEMORY) {
    const data = 'data' in input.source ? input.source.data : await readFile(input.source.path);
    const deflated = await deflateRaw(data, { level: LEVEL });
    await writeFileWhole(part, deflated);
  } else {
    await pipeline(createReadStream(input.source.path), createDeflateRaw({ level: LEVEL }), createWriteStream(part));
  }
  await rename(part, cached); // same content under the same name: a concurrent writer's copy is as good
  return { input, digest, method: 8, payload: { path: cached }, compressedSize: (await stat(cached)).size };
}

async function writeFileWhole(path: string, data: Buffer): Promise<void> {
  const h = await open(path, 'w');
  try {
    await h.writeFile(data);
  } finally {
    await h.close();
  }
}

/** Local headers and data in order, then the central directory and its end record. */
async function writeAll(handle: FileHandle, entries: Prepared[]): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let offset = 0;
  const write = async (chunk: Buffer) => {
    hash.update(chunk);
    await handle.write(chunk);
    offset += chunk.length;
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
    else for await (const chunk of createReadStream(e.payload.path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) await write(chunk);
  }
  if (entries.length > 0xfffe) throw new Error(`the bundle has ${entries.length} files: too many for a zip without ZIP64`);
  const start = offset;
  for (const c of central) await write(c);
  await write(endRecord(entries.length, offset - start, start));
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
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
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
