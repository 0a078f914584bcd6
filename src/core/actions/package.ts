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
import { assertImageFits, imageTarget, packageTypeOf, resolveBase, writePackageImage, type ResolvedBase } from './package-image.js';
import { writeStamp } from './package-stamp.js';
import { writeZip, type BundleEntry } from '../../packaging/bundle.js';
import { Digests, type Digest } from '../../packaging/digests.js';
import { inspectPickleFile, PickleFormatError } from '../../packaging/detect/pickle.js';
import { findArchMismatches } from '../../packaging/elf.js';
import { checkLimits, limitOf, MB, type LimitCheck } from '../../packaging/limits.js';
import type { PackagedBundle, PackagedImage, UploadRouteId } from '../../packaging/packaged.js';
import { fitBytecode, heaviest, planOffload, type OffloadItem, type OffloadPlan, type PlannedFile } from '../../packaging/plan.js';
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
  /** zip or image, and (an image) why, when runtime.package is auto. */
  packageType: 'zip' | 'image';
  packageReason?: string;
  /** Set for images: the digest, the pinned base, and mlserve's layers with their sizes. */
  image?: Omit<PackagedImage, 'layers'> & { layers: Omit<PackagedImage['layers'][number], 'path'>[] };
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
  /** The target the dependencies are built for (an image's: the base's glibc). */
  target: Target;
  /** Set when this package is a container image: the base, pulled and inspected. */
  image?: ResolvedBase;
  /** Why it is an image. */
  reason?: string;
  python: string;
  /** An interpreter of the target's Python, to compile bytecode with (undefined: none on this machine). */
  compiler: { path: string; version: string } | undefined;
  modelEntry: string;
  scan: ScanResult;
  warnings: string[];
}

/**
 * `mlserve package`: scan → requirements → vendor for the target → render the handler → check
 * architectures → plan offload → zip (deterministic) or container image → check limits → manifest.
 * With `dryRun` everything but the zip or image is done (dependencies are still resolved: sizes need them).
 */
export async function packageModel(o: PackageOptions): Promise<PackageOutcome> {
  const inputs = await gatherInputs(o);
  const paths = bundlePaths(o.loaded, inputs.target.provider);
  const choice = packageTypeOf(o.loaded.config, inputs.platform);
  if (choice === 'image') await useImage(inputs, paths, 'runtime.package is image');
  let prepared = await prepareFiles(inputs);
  let plan: OffloadPlan;
  try {
    plan = planFor(inputs, prepared);
  } catch (error) {
    if (choice !== 'auto' || !(error instanceof MlserveError) || error.code !== 'BUNDLE_TOO_LARGE') throw error;
    // auto: the zip cannot fit, so the package is an image (the report says why, with the figure).
    await useImage(inputs, paths, `runtime.package is auto and the zip cannot fit: ${error.message}`);
    prepared = await prepareFiles(inputs);
    plan = planFor(inputs, prepared);
  }
  const { config, stage } = o.loaded;
  const kind = inputs.platform.artifactStore.kind;
  const artifacts: PinnedArtifact[] = plan.offload.map((a) => ({ path: a.path, sha256: a.sha256, bytes: a.bytes, location: { kind, key: a.key } }));
  const modelSha256 = prepared.modelHashes.get(inputs.modelEntry)!;
  const settings = Buffer.from(renderSettings(config, stage, modelSha256, artifacts));
  const entries = [...plan.keep, { name: 'mlserve.json', data: settings, size: settings.length, mode: 0o644, mtimeMs: 0, origin: 'handler' as const }].sort((a, b) => compare(a.name, b.name));
  const built = inputs.image ? await writeImage(inputs, prepared, entries, plan, paths) : await writeZipPackage(inputs, prepared, entries, plan, paths);
  await prepared.digests.save(entries.flatMap((e) => (e.abs ? [e.abs] : [])).concat(inputs.scan.files.map((f) => f.abs)));
  // Stamped only within every limit: a later unchanged run may then skip all of the above.
  if (built.bundle && built.report.limits.every((l) => l.ok || l.effect !== 'error')) {
    await writeStamp({ configFile: o.loaded.file, stage, provider: o.provider, modelDir: o.loaded.modelDir, scan: inputs.scan, read: prepared.reqs.read, env: o.env, outcome: built });
  }
  return built;
}

