import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { MlserveError } from '../core/errors.js';

/** A requirements file made ready to install from anywhere, with a key that ignores where it lives. */
export interface RequirementsInput {
  /** `-r` files inlined; local paths (`-c`, wheels, `--find-links`, `-e`) made absolute: what pip gets. */
  text: string;
  /** The same, with each local path replaced by a digest of its content: what the cache key hashes. */
  keyText: string;
  /** Every file and directory read (the file, its -r includes, its local paths): what a reuse must re-check. */
  files: string[];
}

const INCLUDE = /^(-r|--requirement)(?:\s+|=)(.+)$/;
const PATH_OPTION = /^(-c|--constraint|-f|--find-links|-e|--editable)(?:\s+|=)(.+)$/;
const ARCHIVE = /\.(whl|tar\.gz|tgz|zip)$/i;

/**
 * Read a pip requirements file the way pip would from its own directory: `-r other.txt` is inlined
 * (relative to the including file), and `-c constraints.txt`, local wheel or archive paths,
 * `--find-links dir` and `-e ./pkg` become absolute paths. Returns undefined only when the file does
 * not exist; any other read error is raised, naming the file.
 */
export async function readRequirementsFile(path: string, seen: Set<string> = new Set()): Promise<RequirementsInput | undefined> {
  const text = await readText(path);
  if (text === undefined) return undefined;
  seen.add(path);
  const out: RequirementsInput = { text: '', keyText: '', files: [path] };
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (!line) continue;
    const add = (pip: string, key: string) => {
      out.text += `${pip}\n`;
      out.keyText += `${key}\n`;
    };
    const include = INCLUDE.exec(line);
    if (include) {
      const child = resolve(dirname(path), include[2]!.trim());
      if (seen.has(child)) throw new MlserveError('USAGE', `${where(path, i)}: ${include[2]} includes itself (a -r cycle)`, { hint: 'remove the circular -r line' });
      const nested = await readRequirementsFile(child, seen);
      if (!nested) throw missing(path, i, include[2]!.trim(), child);
      out.text += nested.text;
      out.keyText += nested.keyText;
      out.files.push(...nested.files);
      continue;
    }
    const option = PATH_OPTION.exec(line);
    if (option && !option[2]!.includes('://')) {
      const target = resolve(dirname(path), option[2]!.trim());
      add(`${option[1]} ${target}`, `${option[1]} ${await digest(target, () => missing(path, i, option[2]!.trim(), target))}`);
      out.files.push(target);
      continue;
    }
    if (isLocalPath(line)) {
      const target = resolve(dirname(path), line);
      add(target, await digest(target, () => missing(path, i, line, target)));
      out.files.push(target);
      continue;
    }
    add(line, line);
  }
  return out;
}

function isLocalPath(line: string): boolean {
  if (line.startsWith('-') || line.includes('://') || line.includes(' @ ')) return false;
  return line.startsWith('.') || isAbsolute(line) || ((line.includes('/') || line.includes('\\')) && ARCHIVE.test(line.split(/[;\s]/)[0]!)) || ARCHIVE.test(line);
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new MlserveError('USAGE', `cannot read ${path}: ${code ?? ''} ${(error as Error).message}`.trim(), {
      hint: code === 'EISDIR' ? `${path} is a directory; runtime.requirements must name a pip requirements file` : 'check the file’s permissions; mlserve reads it to know what to install',
      cause: error,
    });
  }
}

/** A digest of a local file (its bytes) or directory (its entries' names and sizes). */
async function digest(target: string, onMissing: () => MlserveError): Promise<string> {
  const info = await stat(target).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw onMissing();
    throw error;
  });
  const hash = createHash('sha256');
  if (info.isDirectory()) {
    for (const name of (await readdir(target)).sort()) hash.update(`${name}:${(await stat(resolve(target, name))).size}\n`);
  } else hash.update(await readFile(target));
  return `local:${hash.digest('hex')}`;
}

const where = (file: string, index: number) => `${file}:${index + 1}`;

function missing(file: string, index: number, written: string, resolved: string): MlserveError {
  return new MlserveError('USAGE', `${where(file, index)}: ${written} does not exist (${resolved})`, {
    hint: 'paths in a requirements file are relative to that file; fix the path or remove the line',
  });
}
