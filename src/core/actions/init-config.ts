import { stringify } from 'yaml';
import type { Config, Framework, ProviderId } from '../config/schema.js';
import { platformOf } from '../../providers/registry.js';

/** What `mlserve init` settles, from flags, prompts and detection. */
export interface InitAnswers {
  name: string;
  /** Model directory relative to the config file's directory ('.' when the same). */
  modelPath: string;
  framework: Framework;
  file?: string;
  predict?: string;
  provider: ProviderId;
  /** What the provider's platform asks init for (AWS: region), by field name. */
  providerValues: Record<string, string>;
  python: Config['runtime']['python'];
  arch: Config['runtime']['arch'];
  memory: number;
  timeout: number;
  /** Path of the JSON Schema relative to the config, for the editor modeline. */
  schemaPath?: string;
}

const q = (v: string | number) => stringify(v).trimEnd();

/** Frameworks whose runtimes never fit a zip: `init` chooses a container image for them. */
const IMAGE_FRAMEWORKS: readonly Framework[] = ['torchscript', 'keras', 'huggingface'];

/** The config file text, commented so it documents itself. Pure: no I/O. */
export function renderInitConfig(a: InitAnswers): string {
  const lines = [
    ...(a.schemaPath ? [`# yaml-language-server: $schema=${a.schemaPath}`] : []),
    '# mlserve configuration. Every key: mlserve.config.example.yaml, or `mlserve schema`.',
    `name: ${q(a.name)}            # prefixes every cloud resource`,
    `provider: ${a.provider}          # default for deploy/invoke; --provider overrides`,
    '',
    'model:',
    `  path: ${q(a.modelPath)}                # model directory, relative to this file`,
    `  framework: ${a.framework}`,
    ...(a.file ? [`  file: ${q(a.file)}`] : []),
    ...(a.predict ? [`  predict: ${q(a.predict)}   # defines load(model_dir) and predict(model, inputs)`] : []),
    '',
    'runtime:',
    `  python: ${q(a.python)}        # the target's Python, never the host's`,
    `  arch: ${a.arch}        # x86_64 or arm64`,
    '  requirements: requirements.txt',
    // torch and TensorFlow alone are several times Lambda's 250 MB unzipped limit.
    ...(IMAGE_FRAMEWORKS.includes(a.framework)
      ? ['  package: image        # a container image (10 GB): torch/TensorFlow outgrow a zip', '# image:', `#   base: public.ecr.aws/lambda/python:${a.python}   # any Python ${a.python} base image`]
      : ['  package: auto         # zip, or an image when the zip cannot fit']),
    '',
    'resources:',
    `  memory: ${a.memory}          # MB, 128–10240`,
    `  timeout: ${a.timeout}           # seconds, 1–900`,
    '',
    'endpoint:',
    '  public: false         # callers must sign requests (IAM); true makes the URL public',
  ];
  const section = platformOf(a.provider).init.configSection(Object.fromEntries(Object.entries(a.providerValues).map(([k, v]) => [k, q(v)])));
  if (section.length) lines.push('', ...section);
  lines.push(
    '',
    '# Per-stage overrides, merged over the above for --stage <name>:',
    '# stages:',
    '#   prod:',
    '#     resources:',
    '#       memory: 2048',
    '',
  );
  return lines.join('\n');
}

/** Default `.mlserveignore`: gitignore syntax; mlserve also always excludes secrets and VCS data. */
export const DEFAULT_IGNORE = `# Files mlserve leaves out of the bundle (gitignore syntax).
# Always excluded whatever this says: .git, __pycache__, *.pyc, .env*, *.pem, *.key, id_rsa*,
# .aws/, .azure/, cloud credential files and notebook checkpoints.
.venv/
venv/
.mlserve/
.ipynb_checkpoints/
*.ipynb
tests/
data/
*.log
.DS_Store
`;

/** A starter requirements.txt for the detected framework (only written when none exists). */
export function starterRequirements(framework: Framework, sklearnVersion?: string): string | undefined {
  switch (framework) {
    case 'sklearn':
      return `${sklearnVersion ? `# pinned to the version the model was saved with\nscikit-learn==${sklearnVersion}` : 'scikit-learn'}\njoblib\n`;
    case 'onnx':
      return 'onnxruntime\nnumpy\n';
    case 'torchscript':
      return 'torch\nnumpy\n';
    case 'huggingface':
      return 'transformers\ntorch\nnumpy\n';
    case 'keras':
      return '# Keras 3 needs a backend too: tensorflow, jax or torch\nkeras\ntorch\n';
    case 'custom':
      return undefined;
  }
}
