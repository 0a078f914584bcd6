import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { readTextIfExists, statIfExists, writeFileAtomic } from '../../core/fs.js';
import type { Digests } from '../digests.js';
import type { PlannedFile } from '../plan.js';
import { mapLimit } from '../zip-writer.js';
import type { BaseRuntime } from './base.js';
import { writeLayer, type Layer, type LayerEntry } from './layer.js';
import { buildImage, writeLayout, type BuiltImage } from './oci.js';
import type { BaseImage } from './pull.js';

const LAYER_FORMAT = '1';

/** mlserve's layers, bottom to top: what changes least goes first, so a code change re-sends only the handler. */
export const LAYER_NAMES = ['dependencies', 'model', 'handler'] as const;
export type LayerName = (typeof LAYER_NAMES)[number];

export interface ImageBuildInput {
  base: BaseImage;
  runtime: BaseRuntime;
  /** Where the code goes in the image (Lambda: /var/task). */
  taskRoot: string;
  /** The handler, as Lambda names it (module.function). */
  handler: string;
  architecture: 'amd64' | 'arm64';
  /** Every file of the package, named as in a zip (relative to the task root). */
  entries: PlannedFile[];
  /** The OCI image layout the image is written to, and its tag there. */
  layout: string;
  tag: string;
  /** Built layers are kept here by the digest of their content, so unchanged layers are not rebuilt. */
  cacheDir: string;
  digests: Digests;
  /** Called as each layer is ready (built or found in the cache). */
  onLayer?: (name: LayerName, layer: Layer, reused: boolean) => void;
}

export interface BuiltLayer extends Layer {
  name: LayerName;
  reused: boolean;
}

/**
 * Build the image: the base's layers, then one deterministic layer each for the dependencies, the
 * model and the handler (built in parallel, each reused from the cache when its files are the same),
 * the config (the handler as the command; for a base without AWS's runtime client, mlserve's own
 * Runtime API client as the entrypoint), and an OCI layout beside the zip's place.
 */
export async function buildPackageImage(o: ImageBuildInput): Promise<{ image: BuiltImage; layers: BuiltLayer[] }> {
  const root = o.taskRoot.replace(/^\/+/, '');
  const groups = LAYER_NAMES.map((name) => ({ name, files: o.entries.filter((e) => originLayer(e) === name) }));
  const layers = await Promise.all(groups.map((g) => cachedLayer(g.name, g.files.map((f) => ({ ...f, name: `${root}/${f.name}` })), o)));
  const python = o.runtime.pythonPath ?? 'python3';
  const image = buildImage({
    architecture: o.architecture,
    ...(o.runtime.lambdaRuntime ? {} : { entrypoint: [python, '-m', 'mlserve_runtime.bootstrap'] }),
    cmd: [o.handler],
    env: { LAMBDA_TASK_ROOT: o.taskRoot, ...(o.runtime.lambdaRuntime ? {} : { PYTHONPATH: o.taskRoot }) },
    workingDir: o.taskRoot,
    layers: layers.map((l) => ({ layer: l, createdBy: `mlserve: ${l.name} (${l.files} files)` })),
    base: o.base,
  });
  await writeLayout(o.layout, image, o.tag);
  return { image, layers };
}

function originLayer(f: PlannedFile): LayerName {
  return f.origin === 'deps' ? 'dependencies' : f.origin === 'model' ? 'model' : 'handler';
}

/** A layer from the cache when a layer of exactly these names, modes and contents was built before; else built. */
async function cachedLayer(name: LayerName, files: PlannedFile[], o: ImageBuildInput): Promise<BuiltLayer> {
  const key = await layerKey(files, o.digests);
  const record = join(o.cacheDir, `${key}.json`);
  const known = await readTextIfExists(record);
  if (known) {
    const layer = JSON.parse(known) as Layer;
    if ((await statIfExists(layer.path))?.size === layer.size) {
      o.onLayer?.(name, layer, true);
      return { ...layer, name, reused: true };
    }
  }
  const entries: LayerEntry[] = files.map((f) => ({ name: f.name, source: f.data ? { data: f.data } : { path: f.abs! }, size: f.size, mode: f.mode }));
  const layer = await writeLayer(entries, join(o.cacheDir, `${key}.tar.gz`));
  await writeFileAtomic(record, JSON.stringify(layer));
  o.onLayer?.(name, layer, false);
  return { ...layer, name, reused: false };
}

/** The digest of a layer's inputs: each file's name, executable bit and content SHA-256 (remembered by path, size, mtime, inode). */
async function layerKey(files: PlannedFile[], digests: Digests): Promise<string> {
  const hash = createHash('sha256').update(LAYER_FORMAT);
  const sorted = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const sums = await mapLimit(sorted, 16, async (f) => (f.data ? createHash('sha256').update(f.data).digest('hex') : (await digests.of(f.abs!)).sha256));
  sorted.forEach((f, i) => hash.update(`${f.name}\0${f.mode & 0o111 ? 'x' : '-'}\0${f.size}\0${sums[i]}\n`));
  return hash.digest('hex');
}
