import { access, writeFile } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InitAnswers } from '../../core/actions/init-config.js';
import { ARCHITECTURES, FRAMEWORKS, PROVIDERS, PYTHON_VERSIONS, type Framework } from '../../core/config/ids.js';
import { MlserveError } from '../../core/errors.js';
import { readTextIfExists, writeFileAtomic } from '../../core/fs.js';
import { SAMPLE_FILE } from '../../core/sample.js';
import { DEFAULT_PROVIDER, platformOf } from '../../providers/registry.js';
import type { Detection } from '../../packaging/detect/detect.js';
import type { CommandContext, CommandBody } from '../context.js';

interface InitFlags {
  name?: string;
  model?: string;
  framework?: Framework;
  provider?: InitAnswers['provider'];
  region?: string;
  python?: InitAnswers['python'];
  arch?: InitAnswers['arch'];
  memory?: string;
  timeout?: string;
  force?: boolean;
}

const SCHEMA_FILE = fileURLToPath(new URL('../../../schema/mlserve.config.schema.json', import.meta.url));

export const initCommand: CommandBody = {
  description:
    'Detect the model framework (reading file headers, never unpickling), ask what it cannot detect, and write a commented mlserve.config.yaml, a .mlserveignore and, when missing, a starter requirements.txt. Asks nothing with --yes, --json, CI set, or without a terminal.',
  options: [
    { flags: '--name <name>', description: 'app name (lowercase letters, digits, dashes)' },
    { flags: '--model <path>', description: 'model directory or file (default: the project directory)' },
    { flags: '--framework <framework>', description: 'settle detection', choices: FRAMEWORKS },
    { flags: '--provider <provider>', description: 'default provider', choices: PROVIDERS },
    { flags: '--region <region>', description: 'AWS region (aws only; default AWS_REGION, else us-east-1)' },
    { flags: '--python <version>', description: 'target Python version', choices: PYTHON_VERSIONS },
    { flags: '--arch <arch>', description: 'target CPU architecture', choices: ARCHITECTURES },
    { flags: '--memory <mb>', description: 'memory in MB (128–10240)' },
    { flags: '--timeout <seconds>', description: 'timeout in seconds (1–900)' },
    { flags: '--force', description: 'overwrite an existing mlserve.config.yaml' },
  ],
  examples: [
    { command: 'mlserve init', description: 'answer a few questions' },
    { command: 'mlserve init --yes --name iris --model ./model.joblib --provider aws', description: 'no questions (CI)' },
    { command: 'mlserve init models/churn --framework onnx --yes', description: 'write the config in models/churn' },
  ],
  async run(ctx, args, raw) {
    const flags = raw as InitFlags;
    const root = resolve(ctx.io.cwd, args[0] ?? '.');
    const configFile = join(root, 'mlserve.config.yaml');
    if (!flags.force && (await exists(configFile))) {
      throw new MlserveError('CONFIG_EXISTS', `${relative(ctx.io.cwd, configFile) || configFile} already exists`, {
        hint: 'pass --force to overwrite it, or edit it by hand',
      });
    }
    const { detectModel } = await import('../../packaging/detect/detect.js');
    const modelTarget = resolve(ctx.io.cwd, flags.model ?? root);
    let detection = await ctx.reporter.step('Detecting the model framework', () =>
      detectModel(modelTarget, flags.framework ? { framework: flags.framework } : {}),
    );
    ctx.reporter.info(`Found ${detection.framework}: ${detection.file ?? detection.predict} (${detection.evidence})`);

    const prompting = ctx.interactive && !ctx.options.yes;
    const answers = prompting ? await ask(ctx, flags, detection, root) : fromFlags(flags, detection, root, ctx.io.env);
    if (answers.framework !== detection.framework) {
      detection = await detectModel(modelTarget, { framework: answers.framework });
    }
    for (const w of detection.warnings) ctx.reporter.warn(w);

    answers.modelPath = relative(root, detection.dir) || '.';
    if (detection.file) answers.file = detection.file;
    else delete answers.file;
    if (detection.predict) answers.predict = detection.predict;
    // Editors find the schema through the modeline; relative when mlserve is installed in the project.
    const schemaRel = relative(root, SCHEMA_FILE);
    answers.schemaPath = schemaRel.startsWith('..') ? SCHEMA_FILE : schemaRel;

    const wrote = await writeProjectFiles(ctx, answers, detection, root, configFile);
    const shown = wrote.map((f) => relative(ctx.io.cwd, f) || f);
    return {
      data: {
        config: configFile,
        name: answers.name,
        provider: answers.provider,
        model: { path: answers.modelPath, framework: answers.framework, file: answers.file ?? null, evidence: detection.evidence },
        sklearnVersion: detection.sklearnVersion ?? null,
        wrote,
      },
      text: [
        `Wrote ${shown.join(', ')}`,
        '',
        'Next:',
        '  mlserve package       build the bundle and check its size',
        `  mlserve deploy${answers.provider === DEFAULT_PROVIDER ? '' : ` --provider ${answers.provider}`}`,
      ].join('\n'),
    };
  },
};

