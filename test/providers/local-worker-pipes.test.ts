import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WorkerPool } from '../../src/providers/local/worker-pool.js';
import { tempDir, testPython } from '../helpers/python.js';

// A worker that says it is ready, then exits without reading the request sent to it: its end of the
// request pipe closes with our bytes unread, so ours fails with ECONNRESET (seen in CI as an uncaught
// exception that would have ended `serve`).
const WORKER = `
import os, time
os.write(4, b'{"type": "ready", "init_ms": 1}\\n')
time.sleep(0.3)
os._exit(3)
`;

describe('the local worker pool when a worker dies under its pipes', () => {
  it('answers the request in flight as a crash instead of throwing an uncaught pipe error, and serves the next from a new worker', async () => {
    const bundle = tempDir('mlserve-fake-worker-');
    mkdirSync(join(bundle, 'mlserve_runtime'));
    writeFileSync(join(bundle, 'mlserve_runtime', '__init__.py'), '');
    writeFileSync(join(bundle, 'mlserve_runtime', 'worker.py'), WORKER);
    const pool = new WorkerPool({ python: testPython(), bundleDir: bundle, env: { PATH: process.env.PATH ?? '' }, timeoutMs: 10_000, memoryMb: 1024 }, 1);
    try {
      expect((await pool.prewarm()).ok).toBe(true);
      const big = { body: 'x'.repeat(4 * 1024 * 1024) }; // more than the pipe holds: the worker dies with it unread
      const first = await pool.invoke(big);
      expect(first).toMatchObject({ kind: 'crash' });
      expect(first.kind === 'crash' && `${first.detail} ${first.logs}`).toMatch(/exit code 3|pipe failed \((ECONNRESET|EPIPE)\)/);
      // The pool replaces it: the next request gets a fresh worker (which dies the same way).
      expect((await pool.invoke({ small: true })).kind).toBe('crash');
      expect(pool.stats().workers).toBeLessThanOrEqual(1);
    } finally {
      await pool.close();
    }
  }, 60_000);
});
