import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import type { ProviderId } from '../config/schema.js';
import { MlserveError } from '../errors.js';
import { writeFileAtomic } from '../fs.js';
import { findPython } from '../python.js';
import type { Reporter } from '../reporter.js';
import { sha256File, writeZip, type BundleEntry } from '../../packaging/bundle.js';
import { inspectPickleFile } from '../../packaging/detect/pickle.js';
import { findArchMismatches } from '../../packaging/elf.js';
import { checkLimits, MB, type LimitCheck } from '../../packaging/limits.js';
import { heaviest, planOffload, type OffloadItem, type PlannedFile } from '../../packaging/plan.js';
import { handlerFiles, handlerVersionOf, renderSettings, type PinnedArtifact } from '../../packaging/render.js';
import { resolveRequirements } from '../../packaging/requirements.js';
import { compare, scanModelDir } from '../../packaging/scan.js';
import { describeTarget, targetFor, type Target } from '../../packaging/target.js';
import { vendorDependencies } from '../../packaging/vendor.js';
import { walkFiles } from '../../packaging/walk.js';

const BUNDLE_FORMAT = '1';

export interface PackageOptions {
  loaded: LoadedConfig;
  provider?: ProviderId;
  dryRun?: boolean;
  env: Record<string, string | undefined>;
  reporter: Reporter;
  signal?: AbortSignal;
}

export interface PackageResult {
  bundle: { path: string | null; sha256: string | null; zippedBytes: number | null; unzippedBytes: number; files: number; reused: boolean };
  manifest: string | null;
  target: { provider: ProviderId; python: string; arch: string; platforms: string[]; description: string };
  upload: 'direct' | 's3' | 'local';
  limits: LimitCheck[];
  offload: (Omit<OffloadItem, 'abs'> & { location: PinnedArtifact['location'] })[];
  ephemeralStorageMb: number;
  excluded: string[];
  warnings: string[];
  dependencies: { cached: boolean; slimmedBytes: number; removed: string[]; added: string[]; pinned: string[] };
  contributors: { dependencies: { name: string; bytes: number }[]; model: { name: string; bytes: number }[] };
  modelSha256: string;
}

/**
 * `mlserve package`: scan → requirements → vendor for the target → render the handler → check
 * architectures → plan offload → zip (deterministic) → check limits → manifest. With `dryRun`
 * everything but the zip is done (dependencies are still resolved: sizes need them).
 */
