import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config/load.js';
import { parseConfig as parseConfigText } from '../../src/core/config/parse.js';
import { configJsonSchema } from '../../src/core/config/schema.js';
import { MlserveError, type Problem } from '../../src/core/errors.js';
import { tempDir } from '../helpers/python.js';

const root = join(import.meta.dirname, '../..');

function problemsOf(text: string, env: Record<string, string> = {}, stage = 'dev'): Problem[] {
  try {
    parseConfigText(text, { file: 'mlserve.config.yaml', stage, env });
  } catch (error) {
    expect(error).toBeInstanceOf(MlserveError);
    expect((error as MlserveError).code).toBe('CONFIG_INVALID');
    return (error as MlserveError).problems;
  }
  throw new Error('expected the config to be rejected');
}

const VALID = `name: iris
model:
  framework: sklearn
  file: model.joblib
`;

describe('config validation', () => {
  it('reports every problem at once, each with its line, column and dotted path', () => {
    const problems = problemsOf(`name: iris
model:
  framework: sklearn
  fille: model.joblib
resources:
  memory: 64
  timeout: "thirty"
runtme:
  python: "3.11"
provider: gcp
`);
    expect(problems.map((p) => [p.line, p.col, p.path])).toEqual([
      [4, 3, 'model.fille'],
      [6, 11, 'resources.memory'],
      [7, 12, 'resources.timeout'],
      [8, 1, 'runtme'],
      [10, 11, 'provider'],
    ]);
    expect(problems[0]!.message).toBe('unknown key "fille"; did you mean "file"?');
    expect(problems[1]!.message).toBe('must be at least 128 MB');
    expect(problems[2]!.message).toContain('got "thirty"');
    expect(problems[4]!.message).toContain('"local"|"aws"|"azure"');
  });

  it('rejects out-of-range values with the limit in the message', () => {
    const problems = problemsOf(`${VALID}resources:\n  memory: 20000\n  timeout: 901\n  ephemeralStorage: 100\n`);
    expect(problems.map((p) => p.message)).toEqual(['must be at most 10240 MB', 'must be at most 900 seconds', 'must be at least 512 MB']);
  });

  it('points a YAML indentation error at its line', () => {
    const problems = problemsOf('name: iris\nmodel:\n  framework: sklearn\n resources:\n   memory: 1024\n');
    expect(problems[0]).toMatchObject({ line: 4, col: 2 });
    expect(problems[0]!.message).toMatch(/YAML syntax.*indentation/);
  });

  it('names a missing required key at its parent', () => {
    const problems = problemsOf('model:\n  framework: onnx\n');
    expect(problems).toEqual([expect.objectContaining({ path: 'name', line: 1, col: 1, message: expect.stringContaining('is required') })]);
  });

  it('interpolates ${env:NAME}, typed when the whole value is a reference, with fallbacks', () => {
    const { config, fromEnv } = parseConfigText(`${VALID}resources:\n  memory: \${env:MEM}\naws:\n  profile: \${env:PROFILE, ci}\nenvironment:\n  TOKEN: "t-\${env:TOKEN}"\n`, {
      file: 'x.yaml',
      stage: 'dev',
      env: { MEM: '2048', TOKEN: 'abc' },
    });
    expect(config.resources.memory).toBe(2048);
    expect(config.aws.profile).toBe('ci');
    expect(config.environment.TOKEN).toBe('t-abc');
    expect(fromEnv).toContain('environment.TOKEN');
  });

  it('names a missing environment variable where it is used', () => {
    const problems = problemsOf(`${VALID}aws:\n  profile: \${env:NOPE_PROFILE}\n`);
    expect(problems).toEqual([expect.objectContaining({ line: 6, path: 'aws.profile', message: expect.stringContaining('NOPE_PROFILE is not set') })]);
  });

  it('merges a stage over the base, and blames the stage block for its own mistakes', () => {
    const text = `${VALID}resources:\n  memory: 1024\nstages:\n  prod:\n    resources:\n      memory: 3008\n  bad:\n    resources:\n      memory: 99999\n`;
    const prod = parseConfigText(text, { file: 'x.yaml', stage: 'prod', env: {} }).config;
    expect(prod.resources).toMatchObject({ memory: 3008, timeout: 30 });
    expect(parseConfigText(text, { file: 'x.yaml', stage: 'dev', env: {} }).config.resources.memory).toBe(1024);
    expect(problemsOf(text, {}, 'bad')).toEqual([expect.objectContaining({ line: 13, col: 15, path: 'stages.bad.resources.memory' })]);
  });

  it('finds the config from a subdirectory and resolves the model path against the file', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'mlserve.config.yaml'), VALID.replace('model:', 'model:\n  path: models'));
    mkdirSync(join(dir, 'src/deep'), { recursive: true });
    const loaded = await loadConfig({ cwd: join(dir, 'src/deep'), env: {} });
    expect(loaded.file).toBe(join(dir, 'mlserve.config.yaml'));
    expect(loaded.modelDir).toBe(join(dir, 'models'));
    await expect(loadConfig({ cwd: dir, env: {}, stage: 'Prod!' })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(loadConfig({ cwd: '/', env: {}, configPath: 'nope.yaml' })).rejects.toMatchObject({ code: 'CONFIG_NOT_FOUND' });
  });

  it('reuses the last validation of an unchanged config, and never a stale or an environment-fed one', async () => {
    const dir = tempDir();
    const file = join(dir, 'mlserve.config.yaml');
    const cache = join(dir, '.mlserve/state/config-dev.json');
    writeFileSync(file, `${VALID}resources:\n  memory: 512\nstages:\n  prod:\n    resources:\n      memory: 2048\n`);
    expect((await loadConfig({ cwd: dir, env: {} })).config.resources.memory).toBe(512);
    expect(JSON.parse(readFileSync(cache, 'utf8'))).toMatchObject({ config: { resources: { memory: 512 } } });
    expect((await loadConfig({ cwd: dir, env: {} })).config.resources.memory).toBe(512);
    // Another stage is its own entry; an edit of the same size is seen at once.
    expect((await loadConfig({ cwd: dir, env: {}, stage: 'prod' })).config.resources.memory).toBe(2048);
    writeFileSync(file, readFileSync(file, 'utf8').replace('memory: 512', 'memory: 768'));
    expect((await loadConfig({ cwd: dir, env: {} })).config.resources.memory).toBe(768);
    // An edit that breaks the config is reported, not hidden behind the cache.
    writeFileSync(file, readFileSync(file, 'utf8').replace('memory: 768', 'memory: 64'));
    await expect(loadConfig({ cwd: dir, env: {} })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    // A torn cache file is ignored and rewritten.
    writeFileSync(file, readFileSync(file, 'utf8').replace('memory: 64', 'memory: 640'));
    writeFileSync(cache, '{"key": "');
    expect((await loadConfig({ cwd: dir, env: {} })).config.resources.memory).toBe(640);
    expect(JSON.parse(readFileSync(cache, 'utf8'))).toMatchObject({ config: { resources: { memory: 640 } } });
    // A config that reads the environment (perhaps a secret) is never written down, and follows it.
    writeFileSync(file, `${VALID}environment:\n  TOKEN: \${env:TOKEN}\n`);
    expect((await loadConfig({ cwd: dir, env: { TOKEN: 's3cr3t-1' } })).config.environment).toEqual({ TOKEN: 's3cr3t-1' });
    expect((await loadConfig({ cwd: dir, env: { TOKEN: 's3cr3t-2' } })).config.environment).toEqual({ TOKEN: 's3cr3t-2' });
    expect(readFileSync(cache, 'utf8')).not.toContain('s3cr3t');
  });
});

