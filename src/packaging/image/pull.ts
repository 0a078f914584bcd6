import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { MlserveError } from '../../core/errors.js';
import { readFileIfExists, statIfExists, writeFileAtomic } from '../../core/fs.js';
import { digesting } from './layer.js';
import { digestOf } from './oci.js';
import { call, registryBase } from './registry.js';

/** A base image, pulled: pinned by its manifest digest, its config, and its layers in a local cache. */
export interface BaseImage {
  reference: string;
  manifestDigest: string;
  config: ImageConfig;
  layers: { digest: string; size: number; diffId: string; path: string; mediaType: string }[];
}

/** The parts of an OCI/Docker image config mlserve reads and carries over. */
export interface ImageConfig {
  architecture: string;
  os: string;
  config?: { Env?: string[]; Entrypoint?: string[] | null; Cmd?: string[] | null; WorkingDir?: string };
  rootfs: { type: string; diff_ids: string[] };
  history?: { created?: string; created_by?: string; empty_layer?: boolean }[];
}

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

interface Manifest {
  mediaType?: string;
  manifests?: { digest: string; platform?: { architecture: string; os: string } }[];
  config?: { digest: string; size: number };
  layers?: { digest: string; size: number; mediaType: string }[];
}

/**
 * Pull `reference` (`host/repo:tag` or `host/repo@sha256:…`) for `architecture`: the manifest (from
 * an index, the entry for linux/<architecture>), the config, and each layer into `cacheDir` by its
 * digest, verified while it downloads. Anonymous pulls answer the registry's Bearer challenge (as
 * AWS's public gallery asks). The returned manifest digest pins the base for the next build; a base
 * pulled by a digest whose manifest, config and layers are all in the cache needs no network.
 */
export async function pullImage(reference: string, architecture: 'amd64' | 'arm64', cacheDir: string): Promise<BaseImage> {
  const ref = parseReference(reference);
  const client = new RegistryClient(ref.registry, ref.repository, join(cacheDir, 'blobs', 'sha256'));
  let { body, digest } = await client.manifest(ref.reference);
  let manifest = JSON.parse(body.toString('utf8')) as Manifest;
  if (manifest.manifests) {
    const entry = manifest.manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === architecture);
    if (!entry) throw new MlserveError('USAGE', `${reference} has no linux/${architecture} image`, { hint: `choose a base built for ${architecture}, or set runtime.arch to one it has` });
    ({ body, digest } = await client.manifest(entry.digest));
    manifest = JSON.parse(body.toString('utf8')) as Manifest;
  }
  if (!manifest.config || !manifest.layers) throw new MlserveError('USAGE', `${reference} is not an image manifest (${manifest.mediaType ?? 'no media type'})`, { hint: 'image.base must name a container image' });
  const config = JSON.parse((await client.blob(manifest.config.digest)).toString('utf8')) as ImageConfig;
  if (config.architecture !== architecture) {
    throw new MlserveError('USAGE', `${reference} is built for ${config.architecture}, the target is ${architecture}`, { hint: `choose a ${architecture} base, or set runtime.arch to ${config.architecture}` });
  }
  const layers = [];
  for (const [i, layer] of manifest.layers.entries()) {
    const path = join(cacheDir, 'blobs', 'sha256', layer.digest.slice('sha256:'.length));
    await client.download(layer.digest, layer.size, path);
    layers.push({ digest: layer.digest, size: layer.size, diffId: config.rootfs.diff_ids[i]!, path, mediaType: ociMediaType(layer.mediaType) });
  }
  return { reference: `${ref.registry}/${ref.repository}@${digest}`, manifestDigest: digest, config, layers };
}

/** `host[:port]/repo[:tag|@digest]`; the registry part is required (no implicit Docker Hub). */
export function parseReference(reference: string): { registry: string; repository: string; reference: string } {
  const match = /^([^/]+\.[^/]+|[^/]+:\d+|localhost)\/([a-z0-9._/-]+?)(?::([\w][\w.-]{0,127})|@(sha256:[a-f0-9]{64}))?$/.exec(reference);
  if (!match) {
    throw new MlserveError('USAGE', `image.base ${reference} is not a full image reference`, { hint: 'write it as registry/repository:tag or registry/repository@sha256:…, e.g. public.ecr.aws/lambda/python:3.11' });
  }
  return { registry: match[1]!, repository: match[2]!, reference: match[4] ?? match[3] ?? 'latest' };
}

class RegistryClient {
  private readonly base: string;
  private authorization: string | undefined;

