import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import type { ProviderId } from '../config/schema.js';
import { MlserveError } from '../errors.js';
import { readTextIfExists, writeFileAtomic } from '../fs.js';
import { findPython } from '../python.js';
import type { Reporter } from '../reporter.js';
import { userCacheDir } from '../cache-dir.js';
import { writeStamp } from './package-stamp.js';
import { writeZip, type BundleEntry } from '../../packaging/bundle.js';
import { Digests, type Digest } from '../../packaging/digests.js';
import { inspectPickleFile, PickleFormatError } from '../../packaging/detect/pickle.js';
import { findArchMismatches } from '../../packaging/elf.js';
import { checkLimits, limitOf, MB, type LimitCheck } from '../../packaging/limits.js';
import type { PackagedBundle, UploadRouteId } from '../../packaging/packaged.js';
import { fitBytecode, heaviest, planOffload, type OffloadItem, type PlannedFile } from '../../packaging/plan.js';
import { compileFiles } from '../../packaging/bytecode.js';
import { findInterpreter } from '../../packaging/interpreter.js';
import { handlerFiles, handlerVersionOf, renderSettings, type PinnedArtifact } from '../../packaging/render.js';
import { readRequirementsFile } from '../../packaging/requirements-file.js';
import { resolveRequirements } from '../../packaging/requirements.js';
import { compare, scanModelDir, type ScanResult } from '../../packaging/scan.js';
import type { Target } from '../../packaging/target.js';
import { vendorDependencies, type VendorResult } from '../../packaging/vendor.js';
import { walkFiles } from '../../packaging/walk.js';
import type { Platform } from '../../providers/platform.js';
import { platformOf } from '../../providers/registry.js';

const BUNDLE_FORMAT = '1';

export interface PackageOptions {
  loaded: LoadedConfig;
  provider?: ProviderId;
  dryRun?: boolean;
  env: Record<string, string | undefined>;
  reporter: Reporter;
  signal?: AbortSignal;
}

/** What `mlserve package` reports (its --json document). */
export interface PackageResult {
  bundle: { path: string | null; sha256: string | null; zippedBytes: number | null; unzippedBytes: number; files: number; reused: boolean };
  manifest: string | null;
  target: { provider: ProviderId; python: string; arch: string; platforms: string[]; description: string };
  upload: UploadRouteId;
  uploadDescription: string;
  limits: LimitCheck[];
  offload: (Omit<OffloadItem, 'abs'> & { location: PinnedArtifact['location'] })[];
  ephemeralStorageMb: number;
  excluded: string[];
  warnings: string[];
  dependencies: { cached: boolean; slimmedBytes: number; removed: string[]; added: string[]; pinned: string[] };
  contributors: { dependencies: { name: string; bytes: number }[]; model: { name: string; bytes: number }[] };
  modelSha256: string;
}

/** The report, and (unless a dry run) the written bundle that a provider deploys. */
export interface PackageOutcome {
  report: PackageResult;
  bundle?: PackagedBundle;
}

interface Inputs {
  o: PackageOptions;
  platform: Platform;
  target: Target;
  python: string;
  /** An interpreter of the target's Python, to compile bytecode with (undefined: none on this machine). */
  compiler: { path: string; version: string } | undefined;
  modelEntry: string;
  scan: ScanResult;
  warnings: string[];
}

/**
 * `mlserve package`: scan → requirements → vendor for the target → render the handler → check
 * architectures → plan offload → zip (deterministic) → check limits → manifest. With `dryRun`
 * everything but the zip is done (dependencies are still resolved: sizes need them).
 */
