import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePythonEnv } from '../../scripts/python-env.mjs';
import { makeTestTls } from './tls.js';

/**
 * Create the pinned test virtualenv once per run and hand its python to every test file; give the
 * run a temporary directory of its own (TMPDIR, inherited by every test process and what they
 * spawn), removed when the run ends, so model copies and bundles never pile up in /tmp; and make
 * the run's HTTPS certificate for 127.0.0.1 (see tls.ts).
 */
export default function setup(): () => void {
  process.env.PIP_RETRIES = '0';
  process.env.MLSERVE_TEST_PYTHON = ensurePythonEnv();
  const root = mkdtempSync(join(tmpdir(), 'mlserve-tests-'));
  process.env.TMPDIR = root;
  // HTTPS for Azurite and the ARM stand-in, trusted by every test process (they start after this).
  const tls = join(root, 'tls');
  makeTestTls(tls);
  process.env.MLSERVE_TEST_TLS_DIR = tls;
  process.env.NODE_EXTRA_CA_CERTS = join(tls, 'cert.pem');
  return () => rmSync(root, { recursive: true, force: true });
}
