import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startService } from './service.js';
import { tempDir } from './python.js';

/** A real OCI registry on 127.0.0.1: Debian's docker-registry (CNCF Distribution), stopped by PID. */
export interface Registry {
  url: string;
  /** host:port, as skopeo names it (docker://<host>/<repo>:<tag>). */
  host: string;
  stop(): Promise<void>;
}

export async function startRegistry(): Promise<Registry> {
  const port = await freePort();
  const dir = tempDir('registry-');
  const config = join(dir, 'config.yml');
  writeFileSync(config, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  const exe = process.env.DOCKER_REGISTRY ?? 'docker-registry';
  const url = `http://127.0.0.1:${port}`;
  const service = await startService({ command: exe, args: ['serve', config], ready: async () => (await fetch(`${url}/v2/`)).ok, missing: "install Debian's docker-registry package (.ci/run does)" });
  return {
    url,
    host: `127.0.0.1:${port}`,
    stop: service.stop,
  };
}

/**
 * Seed `registry` with a small Python base image the test builds itself: what mlserve reads from a
 * real one (a python3.X interpreter on the path a Debian `python` image uses, and a glibc 2.34+
 * libc.so.6 naming its release), without AWS's runtime client, so mlserve's own is the entrypoint.
 */
export async function seedPythonBase(registry: Registry, o: { repository: string; tag: string; python: string; glibc: string }): Promise<string> {
  const { writeLayer } = await import('../../src/packaging/image/layer.js');
  const { buildImage } = await import('../../src/packaging/image/oci.js');
  const { pushImage } = await import('../../src/packaging/image/registry.js');
  const text = (name: string, body: string, mode = 0o644) => ({ name, source: { data: Buffer.from(body) }, size: Buffer.byteLength(body), mode });
  const libc = `\x7fELF stand-in\0GNU C Library (Debian GLIBC ${o.glibc}-9+deb12u4) stable release version ${o.glibc}.\n`;
  const layer = await writeLayer(
    [text(`usr/local/bin/python${o.python}`, '#!/bin/sh\nexec python3 "$@"\n', 0o755), text('usr/lib/x86_64-linux-gnu/libc.so.6', libc, 0o755), text('etc/os-release', 'ID=debian\nVERSION_ID="12"\n')],
    join(tempDir('base-'), 'base.tar.gz'),
  );
  const image = buildImage({ architecture: 'amd64', cmd: [`python${o.python}`], env: { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' }, workingDir: '/', layers: [{ layer, createdBy: 'test base' }] });
  await pushImage({ url: registry.url, repository: o.repository }, image, o.tag);
  return `${registry.host}/${o.repository}:${o.tag}`;
}
