import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { awsPlatform } from '../../src/providers/aws/platform.js';
import { vendorDependencies } from '../../src/packaging/vendor.js';
import { configSchema } from '../../src/core/config/schema.js';
import { tempDir, testPython } from '../helpers/python.js';

describe('the dependency cache', () => {
  it('parallel installs of the same set both succeed and leave one finished entry', async () => {
    const cacheRoot = tempDir('deps-cache-');
    const config = configSchema.parse({ name: 'iris', model: { framework: 'custom' } });
    const target = awsPlatform.target(config, '3.11');
    const options = { python: testPython(), cwd: cacheRoot, requirements: { text: 'threadpoolctl==3.7.0\n', keyText: 'threadpoolctl==3.7.0\n' }, listed: new Set(['threadpoolctl']), target, cacheRoot, env: { ...process.env, PIP_RETRIES: '0' } };
    const [a, b] = await Promise.all([vendorDependencies(options), vendorDependencies(options)]);
    expect(a.dir).toBe(b.dir);
    expect(readdirSync(join(cacheRoot, 'deps'))).toEqual([a.dir.split('/').pop()]);
    expect(readdirSync(a.dir)).toEqual(expect.arrayContaining(['threadpoolctl.py', '.mlserve-vendor.json']));
    expect((await vendorDependencies(options)).cacheHit).toBe(true);
  });

  it('replaces a cache entry that was never finished', async () => {
    const cacheRoot = tempDir('deps-cache-');
    const config = configSchema.parse({ name: 'iris', model: { framework: 'custom' } });
    const options = { python: testPython(), cwd: cacheRoot, requirements: { text: 'threadpoolctl==3.7.0\n', keyText: 'threadpoolctl==3.7.0\n' }, listed: new Set<string>(), target: awsPlatform.target(config, '3.11'), cacheRoot, env: { ...process.env, PIP_RETRIES: '0' } };
    const first = await vendorDependencies(options);
    // Simulate a half-written entry: no marker.
    const { rmSync } = await import('node:fs');
    rmSync(join(first.dir, '.mlserve-vendor.json'));
    mkdirSync(join(first.dir, 'junk'), { recursive: true });
    writeFileSync(join(first.dir, 'junk/x'), 'x');
    const again = await vendorDependencies(options);
    expect(again.cacheHit).toBe(false);
    expect(readdirSync(again.dir)).not.toContain('junk');
    expect(readdirSync(again.dir)).toContain('.mlserve-vendor.json');
  });
});