export async function packageModel(o: PackageOptions): Promise<PackageOutcome> {
  const inputs = await gatherInputs(o);
  const { platform, target, scan, warnings } = inputs;
  const reqs = await requirementsFor(o.loaded, inputs.modelEntry, warnings);
  const deps = await o.reporter.step(`Installing dependencies for ${target.description}`, (progress) =>
    vendorDependencies({
      python: inputs.python, requirements: reqs.input, listed: reqs.names, target, cacheRoot: userCacheDir(o.env), env: o.env, cwd: o.loaded.modelDir,
      progress, debug: (line) => o.reporter.debug(line), ...(inputs.compiler ? { compiler: inputs.compiler.path } : {}), ...(o.signal ? { signal: o.signal } : {}),
    }),
  );
  if (deps.removedProvided.length) o.reporter.debug(`left out ${deps.removedProvided.join(', ')}: the ${platform.title} runtime provides them`);
  const depFiles = (await walkFiles(deps.dir)).filter((f) => f.rel !== '.mlserve-vendor.json');
  await assertArchitecture([...depFiles, ...scan.files], target);
  // Digests are remembered by (path, size, mtime, inode) in the project's state: unchanged files are not read again.
  const digests = await Digests.open(join(o.loaded.dir, '.mlserve', 'state', 'digests.json'));
  const modelHashes = await o.reporter.step('Hashing model files', async () => new Map(await Promise.all(scan.files.map(async (f) => [f.rel, (await digests.of(f.abs)).sha256] as const))));
  const fitted = fitBytecode(await plannedFiles(target, scan, depFiles, inputs.compiler, o.env), limitOf(platform.limits, 'unzipped', 'error'));
  if (fitted.warning) warnings.push(fitted.warning);
  const files = fitted.files;
  const { config, stage } = o.loaded;
  const plan = planOffload(
    files,
    { unzippedLimit: limitOf(platform.limits, 'unzipped', 'error'), tmpLimit: limitOf(platform.limits, 'tmp'), ephemeralStorageMb: config.resources.ephemeralStorage, app: `${config.name}/${stage}` },
    (f) => modelHashes.get(f.name.slice('model/'.length))!,
    deps.owners,
  );
  const kind = platform.artifactStore.kind;
  const artifacts: PinnedArtifact[] = plan.offload.map((a) => ({ path: a.path, sha256: a.sha256, bytes: a.bytes, location: { kind, key: a.key } }));
  const modelSha256 = modelHashes.get(inputs.modelEntry)!;
  const settings = Buffer.from(renderSettings(config, stage, modelSha256, artifacts));
  const entries = [...plan.keep, { name: 'mlserve.json', data: settings, size: settings.length, mode: 0o644, mtimeMs: 0, origin: 'handler' as const }].sort((a, b) => compare(a.name, b.name));
  const paths = bundlePaths(o.loaded, target.provider);
  const handlerVersion = await handlerVersionOf();
  const fingerprint = fingerprintOf(entries, target, handlerVersion);
  const written = o.dryRun ? undefined : await writeOrReuseZip(entries, paths, fingerprint, { reporter: o.reporter, digests, cacheDir: join(userCacheDir(o.env), 'zip') });
  const report = buildReport({ inputs, entries, plan, deps, reqs, files, modelSha256, written, paths });
  if (written?.entries) await writeManifest(paths.manifest, { fingerprint, handlerVersion, ...report }, written.entries);
  await digests.save(entries.flatMap((e) => (e.abs ? [e.abs] : [])).concat(scan.files.map((f) => f.abs)));
  if (!written) return { report };
  const outcome: PackageOutcome = {
    report,
    bundle: {
      packageType: 'zip', path: paths.zip, manifest: paths.manifest, sha256: written.zip.sha256, zippedBytes: written.zip.bytes, unzippedBytes: report.bundle.unzippedBytes, files: entries.length,
      upload: report.upload, offload: plan.offload, ephemeralStorageMb: plan.ephemeralStorageMb, modelSha256, target,
    },
  };
  // Stamped only within every limit: a later unchanged run may then skip all of the above.
  if (report.limits.every((l) => l.ok || l.effect !== 'error')) {
    await writeStamp({ configFile: o.loaded.file, stage, provider: o.provider, modelDir: o.loaded.modelDir, scan, read: reqs.read, env: o.env, outcome });
  }
  return outcome;
}

