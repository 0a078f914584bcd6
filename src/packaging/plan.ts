import { MlserveError } from '../core/errors.js';
import { MB } from './limits.js';

/** A file headed for the bundle, by origin. */
export interface PlannedFile {
  name: string;
  abs?: string;
  data?: Buffer;
  size: number;
  mode: number;
  mtimeMs: number;
  origin: 'handler' | 'model' | 'deps';
}

export interface OffloadItem {
  /** Path relative to the model directory. */
  path: string;
  abs: string;
  bytes: number;
  sha256: string;
  key: string;
}

export interface OffloadPlan {
  offload: OffloadItem[];
  /** Files that stay in the bundle. */
  keep: PlannedFile[];
  unzippedBefore: number;
  unzippedAfter: number;
  /** /tmp MB the function needs (config value, raised to fit offloaded artifacts). */
  ephemeralStorageMb: number;
}

/** /tmp headroom beyond the artifacts: library caches and the request's own temp files. */
const TMP_HEADROOM = 256 * MB;

/**
 * Pure: decide which model artifacts leave the bundle for object storage so that the unzipped
 * size fits, largest first, and how much /tmp that needs. Dependencies never move: when they
 * alone are too big the error names the heaviest packages and the way out.
 */
export function planOffload(
  files: PlannedFile[],
  /** The platform's unzipped limit (undefined: none, nothing moves) and the key prefix `<app>/<stage>`. */
  configured: { unzippedLimit: number | undefined; tmpLimit: number | undefined; ephemeralStorageMb: number; app: string; always?: boolean },
  /** SHA-256 of a model file (precomputed: hashing is I/O, this function is pure). */
  hash: (f: PlannedFile) => string,
  owners: Record<string, string> = {},
): OffloadPlan {
  const unzippedBefore = files.reduce((n, f) => n + f.size, 0);
  // `model.offload: always`: every model file but Python source and bytecode moves (the handler imports those from the bundle).
  const limit = configured.always ? 0 : configured.unzippedLimit;
  const base = { offload: [], keep: files, unzippedBefore, unzippedAfter: unzippedBefore, ephemeralStorageMb: configured.ephemeralStorageMb };
  if (limit === undefined || unzippedBefore <= limit) return base;

  const candidates = files.filter((f) => f.origin === 'model' && f.abs && !(configured.always && /\.pyc?$/.test(f.name))).sort((a, b) => b.size - a.size || (a.name < b.name ? -1 : 1));
  const offload: OffloadItem[] = [];
  let size = unzippedBefore;
  for (const f of candidates) {
    if (size <= limit && !configured.always) break;
    const sha256 = hash(f);
    offload.push({ path: f.name.replace(/^model\//, ''), abs: f.abs!, bytes: f.size, sha256, key: `${configured.app}/artifacts/${sha256}` });
    size -= f.size;
  }
  if (size > limit && !configured.always) {
    const heavy = heaviest(files.filter((f) => f.origin === 'deps'), 5, owners);
    throw new MlserveError('BUNDLE_TOO_LARGE', `the dependencies alone are ${fmt(size)} unzipped, over the platform's ${fmt(limit)} limit even with every model file offloaded`, {
      hint: `the heaviest packages: ${heavy.map(([n, b]) => `${n} ${fmt(b)}`).join(', ')}. Drop or replace them (e.g. onnxruntime instead of torch), or deploy as a container image (10 GB limit)`,
      details: { heaviest: heavy.map(([name, bytes]) => ({ name, bytes })) },
    });
  }
  const offloadBytes = offload.reduce((n, o) => n + o.bytes, 0);
  const needMb = Math.ceil((offloadBytes * 1.1 + TMP_HEADROOM) / MB);
  const tmpLimitMb = configured.tmpLimit === undefined ? Infinity : configured.tmpLimit / MB;
  if (needMb > tmpLimitMb) {
    throw new MlserveError('BUNDLE_TOO_LARGE', `the offloaded artifacts need ${needMb} MB of /tmp; the platform allows at most ${tmpLimitMb} MB`, {
      hint: 'shrink the model (quantize, prune, or export to ONNX), or deploy as a container image',
    });
  }
  const names = new Set(offload.map((o) => `model/${o.path}`));
  return {
    offload,
    keep: files.filter((f) => !names.has(f.name)),
    unzippedBefore,
    unzippedAfter: size,
    ephemeralStorageMb: Math.max(configured.ephemeralStorageMb, needMb),
  };
}

/** Sizes by dependency package (dist-info and .libs folders counted with their package). */
export function heaviest(deps: PlannedFile[], n: number, owners: Record<string, string> = {}): [string, number][] {
  const sizes = new Map<string, number>();
  for (const f of deps) {
    const top = f.name.split('/')[0]!;
    const pkg = owners[top] ?? top.replace(/-[^-]+\.dist-info$/, '').replace(/\.libs$/, '').replace(/\.py$/, '').toLowerCase().replace(/_/g, '-');
    sizes.set(pkg, (sizes.get(pkg) ?? 0) + f.size);
  }
  return [...sizes.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
}

export function fmt(bytes: number): string {
  if (bytes >= 1024 * MB) return `${(bytes / (1024 * MB)).toFixed(1)} GB`;
  if (bytes >= MB) return `${(bytes / MB).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${bytes} B`;
}

const DEPENDENCY_BYTECODE = /(^|\/)__pycache__\/[^/]+\.pyc$/;

/**
 * The dependencies' bytecode is an optimisation, never a reason to refuse a bundle: when what cannot
 * be offloaded (dependencies and handler) is over the unzipped limit with the dependencies' .pyc
 * files and within it without them, they are left out and the returned warning says so (every cold
 * start then compiles what it imports). Otherwise `files` is returned as it is.
 */
export function fitBytecode(files: PlannedFile[], unzippedLimit: number | undefined): { files: PlannedFile[]; warning?: string } {
  if (unzippedLimit === undefined) return { files };
  const fixed = files.filter((f) => f.origin !== 'model').reduce((n, f) => n + f.size, 0);
  const bytecode = files.filter((f) => f.origin === 'deps' && DEPENDENCY_BYTECODE.test(f.name));
  const pycBytes = bytecode.reduce((n, f) => n + f.size, 0);
  if (fixed <= unzippedLimit || pycBytes === 0 || fixed - pycBytes > unzippedLimit) return { files };
  const drop = new Set(bytecode);
  return {
    files: files.filter((f) => !drop.has(f)),
    warning: `the dependencies' bytecode (${fmt(pycBytes)} in ${bytecode.length} file${bytecode.length === 1 ? '' : 's'}) is left out: with it the dependencies and handler are ${fmt(fixed)} unzipped, over the ${fmt(unzippedLimit)} limit; every cold start compiles the modules it imports. A container image has room for it`,
  };
}

