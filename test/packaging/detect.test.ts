import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { detectModel } from '../../src/packaging/detect/detect.js';
import { inspectPickleFile } from '../../src/packaging/detect/pickle.js';
import { runCli } from '../helpers/cli.js';
import { makeModel, tempDir, testPython, type BuiltModel } from '../helpers/python.js';
import { execFileSync } from 'node:child_process';

describe('model detection (reads bytes, never unpickles)', () => {
  let sklearn: BuiltModel;
  beforeAll(() => {
    sklearn = makeModel('sklearn-classifier');
  });

  it('detects a Hugging Face folder (config.json with a model_type + safetensors), and init packages it as an image', async () => {
    const hf = makeModel('hf-classifier');
    const found = await detectModel(hf.dir);
    expect(found).toMatchObject({ framework: 'huggingface', file: 'config.json', evidence: expect.stringContaining('bert, BertForSequenceClassification') });
    expect(found.evidence).toContain('model.safetensors');
    const init = await runCli(['init', '--yes', '--name', 'sentiment', '--provider', 'aws'], { cwd: hf.dir });
    expect(init.code, init.stderr).toBe(0);
    const config = readFileSync(join(hf.dir, 'mlserve.config.yaml'), 'utf8');
    expect(config).toMatch(/framework: huggingface/);
    expect(config).toMatch(/^ {2}package: image/m);
    expect(readFileSync(join(hf.dir, 'requirements.txt'), 'utf8')).toBe('transformers\ntorch\nnumpy\n');
    // A config.json without safetensors beside it is not a Hugging Face folder.
    const lone = tempDir('hf-lone-');
    writeFileSync(join(lone, 'config.json'), JSON.stringify({ model_type: 'bert' }));
    await expect(detectModel(lone)).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
  });

  it('detects a scikit-learn joblib and reads the version it was saved with', async () => {
    const d = await detectModel(sklearn.dir);
    expect(d).toMatchObject({ framework: 'sklearn', file: 'model.joblib', sklearnVersion: '1.6.1' });
    expect(d.evidence).toContain('sklearn.linear_model._logistic.LogisticRegression');
  });

  it('reads protocol-2 pickles and compressed joblib files the same way', async () => {
    const pickled = makeModel('sklearn-pickle');
    expect(await detectModel(pickled.dir)).toMatchObject({ framework: 'sklearn', file: 'model.pkl', sklearnVersion: '1.6.1' });
    const dir = tempDir();
    execFileSync(testPython(), ['-c', `import joblib; joblib.dump(joblib.load(${JSON.stringify(join(sklearn.dir, 'model.joblib'))}), ${JSON.stringify(join(dir, 'm.joblib'))}, compress=3)`]);
    const info = await inspectPickleFile(join(dir, 'm.joblib'));
    expect(info).toMatchObject({ compression: 'zlib', sklearnVersion: '1.6.1' });
    expect(info.packages).toContain('sklearn');
  });

  it('never runs pickle code: a malicious pickle is only read', async () => {
    const dir = tempDir();
    const marker = join(dir, 'pwned');
    // A pickle whose loading would create a file through os.system.
    execFileSync(testPython(), ['-c', `import pickle, os\nclass X:\n    def __reduce__(self): return (os.system, (${JSON.stringify(`touch ${marker}`)},))\npickle.dump(X(), open(${JSON.stringify(join(dir, 'model.pkl'))}, 'wb'))`]);
    await expect(detectModel(dir)).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND', message: expect.stringContaining('posix') });
    expect(() => execFileSync('test', ['-e', marker])).toThrow();
  });

  it('detects ONNX by its protobuf header and rejects a fake .onnx', async () => {
    const onnx = makeModel('onnx');
    expect(await detectModel(onnx.dir)).toMatchObject({ framework: 'onnx', file: 'model.onnx' });
    expect((await detectModel(onnx.dir)).evidence).toContain('mlserve-tests');
    const fake = tempDir();
    writeFileSync(join(fake, 'model.onnx'), 'this is not protobuf at all');
    await expect(detectModel(fake)).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND', hint: expect.stringContaining('--framework') });
  });

  it('tells TorchScript from a torch.save pickle', async () => {
    const script = makeModel('torchscript');
    expect(await detectModel(script.dir)).toMatchObject({ framework: 'torchscript', file: 'model.pt' });
    const eager = makeModel('torch-eager');
    await expect(detectModel(eager.dir)).rejects.toMatchObject({ message: expect.stringContaining('torch.jit.script') });
  });

  it('detects a custom predict.py, and names the function it lacks', async () => {
    const custom = makeModel('custom');
    expect(await detectModel(custom.dir)).toMatchObject({ framework: 'custom', predict: 'predict.py' });
    const broken = tempDir();
    writeFileSync(join(broken, 'predict.py'), 'def load(model_dir):\n    return None\n');
    await expect(detectModel(broken)).rejects.toMatchObject({ code: 'MODEL_UNSUPPORTED', message: 'predict.py does not define predict()' });
  });

  it('detects a real Keras v3 archive', async () => {
    const keras = makeModel('keras');
    expect(await detectModel(keras.dir)).toMatchObject({ framework: 'keras', file: 'model.keras', evidence: 'Keras v3 archive (config.json)' });
  });

  it('recognises Keras files by signature', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'model.h5'), Buffer.concat([Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64)]));
    expect(await detectModel(dir)).toMatchObject({ framework: 'keras', file: 'model.h5' });
  });

  it('lists every candidate when ambiguous, and --framework or a file settles it', async () => {
    const dir = tempDir();
    cpSync(sklearn.dir, dir, { recursive: true });
    const onnx = makeModel('onnx');
    cpSync(join(onnx.dir, 'model.onnx'), join(dir, 'model.onnx'));
    const error = await detectModel(dir).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'MODEL_AMBIGUOUS', hint: expect.stringContaining(`--model ${join(dir, 'model.joblib')}`) });
    expect((error as Error).message).toMatch(/model\.joblib: sklearn[\s\S]*model\.onnx: onnx/);
    expect(await detectModel(dir, { framework: 'onnx' })).toMatchObject({ framework: 'onnx', file: 'model.onnx' });
    expect(await detectModel(join(dir, 'model.joblib'))).toMatchObject({ framework: 'sklearn', file: 'model.joblib' });
  });

  it('says what it looked for when there is no model', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'notes.txt'), 'hello');
    await expect(detectModel(dir)).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND', message: expect.stringContaining('.joblib') });
    await expect(detectModel(join(dir, 'missing'))).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
  });
});