/** The config, and (when missing) .mlserveignore, a starter requirements.txt and .mlserve/ in .gitignore. */
async function writeProjectFiles(ctx: CommandContext, answers: InitAnswers, detection: Detection, root: string, configFile: string): Promise<string[]> {
  // Loaded on use: rendering and validating a config pull in yaml and zod.
  const { renderInitConfig, DEFAULT_IGNORE, starterRequirements } = await import('../../core/actions/init-config.js');
  const text = renderInitConfig(answers);
  await checkAnswers(text, configFile, ctx.io.env);
  await writeFileAtomic(configFile, text);
  const wrote = [configFile];
  const ignoreFile = join(detection.dir, '.mlserveignore');
  if (!(await exists(ignoreFile))) {
    await writeFileAtomic(ignoreFile, DEFAULT_IGNORE);
    wrote.push(ignoreFile);
  }
  const requirementsFile = join(detection.dir, 'requirements.txt');
  const starter = starterRequirements(detection.framework, detection.sklearnVersion);
  if (starter && !(await exists(requirementsFile))) {
    await writeFile(requirementsFile, starter, { flag: 'wx' });
    wrote.push(requirementsFile);
  }
  if (await ignoreInGit(join(root, '.gitignore'))) wrote.push(join(root, '.gitignore'));
  // The request the pre-flight sends before any upload: one row shaped like the model's input.
  const sample = join(root, SAMPLE_FILE);
  if (detection.nFeatures !== undefined && !(await exists(sample))) {
    await writeFileAtomic(sample, `${JSON.stringify({ instances: [new Array<number>(detection.nFeatures).fill(0)] })}\n`);
    wrote.push(sample);
  }
  return wrote;
}

/** Validate the rendered config the way `mlserve` will load it, and blame the flag on failure. */
async function checkAnswers(text: string, file: string, env: Record<string, string | undefined>): Promise<void> {
  const { parseConfig } = await import('../../core/config/parse.js');
  try {
    parseConfig(text, { file, stage: 'dev', env });
  } catch (error) {
    if (!(error instanceof MlserveError) || error.problems.length === 0) throw error;
    const FLAG: Record<string, string> = { name: '--name', 'resources.memory': '--memory', 'resources.timeout': '--timeout', 'aws.region': '--region' };
    const messages = error.problems.map((p) => `${FLAG[p.path] ?? p.path}: ${p.message}`);
    throw new MlserveError('USAGE', `invalid value${messages.length > 1 ? 's' : ''}: ${messages.join('; ')}`, {
      hint: 'correct the flag(s) named above; `mlserve init --help` lists them',
    });
  }
}