/** The platform, this machine's Python, the target, and the scanned model directory. */
async function gatherInputs(o: PackageOptions): Promise<Inputs> {
  const { loaded, reporter } = o;
  const { config } = loaded;
  const platform = platformOf(o.provider ?? config.provider);
  const python = await findPython(o.env);
  const target = platform.target(config, python.version.split('.').slice(0, 2).join('.'));
  if (!(await stat(loaded.modelDir).then((s) => s.isDirectory(), () => false))) {
    throw new MlserveError('MODEL_NOT_FOUND', `model.path ${config.model.path} is not a directory (${loaded.modelDir})`, { hint: 'set model.path in mlserve.config.yaml' });
  }
  const scan = await reporter.step('Scanning the model directory', () => scanModelDir(loaded.modelDir));
  const { found, seen } = await findInterpreter(target.python, o.env);
  const warnings = [...scan.warnings];
  if (!found) warnings.push(`bytecode not compiled: no Python ${target.python} (the target's) on this machine${seen ? ` (${seen})` : ''}; every cold start will compile the bundle's modules. Install python${target.python} or set MLSERVE_PYTHON to one`);
  const modelEntry = config.model.framework === 'custom' ? (config.model.predict ?? 'predict.py') : config.model.file;
  if (!modelEntry || !scan.files.some((f) => f.rel === modelEntry)) {
    const excluded = scan.excluded.includes(modelEntry ?? '') ? ' (it is excluded by .mlserveignore)' : '';
    throw new MlserveError('MODEL_NOT_FOUND', `model file ${modelEntry ?? '(model.file is not set)'} is not in ${loaded.modelDir}${excluded}`, {
      hint: 'set model.file in mlserve.config.yaml to the model file, relative to model.path',
    });
  }
  return { o, platform, target, python: python.path, compiler: found ? { path: found.path, version: found.version } : undefined, modelEntry, scan, warnings };
}

/**
 * Every file headed for the bundle, by origin: the handler, the model directory, the dependencies,
 * and bytecode for the handler's and the model's own Python files (the dependencies' is cached with them).
 */
async function plannedFiles(
  target: Target,
  scan: ScanResult,
  depFiles: { rel: string; abs: string; size: number; mode: number; mtimeMs: number }[],
  compiler: { path: string; version: string } | undefined,
  env: Record<string, string | undefined>,
): Promise<PlannedFile[]> {
  const handler = await handlerFiles(target);
  const models = scan.files.map((f) => ({ ...f, rel: `model/${f.rel}` }));
  const compiled = compiler ? await compileFiles(compiler, [...handler, ...models].map((f) => ({ name: f.rel, abs: f.abs })), userCacheDir(env), env) : [];
  const files: PlannedFile[] = [
    ...handler.map((f) => ({ name: f.rel, abs: f.abs, size: f.size, mode: f.mode, mtimeMs: f.mtimeMs, origin: 'handler' as const })),
    ...models.map((f) => ({ name: f.rel, abs: f.abs, size: f.size, mode: f.mode, mtimeMs: f.mtimeMs, origin: 'model' as const })),
    // Generated files: 'handler' origin, so offload (model files only) and the manifest's model hashes never take them.
    ...compiled.map((f) => ({ name: f.rel, abs: f.abs, size: f.size, mode: f.mode, mtimeMs: f.mtimeMs, origin: 'handler' as const })),
    ...depFiles.map((f) => ({ name: f.rel, abs: f.abs, size: f.size, mode: f.mode, mtimeMs: f.mtimeMs, origin: 'deps' as const })),
  ];
  checkCollisions(files);
  return files;
}