export async function packageBundle(o: PackageOptions): Promise<PackageResult> {
  const { loaded, reporter, env } = o;
  const { config } = loaded;
  const provider = o.provider ?? config.provider;
  const python = await findPython(env);
  const target = targetFor(provider, config, python.version.split('.').slice(0, 2).join('.'));
  const warnings: string[] = [];
  const modelDir = loaded.modelDir;
  if (!(await stat(modelDir).then((s) => s.isDirectory(), () => false))) {
    throw new MlserveError('MODEL_NOT_FOUND', `model.path ${config.model.path} is not a directory (${modelDir})`, { hint: 'set model.path in mlserve.config.yaml' });
  }

  const scan = await reporter.step('Scanning the model directory', () => scanModelDir(modelDir));
  warnings.push(...scan.warnings);
  const modelEntry = config.model.framework === 'custom' ? (config.model.predict ?? 'predict.py') : config.model.file;
  if (!modelEntry || !scan.files.some((f) => f.rel === modelEntry)) {
    throw new MlserveError('MODEL_NOT_FOUND', `model file ${modelEntry ?? '(model.file is not set)'} is not in ${modelDir}${scan.excluded.includes(modelEntry ?? '') ? ' (it is excluded by .mlserveignore)' : ''}`, {
      hint: 'set model.file in mlserve.config.yaml to the model file, relative to model.path',
    });
  }
  const reqs = await requirementsFor(loaded, modelEntry, warnings);

  const cacheRoot = env.MLSERVE_CACHE_DIR ?? join(loaded.dir, '.mlserve', 'cache');
  const deps = await reporter.step(`Installing dependencies for ${describeTarget(target)}`, () =>
    vendorDependencies({ python: python.path, requirements: reqs.text, listed: reqs.names, target, cacheRoot, env, ...(o.signal ? { signal: o.signal } : {}) }),
  );
  if (deps.removedProvided.length) reporter.debug(`left out ${deps.removedProvided.join(', ')}: the Lambda runtime provides them`);
  const depFiles = (await walkFiles(deps.dir)).filter((f) => f.rel !== '.mlserve-vendor.json');

  await assertArchitecture([...depFiles, ...scan.files], target);

  const modelHashes = new Map<string, string>();
  await reporter.step('Hashing model files', async () => {
    for (const f of scan.files) modelHashes.set(f.rel, await sha256File(f.abs));
  });
  const files: PlannedFile[] = [
    ...(await handlerFiles(target)).map((f) => ({ name: f.rel, abs: f.abs, size: f.size, mode: f.mode, mtimeMs: f.mtimeMs, origin: 'handler' as const })),
    ...scan.files.map((f) => ({ name: `model/${f.rel}`, abs: f.abs, size: f.size, mode: f.mode, mtimeMs: f.mtimeMs, origin: 'model' as const })),
    ...depFiles.map((f) => ({ name: f.rel, abs: f.abs, size: f.size, mode: f.mode, mtimeMs: f.mtimeMs, origin: 'deps' as const })),
  ];
  checkCollisions(files);
  const plan = planOffload(files, target, { ephemeralStorageMb: config.resources.ephemeralStorage, app: `${config.name}/${loaded.stage}` }, (f) => modelHashes.get(f.name.slice('model/'.length))!, deps.owners);
  const kind = provider === 'azure' ? ('azure-blob' as const) : ('s3' as const);
  const artifacts: PinnedArtifact[] = plan.offload.map((a) => ({ path: a.path, sha256: a.sha256, bytes: a.bytes, location: { kind, key: a.key } }));
  const modelSha256 = modelHashes.get(modelEntry)!;
  const settings = Buffer.from(renderSettings(config, loaded.stage, modelSha256, artifacts));
  const entries: PlannedFile[] = [...plan.keep, { name: 'mlserve.json', data: settings, size: settings.length, mode: 0o644, mtimeMs: 0, origin: 'handler' as const }].sort((a, b) => compare(a.name, b.name));
  const unzippedBytes = entries.reduce((n, f) => n + f.size, 0);

  const buildDir = join(loaded.dir, '.mlserve', 'build');
  const base = join(buildDir, `${config.name}-${loaded.stage}-${provider}`);
  const zipPath = `${base}.zip`;
  const manifestPath = `${base}.manifest.json`;
  const handlerVersion = await handlerVersionOf();
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([BUNDLE_FORMAT, handlerVersion, describeTarget(target), entries.map((e) => [e.name, e.size, e.mode & 0o111, e.abs ?? e.data?.toString('base64'), e.mtimeMs])]))
    .digest('hex');

  const written = o.dryRun ? undefined : await writeOrReuseZip(entries, zipPath, manifestPath, fingerprint, reporter);
  const zip = written?.zip;
  const reused = written?.reused ?? false;

  const offloadBytes = plan.offload.reduce((n, a) => n + a.bytes, 0);
  const limits = checkLimits(provider, {
    ...(zip ? { zipped: zip.bytes } : {}),
    unzipped: unzippedBytes,
    tmp: plan.ephemeralStorageMb * MB,
    image: unzippedBytes + offloadBytes,
  });
  for (const l of limits) {
    if (l.ok && l.ratio >= 0.7 && l.effect !== 'route') warnings.push(`${l.name} is at ${Math.round(l.ratio * 100)}% of its limit`);
    if (!l.ok && l.effect === 'warn') warnings.push(`${l.name} exceeds ${l.limit} bytes (${l.source})`);
  }
  if (plan.offload.length > 0) {
    warnings.push(`${plan.offload.length} model file(s) move to object storage so the bundle fits (unzipped ${plan.unzippedBefore} bytes > 262,144,000); /tmp raised to ${plan.ephemeralStorageMb} MB`);
  }
  const upload = provider === 'local' ? 'local' : zip && zip.bytes > 50 * MB ? 's3' : 'direct';

  const result: PackageResult = {
    bundle: { path: zip ? zipPath : null, sha256: zip?.sha256 ?? null, zippedBytes: zip?.bytes ?? null, unzippedBytes, files: entries.length, reused },
    manifest: zip ? manifestPath : null,
    target: { provider, python: target.python, arch: target.arch, platforms: target.platforms, description: describeTarget(target) },
    upload,
    limits,
    offload: plan.offload.map(({ abs: _abs, ...a }) => ({ ...a, location: { kind, key: a.key } })),
    ephemeralStorageMb: plan.ephemeralStorageMb,
    excluded: scan.excluded,
    warnings,
    dependencies: { cached: deps.cacheHit, slimmedBytes: deps.slimmedBytes, removed: deps.removedProvided, added: reqs.added, pinned: reqs.pinned },
    contributors: {
      dependencies: heaviest(files.filter((f) => f.origin === 'deps'), 8, deps.owners).map(([name, bytes]) => ({ name, bytes })),
      model: scan.files.map((f) => ({ name: f.rel, bytes: f.size })).sort((a, b) => b.bytes - a.bytes).slice(0, 8),
    },
    modelSha256,
  };
  if (zip && !reused) {
    const manifestFiles = [];
    for (const e of entries) manifestFiles.push({ path: e.name, size: e.size, sha256: e.data ? createHash('sha256').update(e.data).digest('hex') : e.origin === 'model' ? modelHashes.get(e.name.slice(6))! : await sha256File(e.abs!) });
    const manifest = { fingerprint, handlerVersion, ...result, files: manifestFiles };
    await writeFileAtomic(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  }
  return result;
}