describe('JSON Schema', () => {
  const validate = new Ajv2020({ strict: false, allErrors: true }).compile(configJsonSchema());

  it('accepts mlserve.config.example.yaml, which also loads', async () => {
    const example = readFileSync(join(root, 'mlserve.config.example.yaml'), 'utf8');
    expect(validate(parse(example)), JSON.stringify(validate.errors)).toBe(true);
    expect(example).toMatch(/^# yaml-language-server: \$schema=\.\/schema\/mlserve\.config\.schema\.json$/m);
    const { config } = parseConfigText(example, { file: 'example', stage: 'prod', env: { HF_TOKEN: 'x' } });
    expect(config.name).toBeTruthy();
  });

  it('documents every key of the example with a comment', () => {
    const lines = readFileSync(join(root, 'mlserve.config.example.yaml'), 'utf8').split('\n');
    const undocumented = lines.filter((l, i) => /^\s*[a-zA-Z$][\w$]*:/.test(l) && !l.includes('#') && !lines[i - 1]!.trim().startsWith('#'));
    expect(undocumented).toEqual([]);
  });

  it('rejects what the loader rejects', () => {
    expect(validate({ name: 'iris', model: { framework: 'sklearn' }, resources: { memory: 64 } })).toBe(false);
    expect(validate({ name: 'iris', model: { framework: 'sklearn' }, bogus: 1 })).toBe(false);
  });

  it('is the committed schema/mlserve.config.schema.json', () => {
    const committed = JSON.parse(readFileSync(join(root, 'schema/mlserve.config.schema.json'), 'utf8'));
    expect(committed).toEqual(configJsonSchema());
  });
});
