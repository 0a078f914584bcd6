import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { MlserveError } from '../errors.js';
import { readTextIfExists } from '../fs.js';
import type { Reporter } from '../reporter.js';
import { userCacheDir } from '../cache-dir.js';
import type { Digests } from '../../packaging/digests.js';
import { inspectBase, type BaseRuntime } from '../../packaging/image/base.js';
import { buildPackageImage, type BuiltLayer } from '../../packaging/image/build.js';
import type { BaseImage } from '../../packaging/image/pull.js';
import type { PackagedImage } from '../../packaging/packaged.js';
import { fmt, heaviest, type PlannedFile } from '../../packaging/plan.js';
import { manylinuxTags, type Target } from '../../packaging/target.js';
import type { ImageSettings, Platform } from '../../providers/platform.js';

/** A base image, pulled (or read from the cache by its pinned digest) and inspected. */
export interface ResolvedBase {
  /** What the config asked for (image.base, or the platform's default). */
  requested: string;
  image: BaseImage;
  runtime: BaseRuntime;
  settings: ImageSettings;
}

/** Which package type this run builds: the config's choice, if the platform takes images at all. */
export function packageTypeOf(config: Config, platform: Platform): 'zip' | 'image' | 'auto' {
  const wanted = config.runtime.package;
  if (wanted === 'zip' || !platform.image) return 'zip';
  return wanted;
}

/**
 * Pull the base (pinned: a tag resolved by an earlier package is pulled again by the digest it
 * resolved to, from the cache, so builds repeat without the network) and read its Python and glibc.
 */
export async function resolveBase(config: Config, platform: Platform, manifestPath: string, o: { env: Record<string, string | undefined>; reporter: Reporter }): Promise<ResolvedBase> {
  const settings = platform.image!;
  const requested = config.image.base ?? settings.defaultBase(config.runtime.python);
  const pinned = await pinnedBase(manifestPath, requested);
  const cache = join(userCacheDir(o.env), 'images');
  const arch = config.runtime.arch === 'arm64' ? 'arm64' : 'amd64';
  const { pullImage } = await import('../../packaging/image/pull.js');
  const image = await o.reporter.step(`Base image ${requested}${pinned ? ' (pinned)' : ''}`, () => pullImage(pinned ?? requested, arch, cache));
  const runtime = await inspectBase(image, cache);
  if (runtime.python !== config.runtime.python) {
    throw new MlserveError('CONFIG_INVALID', `image.base ${requested} has ${runtime.python ? `Python ${runtime.python}` : 'no python3.X interpreter'}; runtime.python is ${config.runtime.python}`, {
      hint: `set runtime.python to ${runtime.python ?? 'the base’s Python'}, or choose a base with Python ${config.runtime.python} (e.g. ${settings.defaultBase(config.runtime.python)})`,
    });
  }
  return { requested, image, runtime, settings };
}

/** The digest an earlier package pinned `requested` to, from its manifest. */
async function pinnedBase(manifestPath: string, requested: string): Promise<string | undefined> {
  const text = await readTextIfExists(manifestPath);
  if (!text) return undefined;
  try {
    const image = (JSON.parse(text) as { image?: { requested?: string; base?: string } }).image;
    return image?.requested === requested ? image.base : undefined;
  } catch {
    return undefined; // an unreadable manifest pins nothing: the tag is resolved again
  }
}

/** The platform's target with the wheel tags and glibc of the base image instead of its zip runtime's. */
export function imageTarget(target: Target, base: ResolvedBase): Target {
  const glibc = base.runtime.glibc;
  if (!glibc) {
    throw new MlserveError('CONFIG_INVALID', `image.base ${base.requested} has no glibc (musl or distroless?): manylinux wheels cannot run on it`, {
      hint: `choose a glibc-based Python image such as ${base.settings.defaultBase(target.python)} or python:${target.python}-slim-bookworm`,
    });
  }
  const os = `image ${base.requested}`;
  return { ...target, os, glibc, platforms: manylinuxTags(glibc, target.arch), description: `${target.provider} python${target.python} ${target.arch} (${os}, glibc ${glibc.join('.')})` };
}

/**
 * Refuse, before anything is built or uploaded, an image over the platform's limit: the sizes are
 * known from the files, and the error names the biggest layers and packages.
 */
export function assertImageFits(files: PlannedFile[], base: ResolvedBase, limit: number | undefined, owners: Record<string, string>): void {
  const sizes = { base: base.runtime.uncompressedBytes, dependencies: 0, model: 0, handler: 0 };
  for (const f of files) sizes[f.origin === 'deps' ? 'dependencies' : f.origin === 'model' ? 'model' : 'handler'] += f.size;
  const total = Object.values(sizes).reduce((n, b) => n + b, 0);
  if (limit === undefined || total <= limit) return;
  const layers = Object.entries(sizes).sort((a, b) => b[1] - a[1]);
  const packages = heaviest(files.filter((f) => f.origin === 'deps'), 5, owners);
  throw new MlserveError('BUNDLE_TOO_LARGE', `the image would be ${fmt(total)} uncompressed, over the ${fmt(limit)} container image limit; biggest layers: ${layers.map(([n, b]) => `${n} ${fmt(b)}`).join(', ')}`, {
    hint: `nothing was built or uploaded. Shrink the model (quantize, or move big artifacts to object storage) or the dependencies (heaviest: ${packages.map(([n, b]) => `${n} ${fmt(b)}`).join(', ') || 'none'})`,
    details: { layers: layers.map(([name, bytes]) => ({ name, bytes })), heaviest: packages.map(([name, bytes]) => ({ name, bytes })) },
  });
}

/** Build the image into an OCI layout beside where the zip would go; the image as a package describes it. */
export async function writePackageImage(
  entries: PlannedFile[],
  base: ResolvedBase,
  o: { layout: string; tag: string; arch: Target['arch']; env: Record<string, string | undefined>; digests: Digests; reporter: Reporter },
): Promise<PackagedImage> {
  const built = await o.reporter.step(`Building the image (${entries.length} files in 3 layers)`, (progress) =>
    buildPackageImage({
      base: base.image, runtime: base.runtime, taskRoot: base.settings.taskRoot, handler: base.settings.handler, architecture: o.arch === 'arm64' ? 'arm64' : 'amd64',
      entries, layout: o.layout, tag: o.tag, cacheDir: join(userCacheDir(o.env), 'layers'), digests: o.digests,
      onLayer: (name, layer, reused) => progress(`${name}: ${fmt(layer.size)}${reused ? ' (unchanged)' : ''}`),
    }),
  );
  // Paths into the layout (hard links or copies of the cache's blobs): the package stays whole if the cache is cleared.
  const blob = (digest: string) => join(o.layout, 'blobs', 'sha256', digest.slice('sha256:'.length));
  const mine = built.layers.map((l: BuiltLayer) => ({ name: l.name, digest: l.digest, size: l.size, uncompressedSize: l.uncompressedSize, files: l.files, path: blob(l.digest), reused: l.reused }));
  return {
    layout: o.layout, tag: o.tag, digest: built.image.manifestDigest, base: base.image.reference, requested: base.requested, taskRoot: base.settings.taskRoot, layers: mine,
    uncompressedBytes: base.runtime.uncompressedBytes + mine.reduce((n, l) => n + l.uncompressedSize, 0),
  };
}
