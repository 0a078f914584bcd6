import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { deflateRawSync } from 'node:zlib';
import { Digests, type Digest } from './digests.js';
import { mapLimit, writeDeterministicZip, type ZipInput } from './zip-writer.js';

/** One entry of the zip: its name in the archive and where its bytes come from. */
export interface BundleEntry {
  name: string;
  /** A file to read, or the bytes themselves. */
  source: { path: string } | { data: Buffer };
  size: number;
  mode: number;
}

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
 * Write a deterministic zip to `out` atomically (temp file + rename) and return its SHA-256, size and
 * each entry's digest. Entries must already be sorted by name. Known compressed formats and files
 * whose first 64 KB barely deflate are stored; the rest are deflated in parallel, through a cache of
 * deflate streams keyed by content (see zip-writer.ts).
 */
export async function writeZip(
  entries: BundleEntry[],
  out: string,
  o: { cacheDir: string; digests?: Digests },
): Promise<{ sha256: string; bytes: number; entries: Map<string, Digest> }> {
  // Probed in parallel: most probes are an open and a 64 KB read, a round trip each.
  const inputs: ZipInput[] = await mapLimit(entries, 64, async (e) => ({ name: e.name, source: e.source, mode: e.mode, store: await shouldStore(e) }));
  return writeDeterministicZip(inputs, out, { cacheDir: o.cacheDir, digests: o.digests ?? (await Digests.open()) });
}

/** SHA-256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}
