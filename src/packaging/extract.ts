import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { readTextIfExists, writeFileAtomic } from '../core/fs.js';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';

/** Entries written at once: extraction is bound by small-file syscalls, which overlap well. */
const PARALLEL = 32;

/**
 * Extract a zip into `dir`, keeping executable bits, refusing entries that escape it. Entries are
 * written up to 32 at a time and each directory is created once.
 */
export async function extractZip(zipPath: string, dir: string, skip?: (entry: yauzl.Entry) => boolean): Promise<void> {
  const zip = await new Promise<yauzl.ZipFile>((ok, fail) => yauzl.open(zipPath, { lazyEntries: true, autoClose: false }, (e, z) => (e || !z ? fail(e) : ok(z))));
  const root = resolve(dir);
  const made = new Map<string, Promise<unknown>>();
  const ensureDir = (path: string) => {
    let p = made.get(path);
    if (!p) made.set(path, (p = mkdir(path, { recursive: true })));
    return p;
  };
  try {
    await new Promise<void>((ok, fail) => {
      let active = 0;
      let ended = false;
      let failed = false;
      // yauzl reads the central directory one record at a time: one readEntry in flight at most.
      let reading = false;
      const abort = (error: unknown) => {
        if (!failed) fail(error);
        failed = true;
      };
      const next = () => {
        if (failed) return;
        if (ended && active === 0) return ok();
        if (!ended && !reading && active < PARALLEL) {
          reading = true;
          zip.readEntry();
        }
      };
      zip.on('error', abort);
      zip.on('end', () => {
        reading = false;
        ended = true;
        next();
      });
      zip.on('entry', (entry: yauzl.Entry) => {
        reading = false;
        const target = resolve(root, entry.fileName);
        if (!target.startsWith(root + sep)) return abort(new Error(`zip entry ${entry.fileName} escapes the target directory`));
        if (skip?.(entry)) return next();
        active++;
        writeEntry(zip, entry, target, ensureDir).then(() => {
          active--;
          next();
        }, abort);
        next();
      });
      next();
    });
  } finally {
    zip.close();
  }
}

async function writeEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, target: string, ensureDir: (path: string) => Promise<unknown>): Promise<void> {
  if (entry.fileName.endsWith('/')) {
    await ensureDir(target);
    return;
  }
  const stream = await new Promise<NodeJS.ReadableStream>((ok, fail) => zip.openReadStream(entry, (e, s) => (e || !s ? fail(e) : ok(s))));
  await ensureDir(dirname(target));
  const mode = (entry.externalFileAttributes >>> 16) & 0o777;
  await pipeline(stream, createWriteStream(target, { mode: mode || 0o644 }));
}

const STATE = '.mlserve-extracted.json';

/** What identifies an entry's content and mode without reading it: CRC-32, size, mode. */
const signature = (e: yauzl.Entry) => `${e.crc32}:${e.uncompressedSize}:${(e.externalFileAttributes >>> 16) & 0o777}`;

/**
 * Make `dir` hold exactly the zip's files, rewriting only entries whose CRC-32, size or mode changed
 * since the last sync and deleting files the zip no longer has (a new model beside cached
 * dependencies rewrites a few files, not thousands). An interrupted sync forgets its state, so the
 * next one rewrites everything.
 */
export async function syncZip(zipPath: string, dir: string): Promise<void> {
  const stateFile = join(dir, STATE);
  const before = JSON.parse((await readTextIfExists(stateFile)) ?? '{}') as Record<string, string>;
  await rm(stateFile, { force: true });
  const after: Record<string, string> = {};
  await extractZip(zipPath, dir, (entry) => {
    const sig = signature(entry);
    after[entry.fileName] = sig;
    return before[entry.fileName] === sig;
  });
  for (const name of Object.keys(before)) if (!(name in after)) await rm(join(dir, name), { recursive: true, force: true });
  await writeFileAtomic(stateFile, JSON.stringify(after));
}
