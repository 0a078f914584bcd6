import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { MlserveError } from '../core/errors.js';
import { readTextIfExists } from '../core/fs.js';

/** A file that will go into the bundle, as found in the model directory. */
export interface ScannedFile {
  /** Path relative to the model directory, with forward slashes. */
  rel: string;
  /** Absolute path to read (a symlink's resolved target). */
  abs: string;
  size: number;
  mode: number;
  mtimeMs: number;
  /** Inode: with size and mtime, how a later run knows the file is the same one. */
  ino: number;
}

export interface ScanResult {
  files: ScannedFile[];
  /** Relative paths left out (directories end with /), sorted. */
  excluded: string[];
  warnings: string[];
}

/** Secrets and credentials: never bundled unless a .mlserveignore `!pattern` insists (then a warning). */
export const SECRET_PATTERNS = [
  '.env', '.env.*', '*.pem', '*.key', '*.p12', '*.pfx', 'id_rsa*', 'id_dsa*', 'id_ecdsa*', 'id_ed25519*',
  '.aws/', '.azure/', '.ssh/', '.gcloud/', 'credentials', 'credentials.json', '.netrc', '.npmrc', '.pypirc',
  '.git-credentials', 'service-account*.json', '*.kubeconfig', 'kubeconfig', '*.tfstate', '*.tfstate.*', '*.tfvars',
];
/** Build and tool debris that never belongs in a bundle. */
export const JUNK_PATTERNS = [
  '.git/', '.hg/', '.svn/', '__pycache__/', '*.pyc', '*.pyo', '.ipynb_checkpoints/', '.DS_Store', '.mlserve/',
  '.venv/', 'venv/', 'node_modules/', '.pytest_cache/', '.mypy_cache/', '.ruff_cache/', '.mlserveignore',
  'mlserve.config.yaml', 'mlserve.config.yml', 'mlserve.sample.json', '.gitignore', '.gitattributes',
  // Infrastructure as code (where `mlserve export` writes by default), and Terraform's working directory.
  'infrastructure/', '.terraform/',
];

/**
 * Walk the model directory: default exclusions, then `.mlserveignore` (gitignore syntax). A symlink
 * resolving outside the directory is refused (never followed into the bundle).
 */
export async function scanModelDir(root: string): Promise<ScanResult> {
  const userRules = (await readTextIfExists(join(root, '.mlserveignore'))) ?? '';
  const rules: Ignore = ignore().add(SECRET_PATTERNS).add(JUNK_PATTERNS).add(userRules);
  const secrets: Ignore = ignore().add(SECRET_PATTERNS);
  const realRoot = await realpath(root);
  const result: ScanResult = { files: [], excluded: [], warnings: [] };

  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const entry of entries) {
      const abs = join(dir, entry.name);
      const rel = relative(root, abs).split(sep).join('/');
      let info = await lstat(abs);
      let target = abs;
      if (info.isSymbolicLink()) {
        target = await realpath(abs).catch(() => '');
        if (!target || (target !== realRoot && !target.startsWith(realRoot + sep))) {
          throw new MlserveError('UNSAFE_PATH', `${rel} is a symlink to ${target || 'a missing file'}, outside the model directory`, {
            hint: `copy the file into ${root} or add "${rel}" to .mlserveignore; mlserve never follows links out of the model directory`,
          });
        }
        info = await stat(target);
      }
      const isDir = info.isDirectory();
      const key = isDir ? `${rel}/` : rel;
      if (rules.ignores(key)) {
        // mlserve's own state and builds are not the user's files: left out without a mention.
        if (key !== '.mlserve/') result.excluded.push(key);
        continue;
      }
      if (secrets.ignores(key)) result.warnings.push(`${key} looks like a secret but .mlserveignore includes it: it will be in the bundle`);
      if (isDir) await walk(abs);
      else if (info.isFile()) result.files.push({ rel, abs: target, size: info.size, mode: info.mode, mtimeMs: info.mtimeMs, ino: info.ino });
    }
  };
  await walk(root);
  result.files.sort((a, b) => compare(a.rel, b.rel));
  result.excluded.sort(compare);
  return result;
}

/** Byte-order comparison, the same on every machine and locale. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
