// `npm run bench` sections for the local provider: throughput and latency of `mlserve serve`
// against a floor (bench/floor_server.py: threaded http.server calling model.predict directly),
// and cold start against `python -c` that imports, loads and predicts once. Same script, same run,
// and the same packages: the floors import them from the deployed bundle.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';

const SECONDS = Number(process.env.MLSERVE_BENCH_SECONDS ?? 10);
const ROUNDS = 10; // 1 s turns by default: this machine drifts within seconds

function train(python, dir, kind) {
  const code = kind === 'light'
    ? 'from sklearn.linear_model import LogisticRegression as M; kw = dict(max_iter=500)'
    : 'from sklearn.ensemble import RandomForestClassifier as M; kw = dict(n_estimators=200, random_state=0, n_jobs=1)';
  execFileSync(python, ['-c', `import joblib; from sklearn.datasets import load_iris; ${code}; X, y = load_iris(return_X_y=True); joblib.dump(M(**kw).fit(X, y), 'model.joblib')`], { cwd: dir });
  writeFileSync(join(dir, 'requirements.txt'), 'scikit-learn==1.6.1\n');
}

/** Requests answered in `seconds` after a warm-up, at `concurrency`: their latencies and errors. */
async function drive(url, body, concurrency, seconds, warmMs) {
  const latencies = [];
  let errors = 0;
  const warmEnd = Date.now() + warmMs;
  const end = warmEnd + seconds * 1000;
  const client = async () => {
    while (Date.now() < end) {
      const t = performance.now();
      const r = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      await r.arrayBuffer();
      if (r.status !== 200) errors++;
      if (Date.now() > warmEnd) latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  return { latencies, errors };
}

/**
 * The floor and mlserve driven in turns (ROUNDS each, SECONDS in all per side), so a drift of this
 * machine's speed during a case weighs on both sides alike; each round reverses the order of the
 * one before (floor, mlserve, mlserve, floor...), so neither always runs first after the pause
 * between rounds. Memory is each side's largest reading.
 */
async function compare(sides, body, concurrency) {
  const totals = sides.map(() => ({ latencies: [], errors: 0, rss: 0, pss: 0 }));
  for (let round = 0; round < ROUNDS; round++) {
    const order = [...sides.entries()];
    if (round % 2 === 1) order.reverse();
    for (const [i, side] of order) {
      const run = await drive(side.url, body, concurrency, SECONDS / ROUNDS, round === 0 ? 500 : 150);
      const mem = memoryOf(side.pid);
      const total = totals[i];
      total.latencies.push(...run.latencies);
      total.errors += run.errors;
      total.rss = Math.max(total.rss, mem.rss);
      total.pss = Math.max(total.pss, mem.pss);
    }
  }
  return totals.map(({ latencies, errors, rss, pss }) => {
    latencies.sort((a, b) => a - b);
    const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))];
    return { rps: latencies.length / SECONDS, p50: pct(0.5), p99: pct(0.99), errors, rss, pss };
  });
}

function startProcess(cmd, args, opts, readyLine) {
  const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const ready = new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => readyLine(line) && resolve(readyLine(line)));
    child.once('exit', (code) => reject(new Error(`${cmd} exited ${code}: ${stderr}`)));
  });
  return { child, ready };
}

/**
 * The directory of the version `mlserve deploy` just made locally. The floors import their packages
 * from it, so both sides run the same versions (newer numpy and scipy alone differ by tenths of a
 * second at import, and in memory), whatever the bench's own environment has.
 */
function deployedBundle(dir, name) {
  const versions = join(dir, `.mlserve/local/${name}/dev/versions`);
  return join(versions, readdirSync(versions).sort((a, b) => Number(b) - Number(a))[0]);
}

async function floorServer(python, model, bundle) {
  const portFile = join(mkdtempSync(join(tmpdir(), 'floor-')), 'port');
  // Its own process group: the forked per-core children stop with it.
  const child = spawn(python, [join(import.meta.dirname, 'floor_server.py'), model, portFile], { stdio: 'ignore', detached: true, env: { ...process.env, PYTHONPATH: bundle } });
  while (!existsSync(portFile) || !readFileSync(portFile, 'utf8')) await new Promise((r) => setTimeout(r, 50));
  return { url: `http://127.0.0.1:${readFileSync(portFile, 'utf8')}/`, pid: child.pid, stop: () => process.kill(-child.pid, 'SIGKILL') };
}

/** A process and its descendants. */
function tree(pid) {
  const children = readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  return [pid, ...children.flatMap(tree)];
}

/** Memory of a process tree in MB: RSS summed (counts shared pages once per process) and PSS (shares them out). */
function memoryOf(pid) {
  let rss = 0;
  let pss = 0;
  for (const p of tree(pid)) {
    const rollup = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
    rss += Number(/^Rss:\s+(\d+)/m.exec(rollup)[1]);
    pss += Number(/^Pss:\s+(\d+)/m.exec(rollup)[1]);
  }
  return { rss: rss / 1024, pss: pss / 1024 };
}

