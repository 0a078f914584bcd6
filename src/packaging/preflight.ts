import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { findInterpreter } from './interpreter.js';
import { MlserveError } from '../core/errors.js';
import { readTextIfExists, writeFileAtomic } from '../core/fs.js';
import { syncZip } from './extract.js';
import type { PackagedBundle } from './packaged.js';
import { TEMPLATES_DIR } from './render.js';
import type { Target } from './target.js';

/** An interpreter on this machine that can run a target's bundle, or why none can. */
export type HostRunner = { ok: true; python: string; version: string } | { ok: false; reason: string };

/**
 * Can this machine run the target's bundle as it is? Needs an interpreter of the target's Python
 * minor ($MLSERVE_PYTHON when it is one, else python3.X on PATH), the target's CPU architecture, and
 * a glibc at least as new as the target image's (its wheels were chosen for that glibc).
 */
export async function hostRunnerFor(target: Target, env: Record<string, string | undefined>): Promise<HostRunner> {
  const { found, seen } = await findInterpreter(target.python, env);
  if (!found) return { ok: false, reason: `no Python ${target.python} (the target's) on this machine${seen ? ` (${seen})` : ''}: install python${target.python}, or set MLSERVE_PYTHON to one` };
  if (found.arch !== target.arch) return { ok: false, reason: `this machine is ${found.arch}; the bundle is built for ${target.arch}` };
  if (target.glibc && (found.libc !== 'glibc' || compareVersions(found.libcVersion, target.glibc.join('.')) < 0)) {
    return { ok: false, reason: `this machine has ${found.libc || 'no glibc'} ${found.libcVersion}; the bundle's wheels need glibc ${target.glibc.join('.')}` };
  }
  return { ok: true, python: found.path, version: found.version };
}

function compareVersions(a: string, b: string): number {
  const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

export interface PreflightResult {
  ran: boolean;
  /** Why it did not run (no interpreter of the target's Python here, …). */
  skipped?: string;
  python?: string;
  ms?: number;
  request?: string | null;
  status?: number;
  /** True when this bundle and sample already passed before (nothing was run again). */
  cached?: boolean;
}

/**
 * Run the exact bundle that will be uploaded in a clean interpreter (isolated mode, no site-packages:
 * only the bundle and the standard library on the path) and send it one request. A bundle that
 * cannot import its model or answer is refused before anything is uploaded, with the traceback's
 * last lines. A pass is remembered beside the manifest, so an unchanged bundle is not run again.
 */
export async function preflight(bundle: PackagedBundle, o: { sampleFile?: string; env: Record<string, string | undefined>; signal?: AbortSignal }): Promise<PreflightResult> {
  const runner = await hostRunnerFor(bundle.target, o.env);
  if (!runner.ok) return { ran: false, skipped: runner.reason };
  const sample = o.sampleFile ? await readFile(o.sampleFile).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? undefined : Promise.reject(error))) : undefined;
  const stamp = createHash('sha256').update(bundle.sha256).update(sample ?? '-').digest('hex');
  const marker = `${bundle.manifest}.preflight`;
  if ((await readTextIfExists(marker)) === stamp) return { ran: true, cached: true, python: runner.python };
  const started = Date.now();
  // The bundle is synced into a directory kept beside the manifest (only changed entries are
  // rewritten); everything else the run needs lives in a temp dir removed after.
  const bundleDir = `${bundle.manifest}.preflight.d`;
  const dir = await mkdtemp(join(tmpdir(), 'mlserve-preflight-'));
  try {
    if (bundle.image) await (await import('./image/unpack.js')).unpackImage(bundle.image, bundleDir);
    else await syncZip(bundle.path, bundleDir);
    const request = sample ? join(dir, 'request.json') : '-';
    if (sample) await writeFileAtomic(request, sample);
    const artifacts = Object.fromEntries(bundle.offload.map((a) => [a.path, a.abs]));
    // -I: isolated (no PYTHON* variables, no user site), -S: no site-packages, -B: write no bytecode,
    // so the directory stays exactly the bundle.
    const child = await execa(runner.python, ['-I', '-S', '-B', join(TEMPLATES_DIR, 'mlserve_preflight.py'), bundleDir, request, JSON.stringify(artifacts)], {
      cwd: bundleDir, env: { PATH: o.env.PATH ?? '', HOME: join(dir, 'home'), MLSERVE_TMP: join(dir, 'tmp'), LANG: 'C.UTF-8' }, extendEnv: false, reject: false, all: true,
      ...(o.signal ? { cancelSignal: o.signal } : {}),
    });
    const answer = lastJson(child.stdout);
    if (child.exitCode !== 0 || !answer?.ok) throw refusal(bundle, answer, String(child.all ?? ''));
    await writeFileAtomic(marker, stamp);
    return { ran: true, python: runner.python, ms: Date.now() - started, request: (answer.request as string | null) ?? null, ...(typeof answer.status === 'number' ? { status: answer.status } : {}) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function lastJson(stdout: string): Record<string, unknown> | undefined {
  const line = stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined; // the interpreter died before answering: the output says why
  }
}

function refusal(bundle: PackagedBundle, answer: Record<string, unknown> | undefined, output: string): MlserveError {
  const trace = typeof answer?.traceback === 'string' ? answer.traceback : output;
  const lines = trace.trim().split('\n');
  const last = lines.slice(-4).join('\n');
  const failed = /^(?:ModuleNotFoundError|ImportError): (.*)$/m.exec(trace)?.[1];
  if (answer?.stage === 'request') {
    const modelError = /"traceback": "((?:[^"\\]|\\.)*)"/.exec(output)?.[1];
    const detail = modelError ? (JSON.parse(`"${modelError}"`) as string).trim().split('\n').slice(-3).join('\n') : JSON.stringify(answer.body).slice(0, 500);
    return new MlserveError('PREFLIGHT_FAILED', `the bundle loaded but answered the ${String(answer.request)} request with HTTP ${String(answer.status)}:\n${detail}`, {
      hint: 'fix the model or the sample (mlserve.sample.json beside the config); nothing was uploaded',
      details: { stage: 'request', status: answer.status, body: answer.body },
    });
  }
  return new MlserveError('PREFLIGHT_FAILED', `the bundle cannot load its model in a clean ${bundle.target.description} interpreter${failed ? ` (import failed: ${failed})` : ''}:\n${last}`, {
    hint: 'nothing was uploaded. A missing module or shared library means a dependency is not in the requirements or has no wheel for the target; `mlserve package --check --debug` reruns this',
    details: { stage: 'load', traceback: lines.slice(-15) },
  });
}
