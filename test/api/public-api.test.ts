// Imports mlserve by its package name, as a user's code would: `exports` and `types` in package.json
// must resolve (the type check of `npm test` covers this file against dist/index.d.ts).
import { deploy, invoke, packageModel, provider, RecordingReporter, type DeployOutcome, type InvokeResult } from 'mlserve';
import { describe, expect, it } from 'vitest';
import { packagingEnv, project } from '../helpers/project.js';

describe('the public API, imported by the package name', () => {
  it('packages, deploys and invokes the local provider, returning typed values and reporting progress', async () => {
    const model = await project('sklearn-classifier');
    const env = { ...process.env, ...packagingEnv() };
    const reporter = new RecordingReporter();
    const packaged = await packageModel({ cwd: model.dir, env, reporter });
    expect(packaged.bundle?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(reporter.messages('step')).toContain('Scanning the model directory');
    const deployed: DeployOutcome = await deploy({ cwd: model.dir, env, reporter });
    expect(deployed.deploy).toMatchObject({ version: '1', alias: { version: '1' } });
    const answer: InvokeResult = await invoke({ cwd: model.dir, env, data: { instances: model.rows } });
    expect(answer).toMatchObject({ status: 200, body: { predictions: model.predictions } });
    const versions = await (await provider({ cwd: model.dir, env })).versions();
    expect(versions.versions.map((v) => v.version)).toEqual(['1']);
  });
});