function fromFlags(flags: InitFlags, detection: Detection, root: string, env: Record<string, string | undefined>): InitAnswers {
  const name = flags.name ?? defaultName(root);
  if (!name) {
    throw new MlserveError('NOT_INTERACTIVE', `cannot derive an app name from the directory "${basename(root)}"`, {
      hint: 'pass --name <name> (lowercase letters, digits and dashes)',
    });
  }
  const provider = flags.provider ?? DEFAULT_PROVIDER;
  const providerValues: Record<string, string> = {};
  for (const field of platformOf(provider).init.fields) providerValues[field.name] = (flags as Record<string, string | undefined>)[field.name] ?? field.default(env);
  const answers: InitAnswers = {
    name,
    modelPath: '.',
    framework: flags.framework ?? detection.framework,
    provider,
    providerValues,
    python: flags.python ?? '3.11',
    arch: flags.arch ?? 'x86_64',
    memory: toNumber(flags.memory, '--memory', 1024),
    timeout: toNumber(flags.timeout, '--timeout', 30),
  };
  return answers;
}

async function ask(ctx: CommandContext, flags: InitFlags, detection: Detection, root: string): Promise<InitAnswers> {
  const { input, number, select } = await import('@inquirer/prompts');
  const io = { input: ctx.io.stdin, output: ctx.io.stderr as NodeJS.WritableStream, ...(ctx.io.signal ? { signal: ctx.io.signal } : {}) };
  const defaults = fromFlags(flags, detection, root, ctx.io.env);
  const pick = <T extends string>(message: string, choices: readonly T[], value: T) =>
    select<T>({ message, choices: choices.map((c) => ({ value: c, name: c })), default: value }, io);
  const answers: InitAnswers = { ...defaults };
  if (!flags.name) answers.name = await input({ message: 'App name', default: defaults.name, validate: (v) => /^[a-z][a-z0-9-]{0,38}[a-z0-9]$/.test(v) || 'lowercase letters, digits and dashes' }, io);
  if (!flags.framework) answers.framework = await pick(`Framework (detected ${detection.framework})`, FRAMEWORKS, detection.framework);
  if (!flags.provider) answers.provider = await pick('Provider', PROVIDERS, defaults.provider);
  const fields = platformOf(answers.provider).init.fields;
  answers.providerValues = Object.fromEntries(fields.map((f) => [f.name, (flags as Record<string, string | undefined>)[f.name] ?? f.default(ctx.io.env)]));
  for (const f of fields.filter((field) => (flags as Record<string, string | undefined>)[field.name] === undefined)) {
    answers.providerValues[f.name] = await input({ message: f.message, default: answers.providerValues[f.name] ?? '' }, io);
  }
  if (!flags.python) answers.python = await pick('Python version of the target', PYTHON_VERSIONS, defaults.python);
  if (!flags.arch) answers.arch = await pick('CPU architecture', ARCHITECTURES, defaults.arch);
  if (!flags.memory) answers.memory = (await number({ message: 'Memory (MB)', default: defaults.memory, min: 128, max: 10240, required: true }, io)) ?? defaults.memory;
  if (!flags.timeout) answers.timeout = (await number({ message: 'Timeout (seconds)', default: defaults.timeout, min: 1, max: 900, required: true }, io)) ?? defaults.timeout;
  return answers;
}

function toNumber(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new MlserveError('USAGE', `${flag} ${value}: expected a whole number`, { hint: `e.g. ${flag} ${fallback}` });
  return n;
}

/** A valid app name from a directory name, or undefined. */
export function defaultName(dir: string): string | undefined {
  const name = basename(dir).toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^[^a-z]+/, '').replace(/-+$/, '').slice(0, 40).replace(/-+$/, '');
  return name.length >= 2 ? name : undefined;
}

/** Add `.mlserve/` (builds, local versions, state) to the project's .gitignore; true when the file changed. */
async function ignoreInGit(file: string): Promise<boolean> {
  const text = (await readTextIfExists(file)) ?? '';
  if (/^\/?\.mlserve\/?\s*$/m.test(text)) return false;
  const prefix = text && !text.endsWith('\n') ? '\n' : '';
  await writeFileAtomic(file, `${text}${prefix}# mlserve: builds, local versions and caches\n.mlserve/\n`);
  return true;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
