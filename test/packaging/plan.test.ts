import { describe, expect, it } from 'vitest';
import { fitBytecode, planOffload, type PlannedFile } from '../../src/packaging/plan.js';

const MB = 1024 * 1024;
const file = (name: string, size: number, origin: PlannedFile['origin']): PlannedFile => ({ name, abs: `/src/${name}`, size, mode: 0o644, mtimeMs: 0, origin });
const LIMIT = 262_144_000;

describe('bytecode never makes a bundle too large', () => {
  // 240 MB of dependency sources and 30 MB of their bytecode: over the unzipped limit only with it.
  const deps = [file('torchish/__init__.py', 240 * MB, 'deps'), file('torchish/__pycache__/__init__.cpython-311.pyc', 30 * MB, 'deps')];
  const handler = [file('mlserve_handler.py', 4096, 'handler'), file('__pycache__/mlserve_handler.cpython-311.pyc', 2048, 'handler')];
  const model = [file('model/weights.bin', 100 * MB, 'model')];

  it('leaves the dependencies’ .pyc out, and says so, when they alone push it over', () => {
    const { files, warning } = fitBytecode([...handler, ...deps, ...model], LIMIT);
    expect(files.map((f) => f.name)).toEqual(['mlserve_handler.py', '__pycache__/mlserve_handler.cpython-311.pyc', 'torchish/__init__.py', 'model/weights.bin']);
    expect(warning).toMatch(/bytecode \(30\.0 MB in 1 file\) is left out.*over the 250\.0 MB limit; every cold start compiles/);
    // The offload plan then fits the bundle (the model file moves to object storage) instead of refusing it.
    expect(() => planOffload([...handler, ...deps, ...model], { unzippedLimit: LIMIT, tmpLimit: 10240 * MB, ephemeralStorageMb: 512, app: 'a/dev' }, () => 'x'.repeat(64))).toThrow(/dependencies alone/);
    expect(planOffload(files, { unzippedLimit: LIMIT, tmpLimit: 10240 * MB, ephemeralStorageMb: 512, app: 'a/dev' }, () => 'x'.repeat(64)).offload).toHaveLength(1);
  });

  it('keeps them when the bundle fits with them, or would not fit even without them', () => {
    const small = [...handler, file('pkg/__init__.py', 10 * MB, 'deps'), file('pkg/__pycache__/__init__.cpython-311.pyc', 3 * MB, 'deps'), ...model];
    expect(fitBytecode(small, LIMIT)).toEqual({ files: small });
    const huge = [...handler, file('big/__init__.py', 300 * MB, 'deps'), file('big/__pycache__/__init__.cpython-311.pyc', 30 * MB, 'deps')];
    expect(fitBytecode(huge, LIMIT)).toEqual({ files: huge });
    expect(fitBytecode(huge, undefined)).toEqual({ files: huge });
  });
});

describe('model.offload: always', () => {
  it('moves every model file but Python source and bytecode, whatever the limit (or none)', () => {
    const files = [
      file('mlserve_handler.py', 4096, 'handler'),
      file('model/model.joblib', 2 * MB, 'model'),
      file('model/vocab.json', 10, 'model'),
      file('model/predict.py', 300, 'model'),
      file('model/__pycache__/predict.cpython-311.pyc', 500, 'model'),
    ];
    const plan = planOffload(files, { unzippedLimit: undefined, tmpLimit: undefined, ephemeralStorageMb: 512, app: 'a/dev', always: true }, (f) => f.name.length.toString(16).padStart(64, '0'));
    expect(plan.offload.map((o) => o.path)).toEqual(['model.joblib', 'vocab.json']);
    expect(plan.keep.map((f) => f.name)).toEqual(['mlserve_handler.py', 'model/predict.py', 'model/__pycache__/predict.cpython-311.pyc']);
    // auto with no limit moves nothing.
    expect(planOffload(files, { unzippedLimit: undefined, tmpLimit: undefined, ephemeralStorageMb: 512, app: 'a/dev' }, () => '0'.repeat(64)).offload).toEqual([]);
  });
});
