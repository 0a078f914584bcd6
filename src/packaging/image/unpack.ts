import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract, type Header } from 'tar-stream';
import { MlserveError } from '../../core/errors.js';
import { readTextIfExists, writeFileAtomic } from '../../core/fs.js';

const MARKER = '.mlserve-image';

/**
 * Make `dir` hold the files of mlserve's layers of an image (bottom to top, later layers win), with
 * the task root stripped: the same tree as the zip of the same package. Unpacked into a temp
 * directory and renamed into place, and skipped when `dir` already holds this image (by digest).
 */
export async function unpackImage(image: { digest: string; taskRoot: string; layers: { path: string }[] }, dir: string): Promise<void> {
  if ((await readTextIfExists(join(dir, MARKER)))?.trim() === image.digest) return;
  const tmp = `${dir}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const prefix = `${image.taskRoot.replace(/^\/+|\/+$/g, '')}/`;
    for (const layer of image.layers) await unpackLayer(layer.path, prefix, tmp);
    await writeFileAtomic(join(tmp, MARKER), image.digest);
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
}

/** One gzip'd tar layer into `dir`: regular files and directories under `prefix` only, none escaping `dir`. */
async function unpackLayer(path: string, prefix: string, dir: string): Promise<void> {
  const root = resolve(dir);
  const tar = extract();
  tar.on('entry', (header: Header, stream, next) => {
    const name = header.name.replace(/^\.?\//, '');
    const rel = name.startsWith(prefix) ? name.slice(prefix.length) : undefined;
    const target = rel ? resolve(root, rel) : undefined;
    if (target && !target.startsWith(root + sep)) {
      stream.resume();
      next(new MlserveError('INTERNAL', `layer ${path} has an entry outside its task root: ${header.name}`));
      return;
    }
    if (!target || header.type !== 'file') {
      const made = target && header.type === 'directory' ? mkdir(target, { recursive: true }) : Promise.resolve(undefined);
      stream.on('end', () => void made.then(() => next(), next));
      stream.resume();
      return;
    }
    mkdir(dirname(target), { recursive: true })
      .then(() => pipeline(stream, createWriteStream(target, { mode: (header.mode ?? 0o644) & 0o777 })))
      .then(() => next(), next);
  });
  await pipeline(createReadStream(path), createGunzip(), tar);
}
