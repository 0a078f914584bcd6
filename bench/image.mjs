// `npm run bench -- image`: a container image of a TorchScript model (torch 2.13 CPU), built by
// `mlserve package` on a Python base served by a local docker-registry, against its floor in the
// same run: `pip install --target` of the same requirements for the same platforms.
//   cold        nothing cached (pip, three layers gzip'd, OCI layout) vs the pip floor
//   unchanged   the stamp defeated (the config touched), everything else unchanged: every layer
//               comes from the cache; vs `mlserve --version` (a node start) and vs sha256sum of the
//               files (what "hashing" would cost)
// Needs Debian's docker-registry (`.ci/run` installs it); says so and skips without it.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const freePort = () => new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});

async function startRegistry() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-registry-'));
  const port = await freePort();
  writeFileSync(join(dir, 'config.yml'), `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  const child = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (await fetch(`${url}/v2/`).then((r) => r.ok, () => false)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, host: `127.0.0.1:${port}`, stop: () => { child.kill('SIGTERM'); rmSync(dir, { recursive: true, force: true }); } };
}

async function seedBase(root, registry) {
  const { writeLayer } = await import(join(root, 'dist/packaging/image/layer.js'));
  const { buildImage } = await import(join(root, 'dist/packaging/image/oci.js'));
  const { pushImage } = await import(join(root, 'dist/packaging/image/registry.js'));
  const text = (name, body, mode = 0o644) => ({ name, source: { data: Buffer.from(body) }, size: Buffer.byteLength(body), mode });
  const dir = mkdtempSync(join(tmpdir(), 'bench-base-'));
  const layer = await writeLayer([text('usr/local/bin/python3.11', '#!/bin/sh\nexec python3 "$@"\n', 0o755), text('usr/lib/x86_64-linux-gnu/libc.so.6', 'GNU C Library (Debian GLIBC 2.36-9) stable release version 2.36.\n', 0o755)], join(dir, 'base.tar.gz'));
  const image = buildImage({ architecture: 'amd64', cmd: ['python3.11'], env: { PATH: '/usr/local/bin:/usr/bin:/bin' }, workingDir: '/', layers: [{ layer, createdBy: 'bench base' }] });
  await pushImage({ url: registry.url, repository: 'library/python' }, image, '3.11');
  rmSync(dir, { recursive: true, force: true });
  return `${registry.host}/library/python:3.11`;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const secondsOf = (fn) => {
  const t = performance.now();
  fn();
  return (performance.now() - t) / 1000;
};

export default {
  async image(rows, { python, root, mlserve }) {
    if (spawnSync('docker-registry', ['--version']).error) {
      rows.push(['image: skipped', '-', 'docker-registry is not installed (apt-get install docker-registry)']);
      return;
    }
    const registry = await startRegistry();
    const dir = mkdtempSync(join(tmpdir(), 'bench-image-'));
    const cache = mkdtempSync(join(tmpdir(), 'bench-image-cache-'));
    try {
      const base = await seedBase(root, registry);
      execFileSync(python, [join(root, 'test/python/make_models.py'), 'torchscript', dir]);
      writeFileSync(join(dir, 'requirements.txt'), 'torch==2.13.0+cpu\nnumpy\n');
      mlserve(['init', '--yes', '--name', 'bench', '--provider', 'aws'], dir);
      writeFileSync(join(dir, 'mlserve.config.yaml'), `\nimage:\n  base: ${base}\n`, { flag: 'a' });
      const env = { MLSERVE_CACHE_DIR: cache };
      let report;
      const cold = secondsOf(() => (report = JSON.parse(mlserve(['package', '--json'], dir, env))));
      const into = mkdtempSync(join(tmpdir(), 'bench-image-pip-'));
      const floor = secondsOf(() => execFileSync(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--target', into, ...report.target.platforms.flatMap((p) => ['--platform', p]), '--implementation', 'cp', '--python-version', '3.11', '--only-binary=:all:', '-r', join(dir, 'requirements.txt')], { env: { ...process.env, PIP_RETRIES: '0' } }));
      const hashing = secondsOf(() => execFileSync('sh', ['-c', `find . -type f -print0 | xargs -0 sha256sum > /dev/null`], { cwd: into }));
      rmSync(into, { recursive: true, force: true });
      const mib = (report.image.uncompressedBytes / 1024 / 1024).toFixed(0);
      rows.push([`image build, nothing cached (TorchScript + torch 2.13 CPU, ${mib} MiB)`, `${cold.toFixed(2)} s`, `${(cold / floor).toFixed(2)}x the floor (${floor.toFixed(2)} s: pip install --target, same requirements and platforms)`]);
      const config = join(dir, 'mlserve.config.yaml');
      const unchanged = median([0, 1, 2].map(() => {
        utimesSync(config, new Date(), new Date()); // the stamp sees a change; the content is the same
        return secondsOf(() => (report = JSON.parse(mlserve(['package', '--json'], dir, env))));
      }));
      if (!report.image.layers.every((l) => l.reused)) throw new Error('the unchanged build rebuilt a layer');
      const node = median([0, 1, 2].map(() => secondsOf(() => mlserve(['--version'], dir, env))));
      rows.push(['image build, nothing changed (stamp defeated; every layer from the cache, same digest)', `${unchanged.toFixed(2)} s`, `${(unchanged - node).toFixed(2)} s beyond a node start (${node.toFixed(2)} s); sha256sum of the installed files alone: ${hashing.toFixed(2)} s`]);
    } finally {
      registry.stop();
      rmSync(dir, { recursive: true, force: true });
      rmSync(cache, { recursive: true, force: true });
    }
  },
};
