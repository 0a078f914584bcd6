import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePythonEnv } from '../../scripts/python-env.mjs';

/**
 * Create the pinned test virtualenv once per run and hand its python to every test file; give the
 * run a temporary directory of its own (TMPDIR, inherited by every test process and what they
 * spawn), removed when the run ends, so model copies and bundles never pile up in /tmp.
 */
export default function setup(): () => void {
  process.env.PIP_RETRIES = '0';
  process.env.MLSERVE_TEST_PYTHON = ensurePythonEnv();
  const root = mkdtempSync(join(tmpdir(), 'mlserve-tests-'));
  process.env.TMPDIR = root;
  return () => rmSync(root, { recursive: true, force: true });
}
