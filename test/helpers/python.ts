import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The pinned test venv's python (created by the global setup). */
export function testPython(): string {
  const python = process.env.MLSERVE_TEST_PYTHON;
  if (!python) throw new Error('MLSERVE_TEST_PYTHON is not set: run the tests through vitest (global setup)');
  return python;
}

export type ModelKind = 'sklearn-classifier' | 'sklearn-regressor' | 'sklearn-pickle' | 'onnx' | 'torchscript' | 'torch-eager' | 'custom' | 'keras' | 'keras-tensorflow' | 'hf-classifier' | 'hf-embedder';

export interface BuiltModel {
  dir: string;
  file: string;
  rows: number[][];
  predictions: unknown[];
  probabilities?: number[][];
}

/** Train/build a real model of `kind` into `dir` (a new temp dir by default). */
export function makeModel(kind: ModelKind, dir: string = tempDir(`model-${kind}-`)): BuiltModel {
  const out = execFileSync(testPython(), [fileURLToPath(new URL('../python/make_models.py', import.meta.url)), kind, dir], { encoding: 'utf8' });
  const last = out.trim().split('\n').pop()!;
  return { dir, ...(JSON.parse(last) as Omit<BuiltModel, 'dir'>) };
}

export function tempDir(prefix = 'mlserve-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
