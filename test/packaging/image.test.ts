import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeLayer, type LayerEntry } from '../../src/packaging/image/layer.js';
import { buildImage, writeLayout, type BuiltImage } from '../../src/packaging/image/oci.js';
import { inspectBase } from '../../src/packaging/image/base.js';
import { parseReference, pullImage } from '../../src/packaging/image/pull.js';
import { pushImage, registryBase, type PushProgress } from '../../src/packaging/image/registry.js';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { freePort } from '../helpers/service.js';
import { tempDir } from '../helpers/python.js';

/** A small tree with what a real dependency set has: a path over 100 bytes, an executable, nesting. */
function tree(): { dir: string; entries: LayerEntry[] } {
  const dir = tempDir('layer-src-');
  const long = `site/${'deeply_nested_package/'.repeat(5)}module_with_a_rather_long_name.py`;
  const files: [string, string, number][] = [
    ['var/task/mlserve_handler.py', 'def handler(event, context):\n    return {"ok": True}\n', 0o644],
    ['var/task/bin/run', '#!/bin/sh\necho run\n', 0o755],
    [`var/task/${long}`, 'VALUE = 42\n', 0o600],
  ];
  const entries = files.map(([name, text, mode]) => {
    const abs = join(dir, name.replaceAll('/', '_'));
    writeFileSync(abs, text, { mode });
    return { name, source: { path: abs }, size: Buffer.byteLength(text), mode };
  });
  // Given out of order: the layer sorts them.
  return { dir, entries: entries.reverse() };
}

const json = (text: string) => JSON.parse(text) as Record<string, unknown>;

describe('OCI image layers and layout', () => {
  it('the same files give the same layer digest, whatever their mtimes and the order given', async () => {
    const { entries } = tree();
    const out = tempDir('layers-');
    const a = await writeLayer(entries, join(out, 'a.tar.gz'));
    for (const e of entries) if ('path' in e.source) execFileSync('touch', ['-d', '2001-02-03', e.source.path]);
    const b = await writeLayer([...entries].reverse(), join(out, 'b.tar.gz'));
    expect(b).toMatchObject({ digest: a.digest, diffId: a.diffId, size: a.size });
    expect(readFileSync(a.path).equals(readFileSync(b.path))).toBe(true);
    // The tar lists every directory before its files, with fixed owners, modes and time.
    const listing = execFileSync('tar', ['-tvzf', a.path, '--numeric-owner'], { encoding: 'utf8' }).trim().split('\n');
    expect(listing[0]).toMatch(/^drwxr-xr-x 0\/0 +0 1970-01-01 00:00 var\/$/);
    expect(listing.find((l) => l.endsWith('var/task/bin/run'))).toMatch(/^-rwxr-xr-x 0\/0 /);
    expect(listing.find((l) => l.endsWith('module_with_a_rather_long_name.py'))).toMatch(/^-rw-r--r-- 0\/0 /);
  });

  it('skopeo and umoci, independent readers, read the image mlserve writes, and its files are intact', async () => {
    const { entries } = tree();
    const out = tempDir('image-');
    const layer = await writeLayer(entries, join(out, 'layer.tar.gz'));
    const image = buildImage({ architecture: 'amd64', cmd: ['mlserve_handler.handler'], env: { PYTHONPATH: '/var/task' }, workingDir: '/var/task', layers: [{ layer, createdBy: 'mlserve: handler' }] });
    expect(buildImage({ architecture: 'amd64', cmd: ['mlserve_handler.handler'], env: { PYTHONPATH: '/var/task' }, workingDir: '/var/task', layers: [{ layer, createdBy: 'mlserve: handler' }] }).manifestDigest).toBe(image.manifestDigest);
    const layout = join(out, 'layout');
    await writeLayout(layout, image, 'v1');

    const inspect = json(execFileSync('skopeo', ['inspect', `oci:${layout}:v1`], { encoding: 'utf8' }));
    expect(inspect).toMatchObject({ Digest: image.manifestDigest, Architecture: 'amd64', Os: 'linux', Layers: [layer.digest], Env: ['PYTHONPATH=/var/task'] });
    const config = json(execFileSync('skopeo', ['inspect', '--config', `oci:${layout}:v1`], { encoding: 'utf8' }));
    expect(config).toMatchObject({ config: { Cmd: ['mlserve_handler.handler'], WorkingDir: '/var/task' }, rootfs: { diff_ids: [layer.diffId] } });

    const bundle = join(out, 'bundle');
    mkdirSync(bundle);
    execFileSync('umoci', ['unpack', '--rootless', '--image', `${layout}:v1`, join(bundle, 'unpacked')]);
    const rootfs = join(bundle, 'unpacked/rootfs');
    expect(readFileSync(join(rootfs, 'var/task/mlserve_handler.py'), 'utf8')).toContain('def handler');
    expect(statSync(join(rootfs, 'var/task/bin/run')).mode & 0o777).toBe(0o755);
    expect(execFileSync(join(rootfs, 'var/task/bin/run'), { encoding: 'utf8' })).toBe('run\n');
    // umoci checks every blob against its digest while unpacking: a layout it unpacks is intact.
  });
});

