#!/usr/bin/env node
// `npm run test:python`: the handler templates' pytest suite, in the pinned venv (created if needed).
// Extra arguments go to pytest: `npm run test:python -- -k azure`.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePythonEnv } from './python-env.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.env.PIP_RETRIES = '0';
const python = ensurePythonEnv();
const result = spawnSync(python, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', join(root, 'templates/python/tests'), ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
process.exitCode = result.status ?? 1;
