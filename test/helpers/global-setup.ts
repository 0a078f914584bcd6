import { ensurePythonEnv } from '../../scripts/python-env.mjs';

/** Create the pinned test virtualenv once per run and hand its python to every test file. */
export default function setup(): void {
  process.env.PIP_RETRIES = '0';
  process.env.MLSERVE_TEST_PYTHON = ensurePythonEnv();
}