describe('pushing to a real registry (docker-registry on 127.0.0.1)', () => {
  let registry: Registry;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
  });

  /** skopeo copies the image out of the registry into an OCI layout; umoci unpacks it (checking every digest). */
  function copyAndUnpack(reference: string): string {
    const layout = join(tempDir('copy-'), 'layout');
    execFileSync('skopeo', ['copy', '--src-tls-verify=false', `docker://${reference}`, `oci:${layout}:copy`], { stdio: 'ignore' });
    const unpacked = join(tempDir('unpack-'), 'bundle');
    execFileSync('umoci', ['unpack', '--rootless', '--image', `${layout}:copy`, unpacked]);
    return unpacked;
  }

  async function image(text: string): Promise<BuiltImage> {
    const out = tempDir('push-');
    const { entries } = tree();
    const deps = await writeLayer(entries, join(out, 'deps.tar.gz'));
    const handler = await writeLayer([{ name: 'var/task/version.txt', source: { data: Buffer.from(text) }, size: Buffer.byteLength(text), mode: 0o644 }], join(out, 'handler.tar.gz'));
    return buildImage({ architecture: 'amd64', cmd: ['mlserve_handler.handler'], env: {}, workingDir: '/var/task', layers: [{ layer: deps, createdBy: 'deps' }, { layer: handler, createdBy: 'handler' }] });
  }

  it('pushes what skopeo then reads back by the same digest; a second push sends nothing; a code change sends only its layer', async () => {
    const first = await image('v1');
    const progress: PushProgress[] = [];
    const pushed = await pushImage({ url: registry.url, repository: 'iris' }, first, 'v1', (p) => progress.push(p));
    expect(pushed).toMatchObject({ digest: first.manifestDigest, skipped: [] });
    expect(pushed.uploaded).toHaveLength(3);
    // Progress per blob: bytes only grow, and each blob ends sent whole.
    for (const [i, digest] of pushed.uploaded.entries()) {
      const mine = progress.filter((p) => p.digest === digest);
      expect(mine.map((p) => p.bytes)).toEqual([...mine.map((p) => p.bytes)].sort((a, b) => a - b));
      expect(mine.at(-1)).toMatchObject({ state: 'sent', index: i, count: 3, bytes: mine.at(-1)!.total });
    }
    const inspect = json(execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.host}/iris:v1`], { encoding: 'utf8' }));
    expect(inspect).toMatchObject({ Digest: first.manifestDigest, Layers: first.layers.map((l) => l.digest) });

    const skips: PushProgress['state'][] = [];
    const again = await pushImage({ url: registry.url, repository: 'iris' }, await image('v1'), 'v1', (p) => skips.push(p.state));
    expect(skips).toEqual(['skipped', 'skipped', 'skipped']);
    expect(again).toEqual({ digest: first.manifestDigest, uploaded: [], skipped: [...first.layers.map((l) => l.digest), first.configDigest] });

    const changed = await image('v2');
    const second = await pushImage({ url: registry.url, repository: 'iris' }, changed, 'v2');
    expect(second.skipped).toEqual([first.layers[0]!.digest]);
    expect(second.uploaded).toEqual([changed.layers[1]!.digest, changed.configDigest]);

    // An independent copy out of the registry unpacks to the files that went in.
    const unpacked = copyAndUnpack(`${registry.host}/iris:v2`);
    expect(readFileSync(join(unpacked, 'rootfs/var/task/version.txt'), 'utf8')).toBe('v2');
    expect(readFileSync(join(unpacked, 'rootfs/var/task/mlserve_handler.py'), 'utf8')).toContain('def handler');
  });

  it('builds on a base pulled by tag: pinned by digest, layers verified, its files, environment and entrypoint carried over', async () => {
    // The base: what a Python base image holds, reduced to two files and its settings.
    const out = tempDir('base-');
    const text = (name: string, body: string, mode = 0o644) => ({ name, source: { data: Buffer.from(body) }, size: Buffer.byteLength(body), mode });
    const baseLayer = await writeLayer([text('lambda-entrypoint.sh', '#!/bin/sh\nexec "$@"\n', 0o755), text('etc/os-release', 'ID=base\n')], join(out, 'base.tar.gz'));
    const base = buildImage({ architecture: 'amd64', entrypoint: ['/lambda-entrypoint.sh'], cmd: ['sh'], env: { PATH: '/usr/local/bin:/usr/bin', LANG: 'C.UTF-8' }, workingDir: '/', layers: [{ layer: baseLayer, createdBy: 'base' }] });
    await pushImage({ url: registry.url, repository: 'lambda/python' }, base, '3.11');

    const pulled = await pullImage(`${registry.host}/lambda/python:3.11`, 'amd64', tempDir('pull-cache-'));
    expect(pulled).toMatchObject({ manifestDigest: base.manifestDigest, reference: `${registry.host}/lambda/python@${base.manifestDigest}` });
    expect(readFileSync(pulled.layers[0]!.path).equals(readFileSync(baseLayer.path))).toBe(true);
    await expect(pullImage(`${registry.host}/lambda/python:3.11`, 'arm64', tempDir('pull-cache-'))).rejects.toThrow(/built for amd64, the target is arm64/);
    await expect(pullImage(`${registry.host}/lambda/python@sha256:${'0'.repeat(64)}`, 'amd64', tempDir('pull-cache-'))).rejects.toMatchObject({ code: 'REGISTRY_ERROR' });

    const handler = await writeLayer([text('var/task/mlserve_handler.py', 'def handler(e, c):\n    return 1\n')], join(out, 'handler.tar.gz'));
    const spec = { architecture: 'amd64' as const, cmd: ['mlserve_handler.handler'], env: { LANG: 'en_US.UTF-8', MLSERVE: '1' }, workingDir: '/var/task', layers: [{ layer: handler, createdBy: 'mlserve: handler' }], base: pulled };
    const app = buildImage(spec);
    expect(buildImage(spec).manifestDigest).toBe(app.manifestDigest);
    const pushed = await pushImage({ url: registry.url, repository: 'iris' }, app, 'v3');
    // The base layer is sent to the app's repository too (a registry keeps blobs per repository).
    expect(pushed.uploaded).toContain(baseLayer.digest);

    const config = json(execFileSync('skopeo', ['inspect', '--config', '--tls-verify=false', `docker://${registry.host}/iris:v3`], { encoding: 'utf8' }));
    expect(config).toMatchObject({
      config: { Entrypoint: ['/lambda-entrypoint.sh'], Cmd: ['mlserve_handler.handler'], WorkingDir: '/var/task', Env: ['PATH=/usr/local/bin:/usr/bin', 'LANG=en_US.UTF-8', 'MLSERVE=1'] },
      rootfs: { diff_ids: [baseLayer.diffId, handler.diffId] },
    });
    const unpacked = copyAndUnpack(`${registry.host}/iris:v3`);
    expect(readFileSync(join(unpacked, 'rootfs/etc/os-release'), 'utf8')).toBe('ID=base\n');
    expect(readFileSync(join(unpacked, 'rootfs/var/task/mlserve_handler.py'), 'utf8')).toContain('def handler');
  });

  it('reads a base\'s Python and glibc from its own files, as AWS\'s and Debian\'s bases lay them out; a pinned base needs no registry', async () => {
    const text = (name: string, body: string, mode = 0o644) => ({ name, source: { data: Buffer.from(body) }, size: Buffer.byteLength(body), mode });
    const out = tempDir('bases-');
    // AWS's python3.11 base (Amazon Linux 2): /var/lang/bin/python3.11, glibc 2.26 as libc-2.26.so, its own runtime client.
    const al2 = buildImage({
      architecture: 'amd64', entrypoint: ['/lambda-entrypoint.sh'], cmd: ['app.handler'], env: {}, workingDir: '/var/task',
      layers: [{ layer: await writeLayer([text('lib64/libc-2.26.so', 'ELF'), text('usr/bin/python3.7', ''), text('var/lang/bin/python3.11', '', 0o755), text('lambda-entrypoint.sh', '', 0o755)], join(out, 'al2.tar.gz')), createdBy: 'al2' }],
    });
    await pushImage({ url: registry.url, repository: 'aws/python' }, al2, '3.11');
    const cache = tempDir('inspect-cache-');
    const pulled = await pullImage(`${registry.host}/aws/python:3.11`, 'amd64', cache);
    expect(await inspectBase(pulled, cache)).toMatchObject({ python: '3.11', pythonPath: '/var/lang/bin/python3.11', glibc: [2, 26], lambdaRuntime: true });
    // Debian (python:3.11-slim): /usr/local/bin/python3.11, a glibc 2.36 libc.so.6 that names its release; no runtime client.
    const debian = buildImage({
      architecture: 'amd64', cmd: ['python3'], env: {}, workingDir: '/',
      layers: [{ layer: await writeLayer([text('usr/lib/x86_64-linux-gnu/libc.so.6', 'GNU C Library (Debian GLIBC 2.36-9) stable release version 2.36.\n'), text('usr/local/bin/python3.11', '', 0o755)], join(out, 'deb.tar.gz')), createdBy: 'debian' }],
    });
    await pushImage({ url: registry.url, repository: 'library/python' }, debian, '3.11-slim');
    const deb = await pullImage(`${registry.host}/library/python:3.11-slim`, 'amd64', cache);
    const runtime = await inspectBase(deb, cache);
    expect(runtime).toMatchObject({ python: '3.11', pythonPath: '/usr/local/bin/python3.11', glibc: [2, 36], lambdaRuntime: false });
    expect(runtime.uncompressedBytes).toBeGreaterThan(0);
    // Pinned by digest and cached: pulled again with the registry gone.
    await registry.stop();
    try {
      const again = await pullImage(deb.reference, 'amd64', cache);
      expect(again.manifestDigest).toBe(deb.manifestDigest);
    } finally {
      registry = await startRegistry();
    }
  });

  it('answers a registry\'s Bearer challenge anonymously, as AWS\'s public gallery asks', async () => {
    // A front that challenges like public.ecr.aws (401 + WWW-Authenticate: Bearer realm, service,
    // scope; a token endpoint), then forwards authorised reads to the real registry behind it.
    const { createServer } = await import('node:http');
    const seen: string[] = [];
    const front = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://front');
      if (url.pathname === '/token') {
        seen.push(`token ${url.searchParams.get('service')} ${url.searchParams.get('scope')}`);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'anon-123' }));
        return;
      }
      if (req.headers.authorization !== 'Bearer anon-123') {
        const port = (front.address() as { port: number }).port;
        res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="front",scope="repository:lambda/python:pull"` }).end();
        return;
      }
      void fetch(`${registry.url}${req.url}`, { headers: { accept: req.headers.accept ?? '*/*' } }).then(async (r) => {
        res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/octet-stream' }).end(Buffer.from(await r.arrayBuffer()));
      });
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    try {
      const base = buildImage({ architecture: 'amd64', cmd: ['sh'], env: {}, workingDir: '/', layers: [{ layer: await writeLayer(tree().entries, join(tempDir('anon-'), 'l.tar.gz')), createdBy: 'base' }] });
      await pushImage({ url: registry.url, repository: 'lambda/python' }, base, 'anon');
      const pulled = await pullImage(`127.0.0.1:${(front.address() as { port: number }).port}/lambda/python:anon`, 'amd64', tempDir('pull-cache-'));
      expect(pulled.manifestDigest).toBe(base.manifestDigest);
      expect(seen).toEqual(['token front repository:lambda/python:pull']);
    } finally {
      await new Promise((resolve) => front.close(resolve));
    }
  });

  it('refuses plain HTTP beyond loopback, and names the registry it cannot reach', async () => {
    expect(() => registryBase('http://registry.example.com')).toThrow(/plain HTTP is allowed only to a loopback address/);
    expect(registryBase('123456789012.dkr.ecr.us-east-1.amazonaws.com')).toBe('https://123456789012.dkr.ecr.us-east-1.amazonaws.com');
    const closed = `http://127.0.0.1:${(await freePort())}`;
    await expect(pushImage({ url: closed, repository: 'iris' }, await image('x'), 'x')).rejects.toMatchObject({ code: 'REGISTRY_ERROR', message: expect.stringContaining('cannot reach the registry at 127.0.0.1') });
  });
});

describe('image references', () => {
  it('reads registry, repository and tag or digest, and refuses a reference without a registry', () => {
    expect(parseReference('public.ecr.aws/lambda/python:3.11')).toEqual({ registry: 'public.ecr.aws', repository: 'lambda/python', reference: '3.11' });
    expect(parseReference(`127.0.0.1:5000/base@sha256:${'a'.repeat(64)}`)).toEqual({ registry: '127.0.0.1:5000', repository: 'base', reference: `sha256:${'a'.repeat(64)}` });
    expect(parseReference('localhost/py')).toEqual({ registry: 'localhost', repository: 'py', reference: 'latest' });
    expect(() => parseReference('python:3.11')).toThrow(/not a full image reference[\s\S]*/);
  });
});

