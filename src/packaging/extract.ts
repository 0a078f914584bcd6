import { createWriteStream } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';

/** Extract a zip into `dir`, keeping executable bits, refusing entries that escape it. */
export async function extractZip(zipPath: string, dir: string): Promise<void> {
  const zip = await new Promise<yauzl.ZipFile>((ok, fail) => yauzl.open(zipPath, { lazyEntries: true, autoClose: true }, (e, z) => (e || !z ? fail(e) : ok(z))));
  const root = resolve(dir);
  await new Promise<void>((ok, fail) => {
    zip.on('error', fail);
    zip.on('end', ok);
    zip.on('entry', (entry: yauzl.Entry) => {
      const target = resolve(root, entry.fileName);
      if (!target.startsWith(root + sep)) return fail(new Error(`zip entry ${entry.fileName} escapes the target directory`));
      if (entry.fileName.endsWith('/')) {
        mkdir(target, { recursive: true }).then(() => zip.readEntry(), fail);
        return;
      }
      zip.openReadStream(entry, (error, stream) => {
        if (error || !stream) return fail(error);
        const mode = (entry.externalFileAttributes >>> 16) & 0o777;
        mkdir(dirname(target), { recursive: true })
          .then(() => pipeline(stream, createWriteStream(target)))
          .then(() => (mode ? chmod(target, mode) : undefined))
          .then(() => zip.readEntry(), fail);
      });
    });
    zip.readEntry();
  });
}