function bundlePaths(loaded: LoadedConfig, provider: ProviderId): { zip: string; manifest: string } {
  const base = join(loaded.dir, '.mlserve', 'build', `${loaded.config.name}-${loaded.stage}-${provider}`);
  return { zip: `${base}.zip`, manifest: `${base}.manifest.json` };
}

function fingerprintOf(entries: PlannedFile[], target: Target, handlerVersion: string): string {
  return createHash('sha256')
    .update(JSON.stringify([BUNDLE_FORMAT, handlerVersion, target.description, entries.map((e) => [e.name, e.size, e.mode & 0o111, e.abs ?? e.data?.toString('base64'), e.mtimeMs])]))
    .digest('hex');
}

interface ReportParts {
  inputs: Inputs;
  entries: PlannedFile[];
  plan: ReturnType<typeof planOffload>;
  deps: VendorResult;
  reqs: Awaited<ReturnType<typeof requirementsFor>>;
  files: PlannedFile[];
  modelSha256: string;
  written: { zip: { sha256: string; bytes: number }; reused: boolean } | undefined;
  paths: { zip: string; manifest: string };
}

/** Limits, warnings, upload route and the biggest contributors, as `package` reports them. */
function buildReport(p: ReportParts): PackageResult {
  const { platform, target, scan, warnings } = p.inputs;
  const zip = p.written?.zip;
  const unzippedBytes = p.entries.reduce((n, f) => n + f.size, 0);
  const offloadBytes = p.plan.offload.reduce((n, a) => n + a.bytes, 0);
  const limits = checkLimits(platform.limits, { ...(zip ? { zipped: zip.bytes } : {}), unzipped: unzippedBytes, tmp: p.plan.ephemeralStorageMb * MB, image: unzippedBytes + offloadBytes });
  for (const l of limits) {
    if (l.ok && l.ratio >= 0.7 && l.effect !== 'route') warnings.push(`${l.name} is at ${Math.round(l.ratio * 100)}% of its limit`);
    if (!l.ok && l.effect === 'warn') warnings.push(`${l.name} exceeds ${l.limit} bytes (${l.source})`);
  }
  if (p.plan.offload.length > 0) {
    warnings.push(`${p.plan.offload.length} model file(s) move to ${platform.artifactStore.name} so the bundle fits (unzipped ${p.plan.unzippedBefore.toLocaleString('en-US')} bytes > ${limitOf(platform.limits, 'unzipped', 'error')?.toLocaleString('en-US')}); /tmp raised to ${p.plan.ephemeralStorageMb} MB`);
  }
  const route = platform.uploadRoute(zip?.bytes ?? null);
  const kind = platform.artifactStore.kind;
  return {
    bundle: { path: zip ? p.paths.zip : null, sha256: zip?.sha256 ?? null, zippedBytes: zip?.bytes ?? null, unzippedBytes, files: p.entries.length, reused: p.written?.reused ?? false },
    manifest: zip ? p.paths.manifest : null,
    target: { provider: target.provider, python: target.python, arch: target.arch, platforms: target.platforms, description: target.description },
    upload: route.id,
    uploadDescription: route.description,
    limits,
    offload: p.plan.offload.map(({ abs: _abs, ...a }) => ({ ...a, location: { kind, key: a.key } })),
    ephemeralStorageMb: p.plan.ephemeralStorageMb,
    excluded: scan.excluded,
    warnings,
    dependencies: { cached: p.deps.cacheHit, slimmedBytes: p.deps.slimmedBytes, removed: p.deps.removedProvided, added: p.reqs.added, pinned: p.reqs.pinned },
    contributors: {
      dependencies: heaviest(p.files.filter((f) => f.origin === 'deps'), 8, p.deps.owners).map(([name, bytes]) => ({ name, bytes })),
      model: scan.files.map((f) => ({ name: f.rel, bytes: f.size })).sort((a, b) => b.bytes - a.bytes).slice(0, 8),
    },
    modelSha256: p.modelSha256,
  };
}

