import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { packagingEnv, project } from '../helpers/project.js';
import { tempDir, testPython } from '../helpers/python.js';
import { seedPythonBase, startRegistry, type Registry } from '../helpers/registry.js';

let registry: Registry;
let base: string;
beforeAll(async () => {
  registry = await startRegistry();
  base = await seedPythonBase(registry, { repository: 'library/python', tag: '3.11', python: '3.11', glibc: '2.26' });
}, 60_000);
afterAll(async () => {
  await registry?.stop();
});

/** A wheel whose package holds `mb` MiB of zeros: a dependency too big for a zip, small on disk as a wheel. */
function bigWheel(dir: string, mb: number): string {
  const path = join(dir, 'bigdep-0.1-py3-none-any.whl');
  const script = `
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("bigdep/__init__.py", "")
    with z.open("bigdep/weights.bin", "w", force_zip64=True) as f:
        for _ in range(int(sys.argv[2])):
            f.write(bytes(1024 * 1024))
    z.writestr("bigdep-0.1.dist-info/METADATA", "Metadata-Version: 2.1\\nName: bigdep\\nVersion: 0.1\\n")
    z.writestr("bigdep-0.1.dist-info/WHEEL", "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
    z.writestr("bigdep-0.1.dist-info/RECORD", "")
`;
  execFileSync(testPython(), ['-c', script, path, String(mb)]);
  return path;
}

describe('runtime.package auto', () => {
  it('builds a zip while it fits, and an image (saying why, with the figure) once the dependencies outgrow the zip', async () => {
    const model = await project('custom', ['--provider', 'aws', '--region', 'us-east-1'], `\nimage:\n  base: ${base}\n`);
    const env = packagingEnv();
    const small = await runCli(['package', '--json'], { cwd: model.dir, env });
    expect(small.code, small.stderr).toBe(0);
    expect(small.json()).toMatchObject({ packageType: 'zip' });

    const wheel = bigWheel(tempDir('wheel-'), 300);
    writeFileSync(join(model.dir, 'requirements.txt'), `${wheel}\n`);
    const big = await runCli(['package', '--json'], { cwd: model.dir, env });
    expect(big.code, big.stderr).toBe(0);
    const doc = big.json<{ packageType: string; packageReason: string; image: { base: string; layers: { name: string; uncompressedSize: number }[] }; limits: { id: string; ok: boolean }[] }>();
    expect(doc.packageType).toBe('image');
    expect(doc.packageReason).toMatch(/^runtime\.package is auto and the zip cannot fit: the dependencies alone are 300\.\d MB unzipped, over the platform's 250\.0 MB limit/);
    expect(doc.image.base).toMatch(/@sha256:[0-9a-f]{64}$/);
    expect(doc.image.layers.find((l) => l.name === 'dependencies')!.uncompressedSize).toBeGreaterThan(300 * 1024 * 1024);
    expect(doc.limits.map((l) => l.id)).toEqual(['tmp', 'image']);
    expect(readFileSync(join(model.dir, 'mlserve.config.yaml'), 'utf8')).toMatch(/^ {2}package: auto/m);
  }, 300_000);

  it('refuses a base whose Python is not runtime.python, naming both and a base that would do', async () => {
    const model = await project('custom', ['--provider', 'aws', '--region', 'us-east-1'], `\nimage:\n  base: ${base}\n`);
    const file = join(model.dir, 'mlserve.config.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^ {2}package: \w+/m, '  package: image').replace(/^ {2}python: "3\.11"/m, '  python: "3.12"'));
    const run = await runCli(['package', '--json'], { cwd: model.dir, env: packagingEnv() });
    expect(run.code).toBe(2);
    expect(run.json<{ error: { code: string; message: string; hint: string } }>().error).toMatchObject({
      code: 'CONFIG_INVALID',
      message: `image.base ${base} has Python 3.11; runtime.python is 3.12`,
      hint: expect.stringContaining('public.ecr.aws/lambda/python:3.12'),
    });
  });
});