/** One POST over loopback, so the client's HTTP stack is loaded before anything is timed. */
async function warmClient() {
  const server = createServer((req, res) => req.resume().on('end', () => res.end('ok')));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  await (await fetch(`http://127.0.0.1:${server.address().port}/`, { method: 'POST', body: '{}' })).text();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

export default {
  async serve(rows, { python, root, mlserve }) {
    for (const kind of ['light', 'heavy']) {
      const dir = mkdtempSync(join(tmpdir(), `bench-serve-${kind}-`));
      train(python, dir, kind);
      mlserve(['init', '--yes', '--name', `bench-${kind}`], dir);
      mlserve(['deploy'], dir);
      const serve = startProcess(process.execPath, [join(root, 'bin/mlserve.js'), 'serve', '--port', '0'], { cwd: dir, env: { ...process.env, MLSERVE_PYTHON: python } }, (l) => (l.startsWith('http') ? l : undefined));
      const url = `${await serve.ready}/v1/models/bench-${kind}:predict`;
      const floor = await floorServer(python, join(dir, 'model.joblib'), deployedBundle(dir, `bench-${kind}`));
      for (const n of [1, 100]) {
        const body = JSON.stringify({ instances: Array.from({ length: n }, (_, i) => [5 + (i % 3) / 10, 3.1, 1.4 + (i % 5), 0.2 + (i % 2)]) });
        for (const c of [1, 16]) {
          const [base, ours] = await compare([floor, { url, pid: serve.child.pid }], body, c);
          const label = `serve ${kind === 'light' ? 'logistic regression' : 'random forest 200'}, ${n} row${n > 1 ? 's' : ''}, c=${c}`;
          const mem = (m) => `RSS ${m.rss.toFixed(0)} MB PSS ${m.pss.toFixed(0)} MB`;
          rows.push([`${label} — floor (http.server + predict, a process per core)`, `${base.rps.toFixed(0)} req/s p50 ${base.p50.toFixed(2)} ms p99 ${base.p99.toFixed(2)} ms ${mem(base)}${base.errors ? ` ${base.errors} errors` : ''}`, 'baseline']);
          rows.push([`${label} — mlserve serve`, `${ours.rps.toFixed(0)} req/s p50 ${ours.p50.toFixed(2)} ms p99 ${ours.p99.toFixed(2)} ms ${mem(ours)}${ours.errors ? ` ${ours.errors} errors` : ''}`, `${(ours.rps / base.rps).toFixed(2)}x throughput, ${(ours.p50 / base.p50).toFixed(2)}x p50, ${(ours.rss / base.rss).toFixed(2)}x RSS`]);
        }
      }
      floor.stop();
      serve.child.kill('SIGINT');
      await new Promise((r) => serve.child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  },

  async coldstart(rows, { python, root, mlserve }) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-cold-'));
    train(python, dir, 'light');
    mlserve(['init', '--yes', '--name', 'bench-cold'], dir);
    mlserve(['deploy'], dir);
    const body = JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] });
    const bundle = deployedBundle(dir, 'bench-cold');
    const runs = 3;
    // The client's own first HTTP request loads its HTTP stack (20-25 ms here): not serve's cost, so
    // paid before timing, against a throwaway server (a data: URL never reaches that stack).
    await warmClient();
    let ours = 0;
    let base = 0;
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      execFileSync(python, ['-c', `import joblib, numpy as np; m = joblib.load('model.joblib'); print(m.predict(np.asarray(${JSON.stringify(JSON.parse(body).instances)})).tolist())`], { cwd: dir, env: { ...process.env, PYTHONPATH: bundle } });
      base += performance.now() - t;
      const t2 = performance.now();
      const serve = startProcess(process.execPath, [join(root, 'bin/mlserve.js'), 'serve', '--port', '0'], { cwd: dir, env: { ...process.env, MLSERVE_PYTHON: python } }, (l) => (l.startsWith('http') ? l : undefined));
      const url = await serve.ready;
      const r = await fetch(`${url}/`, { method: 'POST', body });
      await r.text();
      ours += performance.now() - t2;
      serve.child.kill('SIGINT');
      await new Promise((res) => serve.child.once('exit', res));
    }
    rows.push(['cold start: python -c on the bundle\'s packages (import, load, predict once)', `${(base / runs).toFixed(0)} ms`, 'baseline']);
    rows.push(['cold start: mlserve serve, process start to first answer', `${(ours / runs).toFixed(0)} ms`, `${(ours / base).toFixed(2)}x`]);
    rmSync(dir, { recursive: true, force: true });
  },
};
