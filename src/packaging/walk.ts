import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { compare, type ScannedFile } from './scan.js';

/** Every regular file below `root` (no exclusions), sorted by relative path. */
export async function walkFiles(root: string, prefix = ''): Promise<ScannedFile[]> {
  const out: ScannedFile[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const abs = join(dir, entry.name);
      const r = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(abs, r);
      else if (entry.isFile() || entry.isSymbolicLink()) {
        const info = await stat(abs);
        if (info.isFile()) out.push({ rel: prefix + r, abs, size: info.size, mode: info.mode, mtimeMs: info.mtimeMs, ino: info.ino });
      }
    }
  };
  await walk(root, '');
  return out.sort((a, b) => compare(a.rel, b.rel));
}
