import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir, testPython } from '../helpers/python.js';

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

describe('mlserve doctor', () => {
  it('finds python and pip, names credential sources, and never prints a secret', async () => {
    const home = tempDir();
    mkdirSync(join(home, '.aws'));
    writeFileSync(join(home, '.aws/credentials'), `[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = ${SECRET}\n`);
    const env = {
      HOME: home,
      MLSERVE_PYTHON: testPython(),
      AWS_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL: 'http://user:pass@127.0.0.1:5000',
      AZURE_STORAGE_CONNECTION_STRING: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${SECRET};BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;`,
    };
    const run = await runCli(['doctor', '--provider', 'aws', '--debug'], { cwd: home, env });
    // Nothing listens on the endpoint: the identity check (STS) fails, so aws is not ready.
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/aws identity\s+aws\s+FAIL\s+sts:GetCallerIdentity failed/);
    expect(run.stdout).toMatch(/python\s+all\s+ok\s+3\.11\.\d+/);
    expect(run.stdout).toMatch(/pip\s+all\s+ok\s+pip \d+/);
    expect(run.stdout).toContain('profile "default"');
    expect(run.stdout).toContain('AWS_ENDPOINT_URL=http://127.0.0.1:5000');
    expect(run.stdout).toContain('not ready for aws');
    for (const out of [run.stdout, run.stderr]) {
      expect(out).not.toContain(SECRET);
      expect(out).not.toContain('AKIAIOSFODNN7EXAMPLE');
      expect(out).not.toContain('pass@');
    }
  });

  it('exits 1 when the chosen provider lacks credentials, and says what to do, in JSON too', async () => {
    const home = tempDir();
    const run = await runCli(['doctor', '--provider', 'azure', '--json'], { cwd: home, env: { HOME: home, MLSERVE_PYTHON: testPython() } });
    expect(run.code).toBe(1);
    const doc = run.json<{ ready: boolean; checks: { name: string; status: string; detail: string }[] }>();
    expect(doc.ready).toBe(false);
    expect(doc.checks.find((c) => c.name === 'azure credentials')).toMatchObject({ status: 'fail', detail: expect.stringContaining('az login') });
    // An Azure CLI login (azureProfile.json, written with a BOM) counts as credentials.
    mkdirSync(join(home, '.azure'));
    writeFileSync(join(home, '.azure/azureProfile.json'), '\uFEFF{"subscriptions": []}');
    const loggedIn = await runCli(['doctor', '--provider', 'azure', '--json'], { cwd: home, env: { HOME: home, MLSERVE_PYTHON: testPython() } });
    expect(loggedIn.json<{ checks: { name: string; status: string; detail: string }[] }>().checks.find((c) => c.name === 'azure credentials')).toMatchObject({ status: 'ok', detail: 'Azure CLI login (az login)' });
    // The local provider needs only python and pip, which are here.
    const local = await runCli(['doctor'], { cwd: home, env: { HOME: home, MLSERVE_PYTHON: testPython() } });
    expect(local.code).toBe(0);
  });

  it('fails the python check when no python can be found', async () => {
    const home = tempDir();
    const run = await runCli(['doctor', '--json'], { cwd: home, env: { HOME: home, MLSERVE_PYTHON: '/nonexistent/python3' } });
    expect(run.code).toBe(1);
    expect(run.json<{ checks: { name: string; status: string }[] }>().checks.find((c) => c.name === 'python')).toMatchObject({ status: 'fail' });
  });
});