/** Requirements, dependencies vendored for the target, every planned file, and the model's hashes. */
async function prepareFiles(inputs: Inputs) {
  const { o, platform, target, scan, warnings } = inputs;
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
  const all = await plannedFiles(target, scan, depFiles, inputs.compiler, o.env);
  // An image too large is refused here, before the model is hashed or anything is built or uploaded.
  if (inputs.image) assertImageFits(all, inputs.image, limitOf(platform.limits, 'image', 'error'), deps.owners);
  const fitted = inputs.image ? { files: all } : fitBytecode(all, limitOf(platform.limits, 'unzipped', 'error'));
  if (fitted.warning) warnings.push(fitted.warning);
  // Digests are remembered by (path, size, mtime, inode) in the project's state: unchanged files are not read again.
  const digests = await Digests.open(join(o.loaded.dir, '.mlserve', 'state', 'digests.json'));
  const modelHashes = await o.reporter.step('Hashing model files', async () => new Map(await Promise.all(scan.files.map(async (f) => [f.rel, (await digests.of(f.abs)).sha256] as const))));
  return { reqs, deps, files: fitted.files, digests, modelHashes };
}

type Prepared = Awaited<ReturnType<typeof prepareFiles>>;

/** Which model files leave the package for object storage (a zip over the unzipped limit; an image keeps them). */
function planFor(inputs: Inputs, p: Prepared): OffloadPlan {
  const { platform, o } = inputs;
  const { config, stage } = o.loaded;
  const unzippedLimit = inputs.image ? undefined : limitOf(platform.limits, 'unzipped', 'error');
  return planOffload(
    p.files,
    { unzippedLimit, tmpLimit: limitOf(platform.limits, 'tmp'), ephemeralStorageMb: config.resources.ephemeralStorage, app: `${config.name}/${stage}`, always: config.model.offload === 'always' && !inputs.image && platform.artifactStore.remote },
    (f) => p.modelHashes.get(f.name.slice('model/'.length))!,
    p.deps.owners,
  );
}

/** Switch this run to a container image: pull and inspect the base, retarget the wheels to its glibc. */
async function useImage(inputs: Inputs, paths: BundlePaths, reason: string): Promise<void> {
  const { o } = inputs;
  inputs.image = await resolveBase(o.loaded.config, inputs.platform, paths.manifest, { env: o.env, reporter: o.reporter });
  inputs.target = imageTarget(inputs.target, inputs.image);
  inputs.reason = reason;
  o.reporter.debug(`container image: ${reason}`);
}

/** The zip: written (or reused when its inputs are unchanged), its manifest, and the bundle a provider deploys. */
async function writeZipPackage(inputs: Inputs, p: Prepared, entries: PlannedFile[], plan: OffloadPlan, paths: BundlePaths): Promise<PackageOutcome> {
  const { o, target } = inputs;
  const handlerVersion = await handlerVersionOf();
  const fingerprint = fingerprintOf(entries, target, handlerVersion);
  const written = o.dryRun ? undefined : await writeOrReuseZip(entries, paths, fingerprint, { reporter: o.reporter, digests: p.digests, cacheDir: join(userCacheDir(o.env), 'zip') });
  const modelSha256 = p.modelHashes.get(inputs.modelEntry)!;
  const report = buildReport({ inputs, entries, plan, deps: p.deps, reqs: p.reqs, files: p.files, modelSha256, written, paths });
  if (written?.entries) await writeManifest(paths.manifest, { fingerprint, handlerVersion, ...report }, written.entries);
  if (!written) return { report };
  const bundle: PackagedBundle = {
    packageType: 'zip', path: paths.zip, manifest: paths.manifest, sha256: written.zip.sha256, zippedBytes: written.zip.bytes, unzippedBytes: report.bundle.unzippedBytes, files: entries.length,
    upload: report.upload, offload: plan.offload, ephemeralStorageMb: plan.ephemeralStorageMb, modelSha256, target,
  };
  return { report, bundle };
}

