import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { MlserveError } from '../../core/errors.js';
import { MEDIA, type BuiltImage } from './oci.js';

/** Where to push: the registry's base URL, the repository, and its credentials (ECR's are Basic). */
export interface RegistryTarget {
  url: string;
  repository: string;
  /** `Basic <base64 user:password>` or `Bearer <token>`; never printed. */
  authorization?: string;
}

/** Where a push is: which blob of how many, and its bytes sent (or skipped: the registry had it). */
export interface PushProgress {
  digest: string;
  index: number;
  count: number;
  state: 'skipped' | 'sending' | 'sent';
  bytes: number;
  total: number;
}

export interface PushResult {
  digest: string;
  /** Blobs sent, and blobs the registry already had (a HEAD answered 200, nothing sent). */
  uploaded: string[];
  skipped: string[];
}

/**
 * Push a built image with the Distribution API (OCI distribution spec, "push"): for each layer and
 * the config, HEAD the blob and upload it only when missing (POST an upload, then a monolithic PUT
 * with its digest, streamed from disk); then PUT the manifest under `tag`. The registry's
 * Docker-Content-Digest must equal the digest computed here. Plain HTTP only to a loopback address.
 */
export async function pushImage(target: RegistryTarget, image: BuiltImage, tag: string, onProgress?: (p: PushProgress) => void): Promise<PushResult> {
  const base = registryBase(target.url);
  const repo = `${base}/v2/${target.repository}`;
  const headers: Record<string, string> = target.authorization ? { authorization: target.authorization } : {};
  const result: PushResult = { digest: image.manifestDigest, uploaded: [], skipped: [] };
  const blobs = [...image.layers.map((l) => ({ digest: l.digest, size: l.size, path: l.path })), { digest: image.configDigest, size: image.config.length, path: undefined }];
  for (const [index, blob] of blobs.entries()) {
    let step = -1; // 'sending' is reported at each 5 % of the blob, not for every chunk
    const report = (state: PushProgress['state'], bytes: number) => {
      const now = Math.floor((bytes / Math.max(1, blob.size)) * 20);
      if (state === 'sending' && now === step) return;
      step = now;
      onProgress?.({ digest: blob.digest, index, count: blobs.length, state, bytes, total: blob.size });
    };
    const head = await call(`${repo}/blobs/${blob.digest}`, { method: 'HEAD', headers });
    if (head.status === 200) {
      result.skipped.push(blob.digest);
      report('skipped', blob.size);
      continue;
    }
    expectStatus(head, [404], `HEAD blob ${blob.digest}`);
    const start = await call(`${repo}/blobs/uploads/`, { method: 'POST', headers });
    expectStatus(start, [202], 'starting a blob upload');
    const location = new URL(start.headers.get('location') ?? '', `${repo}/blobs/uploads/`);
    location.searchParams.set('digest', blob.digest);
    const put = await call(location.toString(), {
      method: 'PUT',
      headers: { ...headers, 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
      body: blob.path ? fileBody(blob.path, (bytes) => report('sending', bytes)) : image.config,
      duplex: 'half',
    });
    expectStatus(put, [201], `uploading blob ${blob.digest}`);
    result.uploaded.push(blob.digest);
    report('sent', blob.size);
  }
  const manifest = await call(`${repo}/manifests/${tag}`, { method: 'PUT', headers: { ...headers, 'content-type': MEDIA.manifest }, body: image.manifest });
  expectStatus(manifest, [201], `putting the manifest as ${tag}`);
  const echoed = manifest.headers.get('docker-content-digest');
  if (echoed && echoed !== image.manifestDigest) {
    throw new MlserveError('REGISTRY_ERROR', `the registry stored the manifest as ${echoed}, not ${image.manifestDigest}`, { hint: 'the registry rewrote the manifest; push to an OCI-compliant registry' });
  }
  return result;
}

/** The registry's base URL: https anywhere; http only to 127.0.0.1, ::1 or localhost. */
export function registryBase(url: string): string {
  const parsed = new URL(url.includes('://') ? url : `https://${url}`);
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(parsed.hostname);
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && loopback)) {
    throw new MlserveError('USAGE', `registry ${url}: plain HTTP is allowed only to a loopback address`, { hint: 'use https://, or a registry on 127.0.0.1' });
  }
  return `${parsed.protocol}//${parsed.host}`;
}

/** A blob streamed from disk, counting the bytes read as it goes (for a progress bar). */
function fileBody(path: string, onBytes: (bytes: number) => void): ReadableStream {
  let bytes = 0;
  const stream = createReadStream(path, { highWaterMark: 1024 * 1024 });
  stream.on('data', (chunk) => onBytes((bytes += chunk.length)));
  return Readable.toWeb(stream) as ReadableStream;
}

/** fetch, with a failure to connect said as the registry's, naming its host. */
export async function call(url: string, init: RequestInit & { duplex?: 'half' } = {}): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    throw new MlserveError('REGISTRY_ERROR', `cannot reach the registry at ${new URL(url).host}: ${(error as Error).message}`, { hint: 'check the registry address and your network', cause: error });
  }
}

function expectStatus(response: Response, ok: number[], what: string): void {
  if (ok.includes(response.status)) return;
  const auth = response.status === 401 || response.status === 403;
  throw new MlserveError('REGISTRY_ERROR', `${what}: the registry answered ${response.status} ${response.statusText}`, {
    hint: auth ? 'the registry refused the credentials: log in again (ECR tokens last 12 hours)' : 'see the registry’s logs; run again to resume (blobs already pushed are skipped)',
  });
}
