#!/usr/bin/env node
// `npm run demo`: the whole job on the local provider, from a fresh checkout.
// Trains the example model, deploys it to the local provider (packaging the same bundle a cloud
// would run), invokes it, and prints the predictions next to model.predict on the same rows.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePythonEnv } from './python-env.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const example = join(root, 'examples', process.argv[2] ?? 'iris-sklearn');
process.env.PIP_RETRIES ??= '0';
const say = (m) => process.stderr.write(`\n» ${m}\n`);

say('Preparing Python (a pinned venv from the local wheel index, made once)');
const python = ensurePythonEnv();
say('Building mlserve');
execFileSync(join(root, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
say(`Training the example model (${example})`);
execFileSync(python, ['train.py'], { cwd: example, stdio: ['ignore', 'inherit', 'inherit'] });

const env = { ...process.env, MLSERVE_PYTHON: python };
const mlserve = (args) => {
  process.stderr.write(`\n$ mlserve ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [join(root, 'bin/mlserve.js'), ...args], { cwd: example, env, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  process.stderr.write(r.stdout);
  return r.stdout.trim();
};
mlserve(['deploy', '--provider', 'local']);
mlserve(['versions']);
const answer = mlserve(['invoke', '--provider', 'local', '--data-file', 'request.json']);
const rows = JSON.parse(readFileSync(join(example, 'request.json'), 'utf8')).instances;
const file = existsModel('model.joblib') ? 'model.joblib' : 'model.onnx';
const expected = file === 'model.joblib'
  ? execFileSync(python, ['-c', `import joblib, json; print(json.dumps(joblib.load('model.joblib').predict(${JSON.stringify(rows)}).tolist()))`], { cwd: example, encoding: 'utf8' }).trim()
  : execFileSync(python, ['-c', `import onnxruntime as ort, numpy as np, json; s = ort.InferenceSession('model.onnx'); print(json.dumps(s.run(None, {'input': np.asarray(${JSON.stringify(rows)}, dtype=np.float32)})[0].tolist()))`], { cwd: example, encoding: 'utf8' }).trim();
say('Predictions');
process.stdout.write(`rows:          ${JSON.stringify(rows)}\nmlserve:       ${answer}\nmodel.predict: ${expected}\n`);
if (JSON.stringify(JSON.parse(answer).predictions) !== expected.replace(/\s/g, '')) {
  process.stderr.write('the endpoint disagrees with model.predict\n');
  process.exit(1);
}
process.stderr.write(`\nNext: \`cd ${example} && node ../../bin/mlserve.js serve\` serves it over HTTP\n`);

function existsModel(name) {
  try {
    readFileSync(join(example, name));
    return true;
  } catch {
    return false;
  }
}