  constructor(
    registry: string,
    private readonly repository: string,
    private readonly blobs: string,
  ) {
    this.base = registryBase(['127.0.0.1', 'localhost', '[::1]'].some((h) => registry.startsWith(h)) ? `http://${registry}` : `https://${registry}`);
  }

  async manifest(reference: string): Promise<{ body: Buffer; digest: string }> {
    const cached = reference.startsWith('sha256:') ? await this.cached(reference) : undefined;
    if (cached) return { body: cached, digest: reference };
    const response = await this.get(`manifests/${reference}`, { accept: ACCEPT });
    const body = Buffer.from(await response.arrayBuffer());
    const digest = digestOf(body);
    if (reference.startsWith('sha256:') && reference !== digest) throw tampered(`manifest ${reference}`, digest);
    await writeFileAtomic(join(this.blobs, digest.slice('sha256:'.length)), body);
    return { body, digest };
  }

  async blob(digest: string): Promise<Buffer> {
    const cached = await this.cached(digest);
    if (cached) return cached;
    const body = Buffer.from(await (await this.get(`blobs/${digest}`)).arrayBuffer());
    const actual = digestOf(body);
    if (actual !== digest) throw tampered(`blob ${digest}`, actual);
    await writeFileAtomic(join(this.blobs, digest.slice('sha256:'.length)), body);
    return body;
  }

  /** A small blob (manifest, config) from the cache, checked against its digest; undefined when absent or altered. */
  private async cached(digest: string): Promise<Buffer | undefined> {
    const text = await readFileIfExists(join(this.blobs, digest.slice('sha256:'.length)));
    return text && digestOf(text) === digest ? text : undefined;
  }

  /** Download a blob to `path` (atomically), unless a file of its size is already there. */
  async download(digest: string, size: number, path: string): Promise<void> {
    if ((await statIfExists(path))?.size === size) return;
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
    const verify = digesting();
    const response = await this.get(`blobs/${digest}`);
    try {
      await pipeline(Readable.fromWeb(response.body as WebReadableStream), verify.stream, createWriteStream(tmp));
      const actual = verify.digest();
      if (actual !== digest) throw tampered(`layer ${digest}`, actual);
      await rename(tmp, path);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
  }

  private async get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    const url = `${this.base}/v2/${this.repository}/${path}`;
    const send = () => call(url, { headers: { ...headers, ...(this.authorization ? { authorization: this.authorization } : {}) } });
    let response = await send();
    if (response.status === 401 && !this.authorization) {
      this.authorization = await anonymousToken(response.headers.get('www-authenticate'));
      response = await send();
    }
    if (!response.ok) {
      throw new MlserveError('REGISTRY_ERROR', `GET ${path} from ${new URL(url).host}/${this.repository}: ${response.status} ${response.statusText}`, {
        hint: response.status === 404 ? 'check the repository and tag of image.base' : 'check image.base; private bases need a registry login',
      });
    }
    return response;
  }
}

/** Answer a `Bearer realm=…,service=…,scope=…` challenge anonymously (public registries allow pulls). */
async function anonymousToken(challenge: string | null): Promise<string> {
  const params = Object.fromEntries([...(challenge ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
  if (!challenge?.startsWith('Bearer') || !params.realm) {
    throw new MlserveError('REGISTRY_ERROR', 'the registry asks for credentials mlserve does not have', { hint: 'use a public base image, or push the base to your own registry' });
  }
  const url = new URL(params.realm);
  for (const key of ['service', 'scope']) if (params[key]) url.searchParams.set(key, params[key]);
  const response = await call(url.toString());
  if (!response.ok) throw new MlserveError('REGISTRY_ERROR', `the registry's token service answered ${response.status}`, { hint: 'the base image may be private' });
  const body = (await response.json()) as { token?: string; access_token?: string };
  return `Bearer ${body.token ?? body.access_token ?? ''}`;
}

/** Docker's layer media types as their OCI equivalents (the same bytes), so one OCI manifest lists them all. */
function ociMediaType(mediaType: string): string {
  if (mediaType === 'application/vnd.docker.image.rootfs.diff.tar.gzip') return 'application/vnd.oci.image.layer.v1.tar+gzip';
  if (mediaType === 'application/vnd.docker.image.rootfs.diff.tar') return 'application/vnd.oci.image.layer.v1.tar';
  return mediaType;
}

function tampered(what: string, actual: string): MlserveError {
  return new MlserveError('REGISTRY_ERROR', `${what} arrived with digest ${actual}: it does not match`, { hint: 'the registry or a proxy altered it; pull again, or pin another base' });
}
