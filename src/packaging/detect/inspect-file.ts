import { open, readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import type { Framework } from '../../core/config/schema.js';
import { inspectOnnxFile } from './onnx.js';
import { inspectPickleFile } from './pickle.js';
import { zipEntryNames } from './zip-entries.js';

/** What one candidate file turned out to be. */
export interface FileVerdict {
  file: string;
  framework?: Framework;
  /** Why: what was read in the file. */
  evidence: string;
  /** Set when the file is recognisably a model but not one mlserve can serve as it is. */
  problem?: string;
  sklearnVersion?: string;
  /** Input width the model declares (scikit-learn n_features_in_), for a sample request. */
  nFeatures?: number;
  warnings: string[];
}

export const MODEL_EXTENSIONS = ['.joblib', '.pkl', '.pickle', '.onnx', '.pt', '.pth', '.keras', '.h5', '.hdf5'];
const SKLEARN_COMPATIBLE = ['sklearn', 'xgboost', 'lightgbm', 'catboost'];
const HDF5_MAGIC = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

type Verdict = (v: Omit<FileVerdict, 'file' | 'warnings'> & { warnings?: string[] }) => FileVerdict;

/** Identify one file by reading its bytes (never by loading it). */
export async function inspectModelFile(path: string, file: string): Promise<FileVerdict> {
  const ext = extname(path).toLowerCase();
  const verdict: Verdict = (v) => ({ file, warnings: [], ...v });
  try {
    if (ext === '.joblib' || ext === '.pkl' || ext === '.pickle') return await pickleVerdict(path, file, verdict);
    if (ext === '.onnx') {
      const info = await inspectOnnxFile(path);
      return verdict({ framework: 'onnx', evidence: `ONNX ModelProto, ir_version ${info.irVersion}${info.producer ? `, produced by ${info.producer}` : ''}` });
    }
    if (ext === '.pt' || ext === '.pth' || ext === '.keras') return await zipVerdict(path, ext, verdict);
    if (ext === '.h5' || ext === '.hdf5') {
      const head = Buffer.alloc(8);
      const handle = await open(path, 'r');
      await handle.read(head, 0, 8, 0).finally(() => handle.close());
      return head.equals(HDF5_MAGIC)
        ? verdict({ framework: 'keras', evidence: 'HDF5 file (Keras .h5)' })
        : verdict({ evidence: 'no HDF5 signature', problem: 'not an HDF5 file' });
    }
    if (basename(path) === 'saved_model.pb') return verdict({ framework: 'keras', evidence: 'TensorFlow SavedModel (saved_model.pb)' });
    return verdict({ evidence: 'unknown extension', problem: 'not a model format mlserve knows' });
  } catch (error) {
    // Detection reads candidates; one that cannot be read is reported as this file's problem.
    return verdict({ evidence: 'unreadable', problem: (error as Error).message });
  }
}

async function pickleVerdict(path: string, file: string, verdict: Verdict): Promise<FileVerdict> {
  const info = await inspectPickleFile(path);
  const libs = info.packages.filter((p) => SKLEARN_COMPATIBLE.includes(p));
  const warnings = info.packages.includes('__main__')
    ? [`${file} references classes defined in __main__ (${info.globals.filter((g) => g.startsWith('__main__.')).join(', ')}); move them into a module shipped with the model, or the endpoint cannot unpickle it`]
    : [];
  if (libs.length > 0) {
    const v = verdict({
      framework: 'sklearn',
      evidence: `pickle references ${libs.join(', ')} (${info.globals.find((g) => libs.some((l) => g.startsWith(`${l}.`))) ?? libs[0]})`,
      warnings,
    });
    if (info.sklearnVersion) v.sklearnVersion = info.sklearnVersion;
    if (info.nFeatures !== undefined) v.nFeatures = info.nFeatures;
    return v;
  }
  if (info.packages.includes('torch')) {
    return verdict({ evidence: 'pickle references torch', problem: 'a pickled PyTorch object, not TorchScript: export it with torch.jit.script(model).save("model.pt")' });
  }
  const refs = info.globals.slice(0, 5).join(', ') || 'no classes';
  return verdict({ evidence: `pickle references ${refs}`, problem: `a pickle of no scikit-learn-compatible estimator (it references ${refs})` });
}

async function zipVerdict(path: string, ext: string, verdict: Verdict): Promise<FileVerdict> {
  const names = await zipEntryNames(path);
  if (ext === '.keras') {
    return names.includes('config.json')
      ? verdict({ framework: 'keras', evidence: 'Keras v3 archive (config.json)' })
      : verdict({ evidence: 'a zip without config.json', problem: 'not a Keras v3 archive' });
  }
  const hasCode = names.some((n) => /^[^/]+\/code\//.test(n));
  const hasConstants = names.some((n) => /^[^/]+\/constants\.pkl$/.test(n));
  if (hasCode && hasConstants) return verdict({ framework: 'torchscript', evidence: 'TorchScript archive (code/ and constants.pkl)' });
  return verdict({
    evidence: 'a torch.save zip without code/ and constants.pkl',
    problem: 'saved with torch.save, not TorchScript: export it with torch.jit.script(model).save("model.pt") or torch.jit.trace',
  });
}

/** Does `predict.py` define top-level `load` and `predict`? Returns the missing names. */
export async function missingCustomFunctions(path: string): Promise<string[]> {
  const source = await readFile(path, 'utf8');
  return ['load', 'predict'].filter((fn) => !new RegExp(`^(async\\s+)?def\\s+${fn}\\s*\\(`, 'm').test(source));
}
