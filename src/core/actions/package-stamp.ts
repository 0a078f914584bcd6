import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findConfig } from '../config/find.js';
import { DEFAULT_STAGE, STAGE_NAME } from '../config/ids.js';
import { readTextIfExists, statIfExists, writeFileAtomic } from '../fs.js';
import { scanModelDir, type ScanResult } from '../../packaging/scan.js';
import type { PackageOutcome } from './package.js';

// The package stamp: what `mlserve package` read and wrote, by (size, mtime, inode), so that a run
// with nothing changed answers from it without parsing the config, resolving requirements, walking
// the dependencies or touching the zip: about a node start plus one stat per input. Any difference
// (a model file, the config, a requirements file, the environment that shapes a build, a new
// interpreter on PATH, mlserve itself, the zip) falls through to the full package, which still
// reuses whatever it can. Only a package within every limit is stamped.

const FORMAT = '1';
/** Environment that can change what a package builds or where it finds its tools. */
const ENV_NAMES = /^(MLSERVE_|PIP_|PYTHON|UV_|VIRTUAL_ENV$|XDG_CACHE_HOME$|HOME$|PATH$)/;
const ENV_REF = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)/g;
const SELF = fileURLToPath(import.meta.url);
const PACKAGE_JSON = fileURLToPath(new URL('../../../package.json', import.meta.url));
const TEMPLATES = fileURLToPath(new URL('../../../templates/', import.meta.url));

type Sig = [size: number, mtimeMs: number, ino: number] | null;

interface Stamp {
  format: string;
  configFile: string;
  modelDir: string;
  envNames: string[];
  env: string;
  inputs: [string, Sig][];
  scan: { files: [string, number, number, number, number][]; excluded: string[] };
  outputs: [string, Sig][];
  outcome: PackageOutcome;
}

export interface StampKey {
  cwd: string;
  configPath?: string | undefined;
  stage?: string | undefined;
  /** The --provider flag, or undefined for the config's provider. */
  provider?: string | undefined;
  env: Record<string, string | undefined>;
}

/** The last package's outcome when nothing it depends on has changed since; else undefined. */
export async function reusedPackage(key: StampKey): Promise<PackageOutcome | undefined> {
  const stage = key.stage ?? DEFAULT_STAGE;
  if (!STAGE_NAME.test(stage)) return undefined; // the full path reports the bad stage
  const configFile = await findConfig(key.cwd, key.configPath);
  const text = await readTextIfExists(stampPath(dirname(configFile), stage, key.provider));
  if (text === undefined) return undefined;
  let stamp: Stamp;
  try {
    stamp = JSON.parse(text) as Stamp;
  } catch {
    return undefined; // not a stamp mlserve wrote whole: the full package rewrites it
  }
  if (stamp.format !== FORMAT || stamp.configFile !== configFile || stamp.env !== envDigest(key.env, stamp.envNames)) return undefined;
  if (!(await sameSigs(stamp.inputs)) || !(await sameSigs(stamp.outputs))) return undefined;
  if (JSON.stringify(scanSig(await scanModelDir(stamp.modelDir))) !== JSON.stringify(stamp.scan)) return undefined;
  const { report, bundle } = stamp.outcome;
  return { report: { ...report, bundle: { ...report.bundle, reused: true }, dependencies: { ...report.dependencies, cached: true } }, ...(bundle ? { bundle } : {}) };
}

export interface StampInput {
  configFile: string;
  stage: string;
  provider?: string | undefined;
  modelDir: string;
  scan: ScanResult;
  /** Files read besides the model directory (requirements, their includes and local paths). */
  read: string[];
  env: Record<string, string | undefined>;
  outcome: PackageOutcome;
}

/** Record a finished package (its zip and manifest written) for the next run's reuse. */
export async function writeStamp(s: StampInput): Promise<void> {
  if (!s.outcome.bundle) return;
  const configText = await readFile(s.configFile, 'utf8');
  const envNames = [...new Set([...configText.matchAll(ENV_REF)].map((m) => m[1]!))].sort();
  const pathDirs = (s.env.PATH ?? '').split(delimiter).filter(Boolean);
  const inputs = [s.configFile, PACKAGE_JSON, SELF, ...(await filesUnder(TEMPLATES)), ...s.read, ...pathDirs, ...(s.env.MLSERVE_PYTHON ? [s.env.MLSERVE_PYTHON] : [])];
  const stamp: Stamp = {
    format: FORMAT,
    configFile: s.configFile,
    modelDir: s.modelDir,
    envNames,
    env: envDigest(s.env, envNames),
    inputs: await sigsOf(inputs),
    scan: scanSig(s.scan),
    outputs: await sigsOf([s.outcome.bundle.path, s.outcome.bundle.manifest]),
    outcome: s.outcome,
  };
  await writeFileAtomic(stampPath(dirname(s.configFile), s.stage, s.provider), `${JSON.stringify(stamp)}\n`);
}

function stampPath(configDir: string, stage: string, provider: string | undefined): string {
  return join(configDir, '.mlserve', 'state', `package-${stage}-${provider ?? 'config'}.json`);
}

function envDigest(env: Record<string, string | undefined>, referenced: string[]): string {
  const names = Object.keys(env).filter((n) => ENV_NAMES.test(n)).concat(referenced);
  const pairs = [...new Set(names)].sort().map((n) => [n, env[n] ?? null]);
  return createHash('sha256').update(JSON.stringify(pairs)).digest('hex');
}

function scanSig(scan: ScanResult): Stamp['scan'] {
  return { files: scan.files.map((f) => [f.rel, f.size, f.mtimeMs, f.ino, f.mode]), excluded: scan.excluded };
}

async function sigOf(path: string): Promise<Sig> {
  const s = await statIfExists(path);
  return s ? [s.size, s.mtimeMs, s.ino] : null;
}

const sigsOf = async (paths: string[]): Promise<[string, Sig][]> => Promise.all([...new Set(paths)].map(async (p) => [p, await sigOf(p)] as [string, Sig]));

async function sameSigs(recorded: [string, Sig][]): Promise<boolean> {
  const now = await Promise.all(recorded.map(([p]) => sigOf(p)));
  return recorded.every(([, sig], i) => JSON.stringify(sig) === JSON.stringify(now[i]));
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  // Directories too: a file added to one changes the directory's mtime.
  return [dir, ...entries.filter((e) => e.isFile() || e.isDirectory()).map((e) => join(e.parentPath, e.name))].sort();
}
