import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';
import { parallelGzip } from './parallel-gzip.js';

/** A file of a layer: its path inside the image (no leading slash), where its bytes come from, its mode. */
export interface LayerEntry {
  name: string;
  source: { path: string } | { data: Buffer };
  size: number;
  mode: number;
}

/** A written layer blob: its digest (of the gzip), diff ID (of the tar), and sizes. */
export interface Layer {
  path: string;
  digest: string;
  diffId: string;
  size: number;
  uncompressedSize: number;
  files: number;
}

/** Every entry and directory carries this time: 1970-01-01, so the same files give the same bytes. */
const MTIME = new Date(0);

/**
 * Write a deterministic gzip'd tar layer: entries sorted by name, every parent directory listed
 * once before its contents, one fixed mtime, uid/gid 0 with no user or group names, modes
 * normalized (0755 for directories and executables, else 0644). The same files give the same
 * digest on any machine. Written atomically (temp file, rename). tar-stream writes the headers
 * (PAX records for long names, which dependency trees have); the ordering and normalization is ours.
 */
export async function writeLayer(entries: LayerEntry[], out: string): Promise<Layer> {
  const files = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  await mkdir(dirname(out), { recursive: true });
  const tmp = `${out}.${randomBytes(4).toString('hex')}.tmp`;
  const tar = pack();
  const diff = digesting();
  const blob = digesting();
  const done = pipeline(tar, diff.stream, parallelGzip(6), blob.stream, createWriteStream(tmp));
  try {
    await addAll(tar, files);
    tar.finalize();
    await done;
    await rename(tmp, out);
  } catch (error) {
    tar.destroy();
    await done.catch(() => undefined); // the pipeline's own error is the one thrown below
    await rm(tmp, { force: true });
    throw error;
  }
  return { path: out, digest: blob.digest(), diffId: diff.digest(), size: blob.bytes(), uncompressedSize: diff.bytes(), files: files.length };
}

async function addAll(tar: ReturnType<typeof pack>, files: LayerEntry[]): Promise<void> {
  const seen = new Set<string>();
  for (const f of files) {
    const parts = f.name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (seen.has(dir)) continue;
      seen.add(dir);
      await entry(tar, { name: `${dir}/`, type: 'directory', mode: 0o755, mtime: MTIME, uid: 0, gid: 0, uname: '', gname: '' });
    }
    const header = { name: f.name, type: 'file' as const, size: f.size, mode: f.mode & 0o111 ? 0o755 : 0o644, mtime: MTIME, uid: 0, gid: 0, uname: '', gname: '' };
    if ('data' in f.source) await entry(tar, header, f.source.data);
    else await streamEntry(tar, header, f.source.path);
  }
}

function entry(tar: ReturnType<typeof pack>, header: Parameters<ReturnType<typeof pack>['entry']>[0], data?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    tar.entry(header, data ?? Buffer.alloc(0), (error) => (error ? reject(error) : resolve()));
  });
}

async function streamEntry(tar: ReturnType<typeof pack>, header: Parameters<ReturnType<typeof pack>['entry']>[0], path: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const sink = tar.entry(header, (error) => (error ? reject(error) : resolve()));
    const source = createReadStream(path);
    source.on('error', reject);
    source.pipe(sink);
  });
}

/** A pass-through stream that hashes and counts what flows through it. */
export function digesting(): { stream: Transform; digest: () => string; bytes: () => number } {
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      hash.update(chunk);
      bytes += chunk.length;
      callback(null, chunk);
    },
  });
  let digest: string | undefined;
  return { stream, digest: () => (digest ??= `sha256:${hash.digest('hex')}`), bytes: () => bytes };
}
