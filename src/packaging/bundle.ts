import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { deflateRawSync } from 'node:zlib';
import archiver from 'archiver';

/** One entry of the zip: its name in the archive and where its bytes come from. */
export interface BundleEntry {
  name: string;
  /** A file to read, or the bytes themselves. */
  source: { path: string } | { data: Buffer };
  size: number;
  mode: number;
}

/** The same inputs give the same bytes: one fixed timestamp (local 1980-01-01, the DOS epoch, so
 * every time zone writes the same DOS date), sorted entries, normalized modes. */
const FIXED_DATE = new Date(1980, 0, 1, 0, 0, 0);
const STORED_EXTENSIONS = /\.(zip|gz|tgz|bz2|xz|zst|lz4|7z|whl|jar|jpe?g|png|gif|webp|mp3|mp4|npz|pt|pth|keras|h5)$/i;
const PROBE_BYTES = 64 * 1024;

/** Deflating it saves under 10% (known compressed formats, or a probe of its first 64 KB)? Store it. */
export async function shouldStore(entry: BundleEntry): Promise<boolean> {
  if (STORED_EXTENSIONS.test(entry.name)) return true;
  if (entry.size < PROBE_BYTES) return false;
  let head: Buffer;
  if ('data' in entry.source) head = entry.source.data.subarray(0, PROBE_BYTES);
  else {
    const handle = await open(entry.source.path, 'r');
    try {
      head = Buffer.alloc(PROBE_BYTES);
      await handle.read(head, 0, PROBE_BYTES, 0);
    } finally {
      await handle.close();
    }
  }
  return deflateRawSync(head, { level: 1 }).length > head.length * 0.9;
}

/**
 * Write a deterministic zip to `out` atomically (temp file + rename) and return its SHA-256 and size.
 * Entries must already be sorted by name.
 */
export async function writeZip(entries: BundleEntry[], out: string): Promise<{ sha256: string; bytes: number }> {
  await mkdir(dirname(out), { recursive: true });
  const tmp = `${out}.${randomBytes(4).toString('hex')}.tmp`;
  const zip = archiver('zip', { zlib: { level: 6 }, forceLocalTime: true });
  const hash = createHash('sha256');
  let bytes = 0;
  zip.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
  });
  const written = pipeline(zip, createWriteStream(tmp));
  let failure: Error | undefined;
  zip.on('error', (e: Error) => (failure = e));
  try {
    // One entry at a time: archiver reorders entries whose stat()s finish out of order, and a
    // stream per file up front would hold thousands of descriptors.
    for (const entry of entries) {
      const store = await shouldStore(entry);
      const mode = entry.mode & 0o111 ? 0o755 : 0o644;
      const data = { name: entry.name, date: FIXED_DATE, mode, store };
      const done = once(zip, 'entry');
      zip.append('data' in entry.source ? entry.source.data : createReadStream(entry.source.path), data);
      await done;
      if (failure) throw failure;
    }
    await zip.finalize();
    await written;
    await rename(tmp, out);
  } catch (error) {
    zip.abort();
    await written.catch(() => undefined);
    await rm(tmp, { force: true });
    throw error;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** SHA-256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}
