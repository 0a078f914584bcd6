import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MlserveError } from '../errors.js';
import { readTextIfExists, writeFileAtomic } from '../fs.js';
import { findConfig } from './find.js';
import { DEFAULT_STAGE, STAGE_NAME } from './ids.js';
import type { Config } from './schema.js';

export { CONFIG_FILENAMES, findConfig } from './find.js';

export { DEFAULT_STAGE } from './ids.js';

/** A validated config and where it came from. */
export interface LoadedConfig {
  config: Config;
  /** Absolute path of the config file. */
  file: string;
  /** Directory holding the config file; relative paths in the config are relative to it. */
  dir: string;
  /** Absolute model directory. */
  modelDir: string;
  stage: string;
  /** Dotted paths whose values came from `${env:…}` (redacted when printed). */
  fromEnv: string[];
}

export interface LoadOptions {
  cwd: string;
  /** `--config`; when absent, look for mlserve.config.yaml from cwd upwards. */
  configPath?: string;
  stage?: string;
  env: Record<string, string | undefined>;
}

/** Load, interpolate, merge the stage, and validate (or reuse the last validation). Every problem is reported at once. */
export async function loadConfig(options: LoadOptions): Promise<LoadedConfig> {
  const stage = options.stage ?? DEFAULT_STAGE;
  if (!STAGE_NAME.test(stage)) {
    throw new MlserveError('USAGE', `invalid stage name "${stage}"`, {
      hint: 'stage names are 1–20 lowercase letters, digits and dashes, starting with a letter, e.g. --stage prod',
    });
  }
  const file = await findConfig(options.cwd, options.configPath);
  const text = await readFile(file, 'utf8');
  const dir = dirname(file);
  const config = (await cached(dir, stage, text)) ?? (await parsed(text, { file, dir, stage, cwd: options.cwd, env: options.env }));
  return { config: config.config, file, dir, modelDir: resolve(dir, config.config.model.path), stage, fromEnv: config.fromEnv };
}

// The last validated config of each stage, by the text's SHA-256 and the schema it was checked
// against, in the project's state: a command with an unchanged config skips YAML and validation
// (about 100 ms of every start). A config that reads the environment is never kept: its values
// may change without the file changing, and they may be secrets.
const CACHE_FORMAT = '1';
const SCHEMA_MODULE = fileURLToPath(import.meta.url).replace(/load\.(js|ts)$/, 'schema.$1');

async function cacheKey(stage: string, text: string): Promise<string> {
  const schema = await stat(SCHEMA_MODULE);
  return createHash('sha256').update(JSON.stringify([CACHE_FORMAT, stage, schema.size, schema.mtimeMs, schema.ino, text])).digest('hex');
}

const cacheFile = (dir: string, stage: string) => join(dir, '.mlserve', 'state', `config-${stage}.json`);

async function cached(dir: string, stage: string, text: string): Promise<{ config: Config; fromEnv: string[] } | undefined> {
  if (text.includes('${env:')) return undefined;
  const saved = await readTextIfExists(cacheFile(dir, stage));
  if (saved === undefined) return undefined;
  try {
    const entry = JSON.parse(saved) as { key: string; config: Config };
    return entry.key === (await cacheKey(stage, text)) ? { config: entry.config, fromEnv: [] } : undefined;
  } catch {
    return undefined; // not an entry mlserve wrote whole: parsed again and rewritten
  }
}

async function parsed(text: string, o: { file: string; dir: string; stage: string; cwd: string; env: Record<string, string | undefined> }): Promise<{ config: Config; fromEnv: string[] }> {
  const { parseConfig } = await import('./parse.js');
  const result = parseConfig(text, { file: displayPath(o.cwd, o.file), stage: o.stage, env: o.env });
  if (!text.includes('${env:')) {
    const entry = `${JSON.stringify({ key: await cacheKey(o.stage, text), config: result.config })}\n`;
    await writeFileAtomic(cacheFile(o.dir, o.stage), entry).catch((error: NodeJS.ErrnoException) => {
      // A read-only project is only slower: every command validates the config again.
      if (!['EACCES', 'EPERM', 'EROFS'].includes(error.code ?? '')) throw error;
    });
  }
  return result;
}

function displayPath(cwd: string, file: string): string {
  const rel = relative(cwd, file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}
