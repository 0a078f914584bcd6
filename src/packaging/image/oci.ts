import { createHash } from 'node:crypto';
import { copyFile, link, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MlserveError } from '../../core/errors.js';
import { statIfExists, writeFileAtomic } from '../../core/fs.js';
import type { Layer } from './layer.js';
import type { BaseImage } from './pull.js';

/** A layer as an image lists it: a blob on disk with its digest, size and diff ID. */
export type ImageLayer = Pick<Layer, 'path' | 'digest' | 'size' | 'diffId'> & { mediaType?: string };

export const MEDIA = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

/** What the image runs: the process the platform starts, its environment and working directory. */
export interface ImageSpec {
  /** OCI architecture names: amd64 or arm64. */
  architecture: 'amd64' | 'arm64';
  entrypoint?: string[];
  cmd: string[];
  env: Record<string, string>;
  workingDir: string;
  /** One line per layer for `history` (what `docker history` and registries show). */
  layers: { layer: Layer; createdBy: string }[];
  /** The image these layers go on top of (its layers, environment and history carry over). */
  base?: BaseImage;
}

/** A built image: its manifest and config as the exact bytes that are pushed, and their digests. */
export interface BuiltImage {
  manifest: Buffer;
  manifestDigest: string;
  config: Buffer;
  configDigest: string;
  layers: ImageLayer[];
}

/** A fixed creation time: the same inputs give the same config, hence the same image digest. */
const CREATED = '1970-01-01T00:00:00Z';

/**
 * The image config and manifest for `spec`, serialized once with a fixed key order (a registry
 * addresses them by the digest of these very bytes).
 */
export function buildImage(spec: ImageSpec): BuiltImage {
  const base = spec.base?.config;
  const env = new Map((base?.config?.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  for (const [k, v] of Object.entries(spec.env)) env.set(k, v);
  const entrypoint = spec.entrypoint ?? base?.config?.Entrypoint ?? undefined;
  const config = Buffer.from(
    JSON.stringify({
      created: CREATED,
      architecture: spec.architecture,
      os: 'linux',
      config: {
        Env: [...env].map(([k, v]) => `${k}=${v}`),
        ...(entrypoint ? { Entrypoint: entrypoint } : {}),
        Cmd: spec.cmd,
        WorkingDir: spec.workingDir,
      },
      rootfs: { type: 'layers', diff_ids: [...(base?.rootfs.diff_ids ?? []), ...spec.layers.map((l) => l.layer.diffId)] },
      history: [...(base?.history ?? []), ...spec.layers.map((l) => ({ created: CREATED, created_by: l.createdBy }))],
    }),
  );
  const configDigest = digestOf(config);
  const layers: ImageLayer[] = [...(spec.base?.layers ?? []), ...spec.layers.map((l) => l.layer)];
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: { mediaType: MEDIA.config, digest: configDigest, size: config.length },
      layers: layers.map((l) => ({ mediaType: l.mediaType ?? MEDIA.layer, digest: l.digest, size: l.size })),
    }),
  );
  return { manifest, manifestDigest: digestOf(manifest), config, configDigest, layers };
}

export function digestOf(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/**
 * Write the image as an OCI image layout (https://github.com/opencontainers/image-spec/blob/main/image-layout.md):
 * `oci-layout`, `index.json` naming the manifest under `tag`, and every blob under `blobs/sha256/`.
 * Any OCI tool reads it (`skopeo copy oci:<dir>:<tag> …`, `umoci unpack`); blobs already there are kept.
 */
export async function writeLayout(dir: string, image: BuiltImage, tag: string): Promise<void> {
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const blobPath = (digest: string) => join(blobs, digest.slice('sha256:'.length));
  for (const layer of image.layers) {
    if ((await statIfExists(blobPath(layer.digest)))?.size !== layer.size) await linkOrCopy(layer.path, blobPath(layer.digest));
  }
  await writeFileAtomic(blobPath(image.configDigest), image.config);
  await writeFileAtomic(blobPath(image.manifestDigest), image.manifest);
  await writeFileAtomic(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA.index,
    manifests: [{ mediaType: MEDIA.manifest, digest: image.manifestDigest, size: image.manifest.length, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  };
  await writeFileAtomic(join(dir, 'index.json'), JSON.stringify(index));
}

/**
 * A hard link when source and layout share a file system (no multi-GB copy), else a copy. What is
 * at `to` (a blob of the wrong size) is removed first, never written through: it may be a link.
 */
async function linkOrCopy(from: string, to: string): Promise<void> {
  await rm(to, { force: true });
  try {
    await link(from, to);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw error;
    await copyFile(from, to);
  }
}

/**
 * Read back the image `writeLayout` wrote under `tag`: its manifest and config bytes (checked
 * against their digests) and each layer's blob path, as `pushImage` takes them.
 */
export async function readLayout(dir: string, tag: string): Promise<BuiltImage> {
  const blobPath = (digest: string) => join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!entry) throw new MlserveError('INTERNAL', `the image layout ${dir} has no image tagged ${tag}`, { hint: 'run `mlserve package` again' });
  const verified = async (digest: string) => {
    const data = await readFile(blobPath(digest));
    if (digestOf(data) !== digest) throw new MlserveError('INTERNAL', `blob ${digest} in ${dir} does not match its digest`, { hint: 'the layout was changed after mlserve wrote it: run `mlserve package` again' });
    return data;
  };
  const manifest = await verified(entry.digest);
  const parsed = JSON.parse(manifest.toString('utf8')) as { config: { digest: string }; layers: { digest: string; size: number; mediaType: string }[] };
  const config = await verified(parsed.config.digest);
  const diffIds = (JSON.parse(config.toString('utf8')) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids;
  const layers = parsed.layers.map((l, i) => ({ path: blobPath(l.digest), digest: l.digest, size: l.size, diffId: diffIds[i]!, mediaType: l.mediaType }));
  return { manifest, manifestDigest: entry.digest, config, configDigest: parsed.config.digest, layers };
}