/** The image: built into an OCI layout (unchanged layers reused), its manifest, and the bundle a provider pushes. */
async function writeImage(inputs: Inputs, p: Prepared, entries: PlannedFile[], plan: OffloadPlan, paths: BundlePaths): Promise<PackageOutcome> {
  const { o, target } = inputs;
  const base = inputs.image!;
  const image = o.dryRun ? undefined : await writePackageImage(entries, base, { layout: paths.layout, tag: o.loaded.stage, arch: target.arch, env: o.env, digests: p.digests, reporter: o.reporter });
  const modelSha256 = p.modelHashes.get(inputs.modelEntry)!;
  const report = buildReport({ inputs, entries, plan, deps: p.deps, reqs: p.reqs, files: p.files, modelSha256, written: undefined, paths, image });
  if (!image) return { report };
  await writeFileAtomic(paths.manifest, `${JSON.stringify({ handlerVersion: await handlerVersionOf(), ...report, files: entries.map((e) => ({ path: e.name, size: e.size })) }, null, 2)}\n`);
  const bundle: PackagedBundle = {
    packageType: 'image', path: paths.layout, manifest: paths.manifest, sha256: image.digest.slice('sha256:'.length), zippedBytes: image.layers.reduce((n, l) => n + l.size, 0),
    unzippedBytes: report.bundle.unzippedBytes, files: entries.length, upload: report.upload, offload: plan.offload, ephemeralStorageMb: plan.ephemeralStorageMb, modelSha256, target, image,
  };
  return { report, bundle };
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

interface BundlePaths {
  zip: string;
  manifest: string;
  /** The OCI image layout directory (images). */
  layout: string;
}

function bundlePaths(loaded: LoadedConfig, provider: ProviderId): BundlePaths {
  const base = join(loaded.dir, '.mlserve', 'build', `${loaded.config.name}-${loaded.stage}-${provider}`);
  return { zip: `${base}.zip`, manifest: `${base}.manifest.json`, layout: `${base}.oci` };
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
  paths: BundlePaths;
  image?: PackagedImage | undefined;
}

/** Limits, warnings, upload route and the biggest contributors, as `package` reports them. */
function buildReport(p: ReportParts): PackageResult {
  const { platform, target, scan, warnings } = p.inputs;
  const zip = p.written?.zip;
  const unzippedBytes = p.entries.reduce((n, f) => n + f.size, 0);
  const base = p.inputs.image;
  const imageBytes = p.image?.uncompressedBytes ?? (base ? base.runtime.uncompressedBytes + unzippedBytes : undefined);
  const measured = { ...(zip ? { zipped: zip.bytes } : {}), unzipped: unzippedBytes, tmp: p.plan.ephemeralStorageMb * MB, ...(imageBytes !== undefined ? { image: imageBytes } : {}) };
  const limits = checkLimits(platform.limits, measured, base ? 'image' : 'zip');
  warnings.push(...(platform.configNotes?.(p.inputs.o.loaded.config) ?? []));
  for (const l of limits) {
    if (l.ok && l.ratio >= 0.7 && l.effect !== 'route') warnings.push(`${l.name} is at ${Math.round(l.ratio * 100)}% of its limit`);
    if (!l.ok && l.effect === 'warn') warnings.push(`${l.name} exceeds ${l.limit} bytes (${l.source})`);
  }
  if (p.plan.offload.length > 0 && p.inputs.o.loaded.config.model.offload === 'always') {
    warnings.push(`model.offload is always: ${p.plan.offload.length} model file(s) move to ${platform.artifactStore.name}, fetched and verified by SHA-256 at cold start`);
  } else if (p.plan.offload.length > 0) {
    warnings.push(`${p.plan.offload.length} model file(s) move to ${platform.artifactStore.name} so the bundle fits (unzipped ${p.plan.unzippedBefore.toLocaleString('en-US')} bytes > ${limitOf(platform.limits, 'unzipped', 'error')?.toLocaleString('en-US')}); /tmp raised to ${p.plan.ephemeralStorageMb} MB`);
  }
  const route = platform.uploadRoute(zip?.bytes ?? null, base ? 'image' : 'zip');
  const kind = platform.artifactStore.kind;
  const image = p.image ? { ...p.image, layers: p.image.layers.map(({ path: _path, ...l }) => l) } : undefined;
  return {
    packageType: base ? 'image' : 'zip',
    ...(p.inputs.reason ? { packageReason: p.inputs.reason } : {}),
    ...(image ? { image } : {}),
    bundle: {
      path: zip ? p.paths.zip : p.image ? p.paths.layout : null,
      sha256: zip?.sha256 ?? p.image?.digest.slice('sha256:'.length) ?? null,
      zippedBytes: zip?.bytes ?? p.image?.layers.reduce((n, l) => n + l.size, 0) ?? null,
      unzippedBytes,
      files: p.entries.length,
      reused: p.written?.reused ?? (p.image ? p.image.layers.every((l) => l.reused) : false),
    },
    manifest: zip || p.image ? p.paths.manifest : null,
    target: { provider: target.provider, python: target.python, arch: target.arch, platforms: target.platforms, description: target.description },
    upload: route.id,
    uploadDescription: route.description,
    limits,
    offload: p.plan.offload.map(({ abs: _abs, ...a }) => ({ ...a, location: { kind, key: a.key } })),
    ephemeralStorageMb: p.plan.ephemeralStorageMb,
    excluded: scan.excluded,
    // auto switching to an image prepares the files twice: each warning once.
    warnings: [...new Set(warnings)],
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