/** The requirements to install: the user's file, the framework's package, scikit-learn pinned to the pickle. */
async function requirementsFor(loaded: LoadedConfig, modelEntry: string, warnings: string[]): Promise<ReturnType<typeof resolveRequirements>> {
  const { config, modelDir } = loaded;
  const sklearnVersion = config.model.framework === 'sklearn' ? (await inspectPickleFile(join(modelDir, modelEntry)).catch(() => undefined))?.sklearnVersion : undefined;
  const text = await readFile(join(modelDir, config.runtime.requirements), 'utf8').catch(() => undefined);
  if (text === undefined && config.model.framework !== 'custom') warnings.push(`no ${config.runtime.requirements} in the model directory: installing only the framework's package`);
  const reqs = resolveRequirements(text ?? '', config.model.framework, sklearnVersion, config.runtime.requirements);
  if (reqs.added.length) warnings.push(`added to the requirements: ${reqs.added.join(', ')} (the ${config.model.framework} loader needs it)`);
  return reqs;
}

/** Every shared object must be built for the target's CPU, or the runtime cannot load it. */
async function assertArchitecture(files: { rel: string; abs: string }[], target: Target): Promise<void> {
  const mismatches = await findArchMismatches(files, target.arch);
  if (mismatches.length === 0) return;
  const list = mismatches.slice(0, 5).map((m) => `${m.file} (${m.machine})`).join(', ');
  throw new MlserveError('ARCH_MISMATCH', `${mismatches.length} native librar${mismatches.length === 1 ? 'y is' : 'ies are'} not built for ${target.arch}: ${list}`, {
    hint: `rebuild or re-download them for ${target.arch}, or set runtime.arch to match; a ${target.arch} runtime cannot load them`,
    details: { files: mismatches },
  });
}

/** Reuse the last zip when its inputs' fingerprint is unchanged; else write it anew. */
async function writeOrReuseZip(
  entries: PlannedFile[],
  zipPath: string,
  manifestPath: string,
  fingerprint: string,
  reporter: Reporter,
): Promise<{ zip: { sha256: string; bytes: number }; reused: boolean }> {
  const previous = await readManifest(manifestPath);
  const zipSize = await stat(zipPath).then((s) => s.size, () => -1);
  if (previous?.fingerprint === fingerprint && previous.bundle.zippedBytes === zipSize) {
    reporter.debug('inputs unchanged since the last package: reusing the bundle');
    return { zip: { sha256: previous.bundle.sha256, bytes: zipSize }, reused: true };
  }
  const bundleEntries: BundleEntry[] = entries.map((e) => ({ name: e.name, source: e.data ? { data: e.data } : { path: e.abs! }, size: e.size, mode: e.mode }));
  return { zip: await reporter.step(`Writing the bundle (${entries.length} files)`, () => writeZip(bundleEntries, zipPath)), reused: false };
}

function checkCollisions(files: PlannedFile[]): void {
  const seen = new Map<string, PlannedFile['origin']>();
  for (const f of files) {
    const other = seen.get(f.name);
    if (other && other !== f.origin) {
      throw new MlserveError('DEPENDENCY_CONFLICT', `${f.name} comes from both the ${other} and the ${f.origin}`, {
        hint: 'a dependency ships a top-level file that clashes with the handler or model/: remove that dependency or rename it',
      });
    }
    seen.set(f.name, f.origin);
  }
}

async function readManifest(path: string): Promise<{ fingerprint: string; bundle: { sha256: string; zippedBytes: number } } | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as { fingerprint: string; bundle: { sha256: string; zippedBytes: number } };
  } catch {
    return undefined;
  }
}

export type { Target };
