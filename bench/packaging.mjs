// `npm run bench` sections for packaging, each against a floor measured in the same run:
//   preflight   the pre-flight of the reference model's Lambda bundle (cold sync) vs a bare python
//               that imports, loads and predicts from the installed environment
//   import      importing the packaged bundle in a fresh isolated interpreter, with and without the
//               shipped bytecode, vs importing the same packages from the installed environment
//   rebuild     `package` after a model change (dependencies and deflate streams cached) vs
//               `zip -0 -r` + `sha256sum` of the same tree
//   unchanged   `package` with nothing changed, on a 400 MiB model directory, vs `mlserve --version`
//   startup     `mlserve --version` and `--help` vs `node -e 0`
//   cold        `package` with nothing cached vs plain `pip install --target` of the same
//               requirements for the same platform (pip's own download cache warm for both)
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const seconds = (fn, runs = 3) => median(Array.from({ length: runs }, () => {
  const t = performance.now();
  fn();
  return (performance.now() - t) / 1000;
}));
const ratio = (ours, floor) => `${(ours / floor).toFixed(2)}x the floor`;

function reference(python, mlserve) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-ref-'));
  execFileSync(python, ['-c', "import joblib; from sklearn.datasets import load_iris; from sklearn.ensemble import RandomForestClassifier as M; X, y = load_iris(return_X_y=True); joblib.dump(M(n_estimators=200, random_state=0, n_jobs=1).fit(X, y), 'model.joblib')"], { cwd: dir });
  writeFileSync(join(dir, 'requirements.txt'), 'scikit-learn==1.6.1\n');
  mlserve(['init', '--yes', '--name', 'bench', '--provider', 'aws'], dir);
  return dir;
}

const FLOOR = "import joblib, numpy; m = joblib.load('model.joblib'); m.predict(numpy.zeros((1, 4)))";

