import { readdir } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { MlserveError } from '../../core/errors.js';
import { readTextIfExists, statIfExists } from '../../core/fs.js';
import { FRAMEWORKS, type Framework } from '../../core/config/ids.js';
import { inspectModelFile, missingCustomFunctions, MODEL_EXTENSIONS, type FileVerdict } from './inspect-file.js';

/** The outcome of model detection: what `init` writes into `model:`. */
export interface Detection {
  /** Model directory (absolute). */
  dir: string;
  framework: Framework;
  /** Model file relative to `dir` (absent for custom). */
  file?: string;
  /** custom: the module defining load/predict, relative to `dir`. */
  predict?: string;
  evidence: string;
  sklearnVersion?: string;
  /** Input width the model declares, when detection can read it (scikit-learn n_features_in_). */
  nFeatures?: number;
  warnings: string[];
}

const SKIP_DIRS = new Set(['node_modules', '__pycache__', '.git', '.venv', 'venv', 'site-packages', '.ipynb_checkpoints', '.mlserve']);
const CUSTOM_MODULE = 'predict.py';
const MAX_DEPTH = 3;

/**
 * Work out the framework of the model at `target` (a directory or one file), reading file headers
 * and pickle opcodes only. `framework` settles ambiguity when the user already knows.
 */
export async function detectModel(target: string, options: { framework?: Framework } = {}): Promise<Detection> {
  const info = await statIfExists(target);
  if (!info) {
    throw new MlserveError('MODEL_NOT_FOUND', `model path ${target} does not exist`, {
      hint: 'pass --model with the directory (or file) holding your model',
    });
  }
  const dir = info.isDirectory() ? target : dirname(target);
  const files = info.isDirectory() ? await listCandidates(dir) : [basename(target)];
  const wanted = options.framework;

  const hasPredict = info.isDirectory() && (await exists(join(dir, CUSTOM_MODULE)));
  if (wanted === 'custom' || (!wanted && hasPredict)) {
    if (!hasPredict) {
      throw new MlserveError('MODEL_NOT_FOUND', `framework custom needs ${CUSTOM_MODULE} in ${dir}`, {
        hint: `write ${CUSTOM_MODULE} with load(model_dir) and predict(model, inputs), or choose another --framework`,
      });
    }
    const missing = await missingCustomFunctions(join(dir, CUSTOM_MODULE));
    if (missing.length === 0) {
      return { dir, framework: 'custom', predict: CUSTOM_MODULE, evidence: `${CUSTOM_MODULE} defines load() and predict()`, warnings: [] };
    }
    if (wanted === 'custom' || files.length === 0) {
      throw new MlserveError('MODEL_UNSUPPORTED', `${CUSTOM_MODULE} does not define ${missing.map((f) => `${f}()`).join(' or ')}`, {
        hint: `define load(model_dir) returning the model and predict(model, inputs) returning predictions in ${join(dir, CUSTOM_MODULE)}`,
      });
    }
  }

  const hf = info.isDirectory() && (!wanted || wanted === 'huggingface') ? await huggingFaceFolder(dir) : undefined;
  if (hf) return hf;
  const verdicts = await Promise.all(files.map((f) => inspectModelFile(join(dir, f), f)));
  const usable = verdicts.filter((v) => v.framework && !v.problem && (!wanted || v.framework === wanted));
  if (usable.length === 1) return toDetection(dir, usable[0]!);

  // An explicit framework also accepts a file whose format could not be read (e.g. an xz joblib).
  if (wanted && usable.length === 0) {
    const byExtension = verdicts.filter((v) => frameworkOfExtension(v.file) === wanted);
    if (byExtension.length === 1) {
      const v = byExtension[0]!;
      return { dir, framework: wanted, file: v.file, evidence: `--framework ${wanted} (${v.problem ?? v.evidence})`, warnings: [] };
    }
  }
  const seen = verdicts.map((v) => `  ${v.file}: ${v.framework && !v.problem ? v.framework : `not usable (${v.problem})`}`).join('\n');
  if (usable.length > 1) {
    throw new MlserveError('MODEL_AMBIGUOUS', `found ${usable.length} models in ${dir}:\n${seen}`, {
      hint: `point --model at one file (e.g. --model ${join(dir, usable[0]!.file)})${wanted ? '' : ' or pass --framework'}`,
      details: { candidates: usable.map((v) => ({ file: v.file, framework: v.framework })) },
    });
  }
  const supported = `${MODEL_EXTENSIONS.join(', ')}, saved_model.pb, or ${CUSTOM_MODULE} with load() and predict()`;
  throw new MlserveError(
    'MODEL_NOT_FOUND',
    verdicts.length === 0
      ? `no model file in ${dir} (looked for ${supported})`
      : `no ${wanted ? `${wanted} ` : ''}model mlserve can serve in ${dir}:\n${seen}`,
    { hint: `pass --model <file> and --framework <${FRAMEWORKS.join('|')}> to settle it` },
  );
}

function toDetection(dir: string, v: FileVerdict): Detection {
  const d: Detection = { dir, framework: v.framework!, file: v.file, evidence: v.evidence, warnings: v.warnings };
  if (v.sklearnVersion) d.sklearnVersion = v.sklearnVersion;
  if (v.nFeatures !== undefined) d.nFeatures = v.nFeatures;
  return d;
}

function frameworkOfExtension(file: string): Framework | undefined {
  const ext = file.slice(file.lastIndexOf('.')).toLowerCase();
  if (['.joblib', '.pkl', '.pickle'].includes(ext)) return 'sklearn';
  if (ext === '.onnx') return 'onnx';
  if (ext === '.pt' || ext === '.pth') return 'torchscript';
  if (['.keras', '.h5', '.hdf5'].includes(ext)) return 'keras';
  return undefined;
}

async function listCandidates(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (depth < MAX_DEPTH && !SKIP_DIRS.has(entry.name) && !entry.name.startsWith('.')) await walk(path, depth + 1);
      } else if (entry.isFile()) {
        const lower = entry.name.toLowerCase();
        if (MODEL_EXTENSIONS.some((e) => lower.endsWith(e)) || lower === 'saved_model.pb') out.push(relative(root, path));
      }
    }
  };
  await walk(root, 0);
  return out;
}

async function exists(path: string): Promise<boolean> {
  return (await statIfExists(path))?.isFile() ?? false;
}

/**
 * A Hugging Face model folder (what `save_pretrained` writes): a config.json naming a model_type,
 * beside *.safetensors weights. The config is the model file; the loader reads the whole folder.
 */
async function huggingFaceFolder(dir: string): Promise<Detection | undefined> {
  const names = await readdir(dir);
  const weights = names.filter((n) => n.endsWith('.safetensors'));
  if (!names.includes('config.json') || weights.length === 0) return undefined;
  const text = await readTextIfExists(join(dir, 'config.json'));
  let config: { model_type?: unknown; architectures?: unknown };
  try {
    config = JSON.parse(text ?? '') as typeof config;
  } catch {
    return undefined; // not a transformers config: other detection goes on
  }
  if (typeof config.model_type !== 'string') return undefined;
  const architectures = Array.isArray(config.architectures) ? config.architectures.filter((a): a is string => typeof a === 'string') : [];
  return {
    dir, framework: 'huggingface', file: 'config.json', warnings: [],
    evidence: `Hugging Face folder: config.json (${config.model_type}${architectures.length ? `, ${architectures.join(', ')}` : ''}) + ${weights.join(', ')}`,
  };
}