/** The manifest: the report and every file with its size and SHA-256, as the zip writer digested them. */
async function writeManifest(path: string, head: Record<string, unknown>, digests: Map<string, Digest>): Promise<void> {
  const files = [...digests.entries()].map(([name, d]) => ({ path: name, size: d.size, sha256: d.sha256 }));
  await writeFileAtomic(path, `${JSON.stringify({ ...head, files }, null, 2)}\n`);
}

/**
 * The requirements to install: the user's file (with -r/-c and local paths resolved), the
 * framework's package, and scikit-learn pinned to the version the pickle records.
 */
async function requirementsFor(loaded: LoadedConfig, modelEntry: string, warnings: string[]) {
  const { config, modelDir } = loaded;
  const file = join(modelDir, config.runtime.requirements);
  const input = await readRequirementsFile(file);
  if (input === undefined && config.model.framework !== 'custom') warnings.push(`no ${config.runtime.requirements} in the model directory: installing only the framework's package`);
  const sklearnVersion = config.model.framework === 'sklearn' ? await pickledSklearnVersion(join(modelDir, modelEntry), warnings) : undefined;
  const reqs = resolveRequirements(input?.text ?? '', config.model.framework, sklearnVersion, config.runtime.requirements);
  const keyReqs = resolveRequirements(input?.keyText ?? '', config.model.framework, sklearnVersion, config.runtime.requirements);
  if (reqs.added.length) warnings.push(`added to the requirements: ${reqs.added.join(', ')} (the ${config.model.framework} loader needs it)`);
  return { ...reqs, input: { text: reqs.text, keyText: keyReqs.text }, read: input?.files ?? [file] };
}

/** The scikit-learn version a pickle records; a pickle it cannot read is said, never skipped silently. */
async function pickledSklearnVersion(path: string, warnings: string[]): Promise<string | undefined> {
  try {
    return (await inspectPickleFile(path)).sklearnVersion;
  } catch (error) {
    if (!(error instanceof PickleFormatError)) throw error;
    warnings.push(`cannot read the scikit-learn version from ${path} (${error.message}): scikit-learn is not pinned to the model's version; pin it in the requirements file`);
    return undefined;
  }
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
  paths: { zip: string; manifest: string },
  fingerprint: string,
  o: { reporter: Reporter; digests: Digests; cacheDir: string },
): Promise<{ zip: { sha256: string; bytes: number }; reused: boolean; entries?: Map<string, Digest> }> {
  const previous = await readManifest(paths.manifest);
  const zipSize = await stat(paths.zip).then((s) => s.size, () => -1);
  if (previous?.fingerprint === fingerprint && previous.bundle.zippedBytes === zipSize) {
    o.reporter.debug('inputs unchanged since the last package: reusing the bundle');
    return { zip: { sha256: previous.bundle.sha256, bytes: zipSize }, reused: true };
  }
  const bundleEntries: BundleEntry[] = entries.map((e) => ({ name: e.name, source: e.data ? { data: e.data } : { path: e.abs! }, size: e.size, mode: e.mode }));
  const written = await o.reporter.step(`Writing the bundle (${entries.length} files)`, () => writeZip(bundleEntries, paths.zip, { cacheDir: o.cacheDir, digests: o.digests }));
  return { zip: { sha256: written.sha256, bytes: written.bytes }, reused: false, entries: written.entries };
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

/** The last manifest, or undefined when there is none or it is not one mlserve wrote whole. */
async function readManifest(path: string): Promise<{ fingerprint: string; bundle: { sha256: string; zippedBytes: number } } | undefined> {
  const text = await readTextIfExists(path);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as { fingerprint: string; bundle: { sha256: string; zippedBytes: number } };
  } catch {
    return undefined; // unreadable manifest: the bundle is rebuilt, which rewrites it
  }
}

export type { Target };