export default {
  async startup(rows, { root }) {
    // Interleaved, 21 rounds: this machine's speed drifts by tens of percent over seconds, so the
    // floor and each case are measured in the same round, and the medians compared.
    const cases = [['-e', '0'], [join(root, 'bin/mlserve.js'), '--version'], [join(root, 'bin/mlserve.js'), '--help']];
    const times = cases.map(() => []);
    for (let round = 0; round < 21; round++) {
      cases.forEach((args, i) => times[i].push(seconds(() => spawnSync(process.execPath, args, { stdio: 'ignore' }), 1)));
    }
    const [floor, ...ours] = times.map(median);
    ours.forEach((t, i) => rows.push([`mlserve ${cases[i + 1][1]}`, `${(t * 1000).toFixed(0)} ms`, `${ratio(t, floor)} (floor ${(floor * 1000).toFixed(0)} ms: node -e 0)`]));
  },

  async preflight(rows, { python, mlserve }) {
    const dir = reference(python, mlserve);
    const cache = mkdtempSync(join(tmpdir(), 'bench-cache-'));
    const env = { MLSERVE_CACHE_DIR: cache };
    mlserve(['package'], dir, env);
    const ms = [];
    for (let i = 0; i < 3; i++) {
      rmSync(join(dir, '.mlserve/build/bench-dev-aws.manifest.json.preflight'), { force: true });
      if (i === 0) rmSync(join(dir, '.mlserve/build/bench-dev-aws.manifest.json.preflight.d'), { recursive: true, force: true });
      ms.push(JSON.parse(mlserve(['package', '--check', '--json'], dir, env)).preflight.ms / 1000);
    }
    const floor = seconds(() => execFileSync(python, ['-c', FLOOR], { cwd: dir }));
    rows.push(['pre-flight, reference model (RandomForest), first run (bundle synced from the zip)', `${ms[0].toFixed(2)} s`, `${ratio(ms[0], floor)} (floor ${floor.toFixed(2)} s: python imports, loads, predicts)`]);
    rows.push(['pre-flight, same bundle again (only changed entries synced)', `${median(ms.slice(1)).toFixed(2)} s`, ratio(median(ms.slice(1)), floor)]);
    rmSync(dir, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  },

  async import(rows, { python, mlserve }) {
    const dir = reference(python, mlserve);
    const cache = mkdtempSync(join(tmpdir(), 'bench-cache-'));
    const out = JSON.parse(mlserve(['package', '--json'], dir, { MLSERVE_CACHE_DIR: cache }));
    const bundle = mkdtempSync(join(tmpdir(), 'bench-bundle-'));
    execFileSync('unzip', ['-q', out.bundle.path, '-d', bundle]);
    const code = `import sys; sys.path.insert(0, ${JSON.stringify(bundle)}); import sklearn.ensemble, joblib, numpy, mlserve_runtime.core`;
    const withPyc = seconds(() => execFileSync(python, ['-I', '-S', '-B', '-c', code]));
    const floor = seconds(() => execFileSync(python, ['-c', 'import sklearn.ensemble, joblib, numpy']));
    execFileSync('find', [bundle, '-name', '__pycache__', '-prune', '-exec', 'rm', '-rf', '{}', '+']);
    const without = seconds(() => execFileSync(python, ['-I', '-S', '-B', '-c', code]), 1);
    rows.push(['import the packaged bundle, fresh isolated interpreter, shipped bytecode', `${withPyc.toFixed(2)} s`, `${ratio(withPyc, floor)} (floor ${floor.toFixed(2)} s: the installed env with its bytecode)`]);
    rows.push(['the same without bytecode (what every cold start paid before)', `${without.toFixed(2)} s`, ratio(without, floor)]);
    rmSync(dir, { recursive: true, force: true });
    rmSync(bundle, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  },

  async rebuild(rows, { python, mlserve }) {
    const dir = reference(python, mlserve);
    const cache = mkdtempSync(join(tmpdir(), 'bench-cache-'));
    const env = { MLSERVE_CACHE_DIR: cache };
    const out = JSON.parse(mlserve(['package', '--json'], dir, env));
    let n = 0;
    const tree = mkdtempSync(join(tmpdir(), 'bench-tree-'));
    execFileSync('unzip', ['-q', out.bundle.path, '-d', tree]);
    const floor = seconds(() => {
      rmSync(join(tmpdir(), 'bench-floor.zip'), { force: true });
      execFileSync('zip', ['-0', '-r', '-q', join(tmpdir(), 'bench-floor.zip'), '.'], { cwd: tree });
      spawnSync('sh', ['-c', 'find . -type f -print0 | xargs -0 sha256sum > /dev/null'], { cwd: tree });
    });
    // The retrain is not timed: only `package` after it.
    const times = [];
    for (let i = 0; i < 3; i++) {
      execFileSync(python, ['-c', `import joblib; from sklearn.datasets import load_iris; from sklearn.ensemble import RandomForestClassifier as M; X, y = load_iris(return_X_y=True); joblib.dump(M(n_estimators=200, random_state=${++n}, n_jobs=1).fit(X, y), 'model.joblib')`], { cwd: dir });
      times.push(seconds(() => mlserve(['package'], dir, env), 1));
    }
    const pkg = median(times);
    rows.push([`package after a model change, deps and deflate streams cached (${out.bundle.files} files)`, `${pkg.toFixed(2)} s`, `${ratio(pkg, floor)} (floor ${floor.toFixed(2)} s: zip -0 -r + sha256sum of the tree)`]);
    for (const d of [dir, tree, cache]) rmSync(d, { recursive: true, force: true });
  },

  async cold(rows, { python, mlserve }) {
    const dir = reference(python, mlserve);
    const ours = [];
    const floor = [];
    let platforms = [];
    for (let i = 0; i < 3; i++) {
      const cache = mkdtempSync(join(tmpdir(), 'bench-cache-'));
      rmSync(join(dir, '.mlserve'), { recursive: true, force: true });
      const t = performance.now();
      platforms = JSON.parse(mlserve(['package', '--json'], dir, { MLSERVE_CACHE_DIR: cache })).target.platforms;
      ours.push((performance.now() - t) / 1000);
      rmSync(cache, { recursive: true, force: true });
      const into = mkdtempSync(join(tmpdir(), 'bench-pip-'));
      floor.push(seconds(() => execFileSync(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--target', into, ...platforms.flatMap((p) => ['--platform', p]), '--implementation', 'cp', '--python-version', '3.11', '--only-binary=:all:', '-r', join(dir, 'requirements.txt')], { env: { ...process.env, PIP_RETRIES: '0' } }), 1));
      rmSync(into, { recursive: true, force: true });
    }
    const [o, f] = [median(ours), median(floor)];
    rows.push(['package with nothing cached (pip, slim, bytecode, zip, manifest)', `${o.toFixed(2)} s`, `${ratio(o, f)} (floor ${f.toFixed(2)} s: pip install --target, same requirements and platform)`]);
    rmSync(dir, { recursive: true, force: true });
  },

  async unchanged(rows, { python, mlserve }) {
    const dir = reference(python, mlserve);
    const cache = mkdtempSync(join(tmpdir(), 'bench-cache-'));
    const env = { MLSERVE_CACHE_DIR: cache };
    // 400 MiB of model files beside the model (offloaded to S3 on aws: the zip stays small).
    for (let i = 0; i < 4; i++) {
      const fd = openSync(join(dir, `shard-${i}.bin`), 'w');
      ftruncateSync(fd, 100 * 1024 * 1024);
      closeSync(fd);
    }
    mlserve(['package'], dir, env);
    const ours = seconds(() => mlserve(['package'], dir, env), 5);
    const floor = seconds(() => mlserve(['--version'], dir, env), 5);
    rows.push(['package with nothing changed, 400 MiB model directory', `${ours.toFixed(2)} s`, `${ratio(ours, floor)} (floor ${floor.toFixed(2)} s: mlserve --version)`]);
    rmSync(dir, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  },
};
