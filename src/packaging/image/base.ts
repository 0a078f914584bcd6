import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract, type Header } from 'tar-stream';
import { readTextIfExists, writeFileAtomic } from '../../core/fs.js';
import type { BaseImage } from './pull.js';

/** What a base image runs Python code with, read from its own files. */
export interface BaseRuntime {
  /** major.minor of the base's Python, e.g. "3.11" (undefined: no python3.X found). */
  python: string | undefined;
  /** Absolute path of that interpreter inside the image. */
  pythonPath: string | undefined;
  /** The base's glibc (undefined: none found, e.g. a musl base). */
  glibc: [number, number] | undefined;
  /** The base starts AWS's runtime interface client itself (`/lambda-entrypoint.sh`). */
  lambdaRuntime: boolean;
  /** The base's layers, uncompressed (what it adds to the image's size). */
  uncompressedBytes: number;
}

/** Where interpreters live in common Python bases, most specific first (AWS's, python:3.x's, distributions'). */
const PYTHON = /^(var\/lang\/bin|usr\/local\/bin|usr\/bin|opt\/[^/]+\/bin)\/python(3\.\d+)$/;
const PREFERENCE = ['var/lang/bin', 'usr/local/bin', 'usr/bin'];
/** glibc before 2.34 ships libc-2.X.so; from 2.34 libc.so.6 is the library itself and names its release. */
const LIBC_VERSIONED = /(^|\/)libc-(\d+)\.(\d+)\.so$/;
const LIBC = /^(usr\/)?lib(64|\/[a-z0-9_]+-linux-gnu)?\/libc\.so\.6$/;
const RELEASE = /release version (\d+)\.(\d+)/;
const LIBC_MAX_BYTES = 16 * 1024 * 1024;

/**
 * Read the base's Python and glibc from its layers (remembered in `cacheDir` by the base's manifest
 * digest, so a pinned base is read once). Later layers win, as in the unpacked image.
 */
export async function inspectBase(base: BaseImage, cacheDir: string): Promise<BaseRuntime> {
  const cacheFile = join(cacheDir, 'bases', `${base.manifestDigest.replace(':', '-')}.json`);
  const cached = await readTextIfExists(cacheFile);
  if (cached) return JSON.parse(cached) as BaseRuntime;
  const found: Found = { pythons: new Map(), bytes: 0 };
  for (const layer of base.layers) await scanLayer(layer.path, found);
  const [pythonPath, python] = [...found.pythons].sort(([a], [b]) => rank(a) - rank(b))[0] ?? [];
  const entrypoint = base.config.config?.Entrypoint ?? [];
  const runtime: BaseRuntime = { python, pythonPath, glibc: found.glibc, lambdaRuntime: entrypoint.includes('/lambda-entrypoint.sh'), uncompressedBytes: found.bytes };
  await writeFileAtomic(cacheFile, JSON.stringify(runtime));
  return runtime;
}

function rank(path: string): number {
  const i = PREFERENCE.findIndex((p) => path.startsWith(`/${p}/`));
  return i === -1 ? PREFERENCE.length : i;
}

interface Found {
  pythons: Map<string, string>;
  glibc?: [number, number];
  bytes: number;
}

async function scanLayer(path: string, found: Found): Promise<void> {
  const tar = extract();
  tar.on('entry', (header: Header, stream, next) => {
    const name = header.name.replace(/^\.?\//, '');
    const python = PYTHON.exec(name);
    if (python && (header.type === 'file' || header.type === 'symlink')) found.pythons.set(`/${name}`, python[2]!);
    const versioned = LIBC_VERSIONED.exec(name);
    if (versioned) found.glibc = [Number(versioned[2]), Number(versioned[3])];
    if (LIBC.test(name) && header.type === 'file' && (header.size ?? 0) <= LIBC_MAX_BYTES) {
      const chunks: Buffer[] = [];
      stream.on('data', (c) => chunks.push(c as Buffer));
      stream.on('end', () => {
        const release = RELEASE.exec(Buffer.concat(chunks).toString('latin1'));
        if (release) found.glibc = [Number(release[1]), Number(release[2])];
        next();
      });
      return;
    }
    stream.on('end', () => next());
    stream.resume();
  });
  const gunzip = createGunzip();
  gunzip.on('data', (chunk: Buffer) => (found.bytes += chunk.length));
  await pipeline(createReadStream(path), gunzip, tar);
}
