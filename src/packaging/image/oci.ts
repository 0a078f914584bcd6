import { createHash } from 'node:crypto';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
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
    if ((await statIfExists(blobPath(layer.digest)))?.size !== layer.size) await copyFile(layer.path, blobPath(layer.digest));
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
