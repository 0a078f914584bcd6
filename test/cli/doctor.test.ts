import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/core/config/load.js';
import { RecordingReporter } from '../../src/core/reporter.js';
import { AwsProvider } from '../../src/providers/aws/index.js';
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
    const doc = run.json<{ ok: boolean; ready: boolean; checks: { name: string; status: string; detail: string }[] }>();
    expect(doc.ok).toBe(false); // exit 1 and "ok": true would contradict each other
    expect(doc.ready).toBe(false);
    expect(doc.checks.find((c) => c.name === 'azure credentials')).toMatchObject({ status: 'fail', detail: expect.stringContaining('az login') });
    // Nothing points at Azure (no credential, no azure config): doctor does not try to sign in.
    expect(doc.checks.find((c) => c.name === 'azure identity')).toBeUndefined();
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

/**
 * A stand-in for the two credential endpoints the SDK's chain asks last, as AWS documents them: the
 * container credentials endpoint (ECS/EKS: GET → {AccessKeyId, SecretAccessKey, Token, Expiration})
 * and EC2's instance metadata service v2 (PUT /latest/api/token, then the role name and its
 * credentials under /latest/meta-data/iam/security-credentials/). On 127.0.0.1, stopped after.
 */
async function credentialEndpoints(): Promise<{ url: string; stop: () => Promise<void> }> {
  const creds = JSON.stringify({ Code: 'Success', AccessKeyId: 'ASIAEXAMPLEROLE', SecretAccessKey: SECRET, Token: 'token-not-shown', Expiration: new Date(Date.now() + 3600_000).toISOString() });
  const server = createServer((req, res) => {
    if (req.method === 'PUT' && req.url === '/latest/api/token') return void res.end('imds-token');
    if (req.url === '/latest/meta-data/iam/security-credentials/') return void res.end('mlserve-instance-role');
    if (req.url === '/latest/meta-data/iam/security-credentials/mlserve-instance-role' || req.url === '/container/creds') return void res.end(creds);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, stop: () => new Promise((r) => server.close(() => r())) };
}

describe('doctor and deploy resolve AWS settings the same way', () => {
  it('region: flag, then environment, then aws.region, then the profile’s own region', async () => {
    const home = tempDir();
    mkdirSync(join(home, '.aws'));
    writeFileSync(join(home, '.aws/config'), '[profile ml]\nregion = ap-southeast-2\n');
    writeFileSync(join(home, 'mlserve.config.yaml'), 'name: iris\nmodel:\n  framework: custom\naws:\n  profile: ml\n');
    const base = { HOME: home, MLSERVE_PYTHON: testPython(), AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: SECRET };
    const region = async (env: Record<string, string>, flags: Record<string, string> = {}) => {
      const doctor = (await runCli(['doctor', '--json'], { cwd: home, env })).json<{ checks: { name: string; detail: string }[] }>();
      const loaded = await loadConfig({ cwd: home, env });
      const deploy = await new AwsProvider({ loaded, env, reporter: new RecordingReporter(), flags }).clients();
      return { doctor: doctor.checks.find((c) => c.name === 'aws region')!.detail, deploy: deploy.region };
    };
    expect(await region(base)).toEqual({ doctor: `ap-southeast-2 (from the region of profile "ml" in ${join(home, '.aws/config')})`, deploy: 'ap-southeast-2' });
    const configured = join(home, 'mlserve.config.yaml');
    writeFileSync(configured, 'name: iris\nmodel:\n  framework: custom\naws:\n  profile: ml\n  region: eu-central-1\n');
    expect(await region(base)).toEqual({ doctor: 'eu-central-1 (from aws.region in the config)', deploy: 'eu-central-1' });
    expect(await region({ ...base, AWS_REGION: 'us-west-2' })).toEqual({ doctor: 'us-west-2 (from AWS_REGION)', deploy: 'us-west-2' });
    expect((await region({ ...base, AWS_REGION: 'us-west-2' }, { region: 'sa-east-1' })).deploy).toBe('sa-east-1');
  });

  it('doctor finds container and instance-role credentials through the same chain deploy uses', async () => {
    const endpoints = await credentialEndpoints();
    const home = tempDir();
    const env = { HOME: home, MLSERVE_PYTHON: testPython(), AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: 'http://127.0.0.1:9' };
    const saved = { ...process.env };
    try {
      // The SDK's chain reads these from the process environment.
      process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = `${endpoints.url}/container/creds`;
      const container = await runCli(['doctor', '--json'], { cwd: home, env: { ...env, AWS_CONTAINER_CREDENTIALS_FULL_URI: process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI } });
      expect(container.json<{ checks: { name: string; status: string; detail: string }[] }>().checks.find((c) => c.name === 'aws credentials')).toMatchObject({ status: 'ok', detail: expect.stringContaining('the container credentials endpoint') });
      delete process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI;
      delete process.env.AWS_EC2_METADATA_DISABLED;
      process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = endpoints.url;
      const instance = await runCli(['doctor', '--json'], { cwd: home, env });
      expect(instance.json<{ checks: { name: string; status: string; detail: string }[] }>().checks.find((c) => c.name === 'aws credentials')).toMatchObject({ status: 'ok', detail: expect.stringContaining('instance metadata service') });
      for (const run of [container, instance]) expect(run.stdout).not.toContain(SECRET);
    } finally {
      process.env = saved;
      await endpoints.stop();
    }
  });
});
