import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { ResourceManagementClient } from '@azure/arm-resources';
import type { TokenCredential } from '@azure/core-auth';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPLOY_STEPS } from '../../src/providers/azure/index.js';
import { startAzureStandin, type AzureStandin } from '../helpers/azure-standin.js';
import { startAzurite, type Azurite } from '../helpers/azurite.js';
import { runCli } from '../helpers/cli.js';
import { packagingEnv, project } from '../helpers/project.js';

/**
 * The Azure provider end to end: Azurite (HTTPS, Entra tokens) holds the packages, the versions
 * index, the stage pointer and the artifacts; the ARM and SCM stand-in (test/helpers/azure-standin.ts,
 * following Microsoft's REST specifications and examples cited there) holds everything else and runs
 * the published app. Sign-in is @azure/identity's own AzureCliCredential, answered by a stand-in `az`.
 *
 * The stand-in's answers follow these published examples in Azure/azure-rest-api-specs:
 * - specification/storage/resource-manager/Microsoft.Storage/stable/2023-05-01/examples/StorageAccountCreate.json
 *   (200 or 202 with Location; properties.primaryEndpoints.blob)
 * - specification/web/resource-manager/Microsoft.Web/stable/2024-11-01/examples/CreateOrUpdateFunctionAppFlexConsumption.json
 *   (202 with Azure-AsyncOperation; defaultHostName, hostNameSslStates Standard/Repository, functionAppConfig)
 * - specification/authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/examples/RoleAssignments_CreateById.json
 *   (201 with properties.scope)
 * - specification/operationalinsights/data-plane/Microsoft.OperationalInsights/stable/2022-10-27/examples/la-post-resource-centric-example.json
 *   (POST {resourceId}/query, tables of columns and rows)
 * and Kudu's One Deploy contract as the Functions team described it in Azure/azure-dev issue 3658.
 */
let azurite: Azurite;
let arm: AzureStandin;
const fakeAz = join(import.meta.dirname, '../helpers/bin');
const SUBSCRIPTION = '00000000-0000-4000-8000-00000000a2e1';

beforeAll(async () => {
  azurite = await startAzurite({ oauth: true });
  arm = await startAzureStandin({ blobEndpoint: azurite.blobUrl, azuriteConnectionString: azurite.connectionString, throttleEvery: 9 });
  // @azure/identity reads process.env: the CLI credential only, and the stand-in `az` first on PATH.
  process.env.PATH = `${fakeAz}:${process.env.PATH}`;
  process.env.AZURE_TOKEN_CREDENTIALS = 'AzureCliCredential';
}, 60_000);
afterAll(async () => {
  await arm?.stop();
  await azurite?.stop();
});

const configFor = () => `azure:\n  resourceManagerEndpoint: ${arm.url}\n  logsEndpoint: ${arm.url}\n  location: westeurope\n`;
const envFor = () => packagingEnv({ PATH: process.env.PATH!, AZURE_TOKEN_CREDENTIALS: 'AzureCliCredential' });

interface DeployDoc {
  version: string;
  published: boolean;
  alias: { alias: string; version: string };
  endpoint: string;
  uploaded: string[];
}

const tagged = (app: string) => arm.resources().filter((r) => r.tags?.['mlserve:app'] === app);
const byType = (type: string) => arm.resources().filter((r) => r.type === type);

/** The user's own sign-in, for setting the scene through ARM: a token shaped as Entra ID issues it (the stand-in reads its claims). */
function userCredential(): TokenCredential {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return {
    getToken: async () => {
      const exp = Math.floor(Date.now() / 1000) + 3600;
      return { token: `${b64({ typ: 'JWT', alg: 'none' })}.${b64({ aud: 'https://management.azure.com', exp, upn: 'owner@contoso.example' })}.`, expiresOnTimestamp: exp * 1000 };
    },
  };
}

function blobs() {
  return BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('mlserve-packages');
}

async function blobJson<T>(name: string): Promise<T> {
  return JSON.parse((await blobs().getBlockBlobClient(name).downloadToBuffer()).toString('utf8')) as T;
}

describe('azure provider against Azurite and the ARM stand-in', () => {
  it('plans offline with no credentials: every resource with its ARM type, name, API version and body', async () => {
    const model = await project('custom', ['--provider', 'azure'], configFor());
    const env = { ...envFor(), PATH: '/usr/bin:/bin' }; // no az at all
    const run = await runCli(['deploy', '--dry-run', '--offline', '--json'], { cwd: model.dir, env });
    expect(run.code, run.stderr).toBe(0);
    const plan = run.json<{ subscriptionId: string; resources: { action: string; type: string; name: string; apiVersion: string; body: Record<string, unknown> }[] }>();
    expect(plan.subscriptionId).toBe('{subscription}');
    expect(plan.resources.map((r) => [r.action, r.type])).toEqual([
      ['create', 'Microsoft.Resources/resourceGroups'],
      ['create', 'Microsoft.Storage/storageAccounts'],
      ...Array(4).fill(['create', 'Microsoft.Storage/storageAccounts/blobServices/containers']),
      ['create', 'Microsoft.OperationalInsights/workspaces'],
      ['create', 'Microsoft.Insights/components'],
      ['create', 'Microsoft.Web/serverfarms'],
      ['create', 'Microsoft.Web/sites'],
      ...Array(2).fill(['create', 'Microsoft.Web/sites/basicPublishingCredentialsPolicies']),
      ...Array(5).fill(['create', 'Microsoft.Authorization/roleAssignments']),
      ...Array(2).fill(['create', 'Microsoft.Insights/scheduledQueryRules']),
      ['create', 'Microsoft.Insights/workbooks'],
    ]);
    const site = plan.resources.find((r) => r.type === 'Microsoft.Web/sites')!;
    expect(site).toMatchObject({ apiVersion: '2024-11-01', body: { location: 'westeurope', identity: { type: 'SystemAssigned' }, properties: { httpsOnly: true } } });
    // --offline without --dry-run is a usage error.
    expect((await runCli(['deploy', '--offline'], { cwd: model.dir, env })).code).toBe(2);
  });

  it('deploys, publishes only what changed, versions, promotes, rolls back and destroys everything tagged', async () => {
    const model = await project('sklearn-classifier', ['--provider', 'azure'], configFor());
    const env = envFor();
    const cli = (args: string[]) => runCli(args, { cwd: model.dir, env });

    // doctor names who signs in and where the subscription came from; no token is printed.
    const doctor = await cli(['doctor', '--provider', 'azure', '--json']);
    const checks = doctor.json<{ checks: { name: string; status: string; detail: string }[] }>().checks;
    expect(checks.find((c) => c.name === 'azure identity')).toMatchObject({ status: 'ok', detail: expect.stringContaining('data.scientist@contoso.example') });
    expect(checks.find((c) => c.name === 'azure subscription')).toMatchObject({ status: 'ok', detail: expect.stringContaining(`${SUBSCRIPTION} (from the Azure CLI’s default subscription`) });
    expect(doctor.stdout).not.toMatch(/eyJ[\w-]{10,}\./);

    const first = await cli(['deploy', '--json']);
    expect(first.code, first.stderr).toBe(0);
    const d1 = first.json<DeployDoc>();
    expect(d1).toMatchObject({ version: '1', published: true, alias: { alias: 'dev', version: '1' }, endpoint: expect.stringMatching(/^https:\/\/127\.0\.0\.1:\d+\/$/) });

    // Identity-based storage: HTTPS only, TLS 1.2, no public blobs, no shared keys; all tagged.
    const [account] = byType('Microsoft.Storage/storageAccounts');
    expect(account!.properties).toMatchObject({ supportsHttpsTrafficOnly: true, minimumTlsVersion: 'TLS1_2', allowBlobPublicAccess: false, allowSharedKeyAccess: false });
    expect(account!.tags).toMatchObject({ 'mlserve:app': 'iris', 'mlserve:stage': 'dev' });
    const [site] = byType('Microsoft.Web/sites');
    const settings = Object.fromEntries(((site!.properties.siteConfig as { appSettings: { name: string; value: string }[] }).appSettings).map((s) => [s.name, s.value]));
    expect(settings).toMatchObject({ AzureWebJobsStorage__credential: 'managedidentity', MLSERVE_STAGE: 'dev' });
    expect(Object.keys(settings).some((k) => /ConnectionString|AccountKey/i.test(`${k}=${settings[k]}`))).toBe(false);
    // Publishing takes Entra tokens only: basic auth is off for the SCM site and FTP.
    expect(byType('Microsoft.Web/sites/basicPublishingCredentialsPolicies').map((p) => [p.name, p.properties.allow])).toEqual([['scm', false], ['ftp', false]]);
    // Telemetry goes to the stage's own Application Insights (connection string filled in from it).
    const [insights] = byType('Microsoft.Insights/components');
    expect(settings.APPLICATIONINSIGHTS_CONNECTION_STRING).toBe(insights!.properties.ConnectionString);
    // Each role assignment is for the app's own identity, scoped to one container or to its Application Insights.
    const grants = byType('Microsoft.Authorization/roleAssignments');
    expect(grants).toHaveLength(5);
    for (const g of grants) expect(g.properties.principalId).toBe(site!.identity!.principalId);
    expect(grants.map((g) => (g.properties.scope as string).split('/').slice(-2).join('/')).sort()).toEqual(
      ['components/mlserve-iris-dev-insights', 'containers/azure-webjobs-hosts', 'containers/azure-webjobs-secrets', 'containers/mlserve-artifacts', 'containers/mlserve-packages'],
    );

    // Azurite holds the package under its SHA-256, the versions index and the stage pointer.
    const versions = await blobJson<{ version: string; bundleSha256: string; key: string }[]>('iris/dev/versions.json');
    expect(versions.map((v) => v.version)).toEqual(['1']);
    const pkg = await blobs().getBlockBlobClient(versions[0]!.key).downloadToBuffer();
    expect(createHash('sha256').update(pkg).digest('hex')).toBe(versions[0]!.bundleSha256);
    expect(await blobJson('iris/dev/stage.json')).toMatchObject({ version: '1' });
    expect(arm.publishes(site!.name)).toEqual([versions[0]!.bundleSha256]);

    // The published app answers, with the function key read through ARM; without it, 401.
    const invoked = await cli(['invoke', '--data', '{"instances": [[5.1, 3.5, 1.4, 0.2]]}', '--json']);
    expect(invoked.code, invoked.stderr).toBe(0);
    expect(invoked.json<{ status: number; body: { predictions: unknown[] } }>()).toMatchObject({ status: 200, body: { predictions: [0] } });
    expect((await fetch(d1.endpoint, { method: 'POST', body: '{"instances": [[5.1, 3.5, 1.4, 0.2]]}' })).status).toBe(401);
    // logs: the app's own log lines, read back from Application Insights through the Log Analytics query API.
    const logs = await cli(['logs', '--since', '10m', '--json']);
    expect(logs.code, logs.stderr).toBe(0);
    const lines = logs.json<{ lines: { stream: string; message: string }[] }>().lines;
    expect(lines.some((l) => l.stream === site!.name && /"event": "request".*"status": 200/.test(l.message))).toBe(true);

    // Alerts: two log search rules on the stage's Application Insights over the same request records, and a workbook, all tagged.
    const rules = byType('Microsoft.Insights/scheduledQueryRules');
    expect(rules.map((r) => r.name).sort()).toEqual(['mlserve-iris-dev-error-rate', 'mlserve-iris-dev-p99']);
    for (const r of rules) expect(r).toMatchObject({ location: 'westeurope', tags: { 'mlserve:app': 'iris', 'mlserve:stage': 'dev' }, properties: { enabled: true, scopes: [insights!.id] } });
    const threshold = (name: string) => (rules.find((r) => r.name.endsWith(name))!.properties.criteria as { allOf: { threshold: number }[] }).allOf[0]!.threshold;
    expect([threshold('error-rate'), threshold('p99')]).toEqual([5, 1000]);
    expect(byType('Microsoft.Insights/workbooks')).toEqual([expect.objectContaining({ kind: 'shared', tags: expect.objectContaining({ 'mlserve:app': 'iris' }), properties: expect.objectContaining({ sourceId: insights!.id, displayName: 'mlserve iris/dev' }) })]);

    // Signed in, the plan reads what exists: now every resource would be updated (PUT again), none created.
    const replanned = (await cli(['deploy', '--dry-run', '--json'])).json<{ resources: { action: string }[] }>();
    expect(new Set(replanned.resources.map((r) => r.action))).toEqual(new Set(['update']));

    // Nothing changed: nothing uploaded, no version, nothing published.
    expect((await cli(['deploy', '--json'])).json<DeployDoc>()).toMatchObject({ version: '1', published: false, uploaded: [] });
    expect(arm.publishes(site!.name)).toHaveLength(1);

    // A changed model: version 2, published, and the pointer follows.
    const { execFileSync } = await import('node:child_process');
    const { testPython } = await import('../helpers/python.js');
    execFileSync(testPython(), ['-c', `import joblib; from sklearn.linear_model import LogisticRegression; from sklearn.datasets import load_iris; X, y = load_iris(return_X_y=True); joblib.dump(LogisticRegression(max_iter=50, C=0.01).fit(X, y), ${JSON.stringify(join(model.dir, 'model.joblib'))})`]);
    expect((await cli(['deploy', '--json'])).json<DeployDoc>()).toMatchObject({ version: '2', published: true, alias: { version: '2' } });
    const v2 = (await blobJson<{ bundleSha256: string }[]>('iris/dev/versions.json'))[1]!.bundleSha256;
    expect(arm.publishes(site!.name).at(-1)).toBe(v2);

    // Rollback publishes version 1's package again and moves the pointer; promote 2 brings it back.
    const back = await cli(['rollback', '--json']);
    expect(back.code, back.stderr).toBe(0);
    expect((await blobJson<{ version: string }>('iris/dev/stage.json')).version).toBe('1');
    expect(arm.publishes(site!.name).at(-1)).toBe(versions[0]!.bundleSha256);
    expect((await cli(['promote', '2', '--json'])).code).toBe(0);
    expect((await blobJson<{ version: string }>('iris/dev/stage.json')).version).toBe('2');
    expect(arm.publishes(site!.name).at(-1)).toBe(v2);

    // status: the request records in Application Insights, each under the version whose model it ran.
    // One real request on version 2, then four records as the host would collect them (two failing),
    // a line that is not a record, and one from before --since.
    expect((await cli(['invoke', '--data', '{"instances": [[6.7, 3.0, 5.2, 2.3]]}'])).code).toBe(0);
    const models = await blobJson<{ version: string; modelSha256: string }[]>('iris/dev/versions.json');
    const record = (status: number, latency: number) => JSON.stringify({ event: 'request', status, latency_ms: latency, cold_start: false, model: { sha256: models[1]!.modelSha256 } });
    arm.addTraces(site!.name, [
      { message: record(500, 400) }, { message: record(500, 300) }, { message: record(200, 200) }, { message: record(200, 100) },
      { message: 'Executed function serve (Succeeded)' },
      { message: record(500, 9999), at: new Date(Date.now() - 3_600_000) },
    ]);
    const real = (await cli(['logs', '--since', '10m', '--json'])).json<{ lines: { message: string }[] }>().lines
      .filter((l) => l.message.startsWith('{"_aws"'))
      .map((l) => JSON.parse(l.message) as { latency_ms: number; status: number; cold_start: boolean; model: { sha256: string } });
    const expected = (sha: string, extra: number[], failed: number) => {
      const mine = real.filter((r) => r.model.sha256 === sha);
      const latencies = [...mine.map((r) => r.latency_ms), ...extra].sort((a, b) => a - b);
      return { invocations: latencies.length, errors: failed, coldStarts: mine.filter((r) => r.cold_start).length, p50: latencies[Math.ceil(latencies.length / 2) - 1], p99: latencies.at(-1) };
    };
    const status = await cli(['status', '--since', '10m', '--json']);
    expect(status.code, status.stderr).toBe(0);
    const report = status.json<{ rows: { version: string; weight: number; invocations: number; errors: number; coldStarts: number; p50: number; p99: number; costUsd: number }[]; notes: string[] }>();
    expect(report.rows).toEqual([
      expect.objectContaining({ version: '1', weight: 0, ...expected(models[0]!.modelSha256, [], 0) }),
      expect.objectContaining({ version: '2', weight: 1, ...expected(models[1]!.modelSha256, [400, 300, 200, 100], 2) }),
    ]);
    expect(report.rows[1]!.invocations).toBe(5);
    expect(report.rows[1]!.costUsd).toBeGreaterThan(0);
    expect(report.notes.join('\n')).toMatch(/Flex Consumption on demand, list prices/);
    const listed = (await cli(['versions', '--json'])).json<{ versions: { version: string }[]; alias: { version: string } }>();
    expect(listed).toMatchObject({ versions: [{ version: '1' }, { version: '2' }], alias: { version: '2' } });
    // prune: version 1 (not pointed at) goes, with its package blob; the stage's version stays.
    const pruned = await cli(['versions', 'prune', '--keep', '1', '--json']);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect((await blobJson<{ version: string }[]>('iris/dev/versions.json')).map((v) => v.version)).toEqual(['2']);
    expect(await blobs().getBlockBlobClient(versions[0]!.key).exists()).toBe(false);

    // No slots: a weighted promote is refused, saying why and what would give a canary.
    const canary = await cli(['promote', '1', '--weight', '10']);
    expect(canary.code).toBe(2);
    expect(canary.stderr).toMatch(/no deployment slots[\s\S]*--stage canary/);

    // Destroy: the dry run lists, --yes removes everything tagged, a second run finds nothing.
    const dry = (await cli(['destroy', '--dry-run', '--json'])).json<{ removed: string[] }>();
    expect(dry.removed[0]).toBe(`/subscriptions/${SUBSCRIPTION}/resourceGroups/mlserve-iris-dev`);
    expect(tagged('iris').length).toBeGreaterThan(0);
    const gone = await cli(['destroy', '--yes', '--json']);
    expect(gone.code, gone.stderr).toBe(0);
    expect(tagged('iris')).toEqual([]);
    expect(arm.resources()).toEqual([]);
    expect((await cli(['destroy', '--yes', '--json'])).json<{ removed: string[] }>().removed).toEqual([]);
    // Throttling was met and retried along the way (every 9th ARM request answers 429 with Retry-After).
    expect(arm.throttled()).toBeGreaterThan(0);
  }, 600_000);

  it('in a resource group and storage account the user owns: neither is changed, and destroy removes only what is this stage\'s', async () => {
    // The user's own group and account (shared keys on, their tags), created as they would: through ARM.
    const user = new ResourceManagementClient(userCredential(), SUBSCRIPTION, { endpoint: arm.url, credentialScopes: ['https://management.azure.com/.default'] });
    const rg = `/subscriptions/${SUBSCRIPTION}/resourceGroups/team-ml`;
    await user.resourceGroups.createOrUpdate('team-ml', { location: 'westeurope', tags: { team: 'ml' } });
    const accountId = `${rg}/providers/Microsoft.Storage/storageAccounts/teamshared`;
    await user.resources.beginCreateOrUpdateByIdAndWait(accountId, '2023-05-01', { location: 'westeurope', kind: 'StorageV2', sku: { name: 'Standard_LRS' }, tags: { team: 'ml' }, properties: { allowSharedKeyAccess: true } }, { updateIntervalInMs: 100 });
    const model = await project('custom', ['--provider', 'azure', '--name', 'shared'], `azure:\n  resourceManagerEndpoint: ${arm.url}\n  resourceGroup: team-ml\n  storageAccount: teamshared\n`);
    const cli = (args: string[]) => runCli(args, { cwd: model.dir, env: envFor() });
    const deployed = await cli(['deploy', '--json']);
    expect(deployed.code, deployed.stderr).toBe(0);
    const account = () => arm.resources().find((r) => r.id === accountId)!;
    expect(account()).toMatchObject({ tags: { team: 'ml' }, properties: { allowSharedKeyAccess: true } });
    expect(await blobs().getBlockBlobClient('shared/dev/versions.json').exists()).toBe(true);
    // Another team's blob in the same container stays.
    await blobs().getBlockBlobClient('other/dev/keep.txt').upload('x', 1);

    // The same grant made by hand under another name: ARM answers 409 RoleAssignmentExists, and a redeploy takes it as done.
    const grants = () => arm.resources().filter((r) => r.type === 'Microsoft.Authorization/roleAssignments');
    const mine = grants()[0]!;
    await user.resources.beginDeleteByIdAndWait(mine.id, '2022-04-01', { updateIntervalInMs: 100 });
    const byHand = `${mine.properties.scope as string}/providers/Microsoft.Authorization/roleAssignments/0b9c6f3e-1111-4222-8333-444455556666`;
    await user.resources.beginCreateOrUpdateByIdAndWait(byHand, '2022-04-01', { properties: { roleDefinitionId: mine.properties.roleDefinitionId, principalId: mine.properties.principalId } }, { updateIntervalInMs: 100 });
    // This redeploy also turns monitoring.alarms off: the stage's alert rules and workbook go, nothing else.
    const alerting = () => arm.resources().filter((r) => /scheduledQueryRules|workbooks/.test(r.type) && r.tags?.['mlserve:app'] === 'shared').length;
    expect(alerting()).toBe(3);
    const { appendFileSync } = await import('node:fs');
    appendFileSync(join(model.dir, 'mlserve.config.yaml'), 'monitoring:\n  alarms: false\n');
    const again = await cli(['deploy', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(grants()).toHaveLength(5);
    expect(alerting()).toBe(0);

    const gone = await cli(['destroy', '--yes', '--json']);
    expect(gone.code, gone.stderr).toBe(0);
    expect(gone.json<{ removed: string[] }>().removed).toEqual(expect.arrayContaining([expect.stringMatching(/\/Microsoft\.Web\/sites\/shared-dev-/), 'teamshared/mlserve-packages/shared/dev/versions.json']));
    // ARM IDs are case-insensitive (the typed resource-groups client writes "resourcegroups").
    const ids = (list: string[]) => list.map((id) => id.toLowerCase()).sort();
    // What stays: the user's group, account and the grant they made by hand; mlserve's containers (shared with other stages).
    expect(ids(arm.resources().map((r) => r.id))).toEqual(ids([rg, accountId, byHand, ...['mlserve-packages', 'mlserve-artifacts', 'azure-webjobs-hosts', 'azure-webjobs-secrets'].map((c) => `${accountId}/blobServices/default/containers/${c}`)]));
    expect(account()).toMatchObject({ tags: { team: 'ml' }, properties: { allowSharedKeyAccess: true } });
    expect(await blobs().getBlockBlobClient('shared/dev/versions.json').exists()).toBe(false);
    expect(await blobs().getBlockBlobClient('other/dev/keep.txt').exists()).toBe(true);
    await user.resourceGroups.beginDeleteAndWait('team-ml', { updateIntervalInMs: 100 });
  }, 600_000);

  it('a storage account name taken elsewhere (names are global) is a config error that says what to set', async () => {
    const user = new ResourceManagementClient(userCredential(), SUBSCRIPTION, { endpoint: arm.url, credentialScopes: ['https://management.azure.com/.default'] });
    await user.resourceGroups.createOrUpdate('someone-else', { location: 'westeurope' });
    const model = await project('custom', ['--provider', 'azure', '--name', 'taken'], configFor());
    // The name derives from the subscription, so the online plan (signed in) names it.
    const plan = (await runCli(['deploy', '--dry-run', '--json'], { cwd: model.dir, env: envFor() })).json<{ resources: { type: string; name: string; action: string }[] }>();
    expect(plan.resources.every((r) => r.action === 'create')).toBe(true);
    const name = plan.resources.find((r) => r.type === 'Microsoft.Storage/storageAccounts')!.name;
    await user.resources.beginCreateOrUpdateByIdAndWait(`/subscriptions/${SUBSCRIPTION}/resourceGroups/someone-else/providers/Microsoft.Storage/storageAccounts/${name}`, '2023-05-01', { location: 'westeurope', kind: 'StorageV2', sku: { name: 'Standard_LRS' } }, { updateIntervalInMs: 100 });
    const run = await runCli(['deploy'], { cwd: model.dir, env: envFor() });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`The storage account named ${name} is already taken[\\s\\S]*set azure\\.storageAccount to a free name`));
    expect((await runCli(['destroy', '--yes'], { cwd: model.dir, env: envFor() })).code).toBe(0);
    await user.resourceGroups.beginDeleteAndWait('someone-else', { updateIntervalInMs: 100 });

    // A group with mlserve's predictable name that is someone else's: refused, not re-tagged.
    await user.resourceGroups.createOrUpdate('mlserve-taken-dev', { location: 'westeurope', tags: { owner: 'finance' } });
    const refused = await runCli(['deploy'], { cwd: model.dir, env: envFor() });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/resource group mlserve-taken-dev exists and is not tagged mlserve:app=taken/);
    expect((await user.resourceGroups.get('mlserve-taken-dev')).tags).toEqual({ owner: 'finance' });
    await user.resourceGroups.beginDeleteAndWait('mlserve-taken-dev', { updateIntervalInMs: 100 });
  }, 600_000);

  it('model.offload: always puts the model in Blob Storage; the app fetches it with its managed identity and verifies it', async () => {
    const model = await project('sklearn-classifier', ['--provider', 'azure', '--name', 'offload'], configFor());
    const { readFileSync, writeFileSync } = await import('node:fs');
    const configFile = join(model.dir, 'mlserve.config.yaml');
    writeFileSync(configFile, readFileSync(configFile, 'utf8').replace(/^model:\n/m, 'model:\n  offload: always\n'));
    const cli = (args: string[]) => runCli(args, { cwd: model.dir, env: envFor() });
    const deployed = await cli(['deploy', '--json']);
    expect(deployed.code, deployed.stderr).toBe(0);
    const artifact = deployed.json<DeployDoc>().uploaded.find((k) => k.startsWith('mlserve-artifacts/'))!;
    expect(artifact).toMatch(/^mlserve-artifacts\/offload\/dev\/artifacts\/[0-9a-f]{64}$/);
    // Azurite holds it under its SHA-256; the package does not carry it.
    const key = artifact.slice('mlserve-artifacts/'.length);
    const bytes = await BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('mlserve-artifacts').getBlockBlobClient(key).downloadToBuffer();
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(key.split('/').at(-1));
    expect(bytes.equals(readFileSync(join(model.dir, 'model.joblib')))).toBe(true);
    const pkgKey = (await blobJson<{ key: string }[]>('offload/dev/versions.json'))[0]!.key;
    const pkg = await blobs().getBlockBlobClient(pkgKey).downloadToBuffer();
    expect(pkg.includes(Buffer.from('model/model.joblib'))).toBe(false);
    // The published app fetched it at cold start (managed identity token from IDENTITY_ENDPOINT) and predicts.
    const invoked = await cli(['invoke', '--data', JSON.stringify({ instances: model.rows }), '--json']);
    expect(invoked.code, invoked.stderr).toBe(0);
    expect(invoked.json<{ body: { predictions: unknown[] } }>().body.predictions).toEqual(model.predictions);
    expect((await cli(['destroy', '--yes'])).code).toBe(0);
  }, 600_000);

  it('One Deploy: a deployment the platform fails is an error quoting its status and its log', async () => {
    const user = new ResourceManagementClient(userCredential(), SUBSCRIPTION, { endpoint: arm.url, credentialScopes: ['https://management.azure.com/.default'] });
    await user.resourceGroups.createOrUpdate('publish-test', { location: 'westeurope' });
    const siteId = `/subscriptions/${SUBSCRIPTION}/resourceGroups/publish-test/providers/Microsoft.Web/sites/broken-app`;
    const site = await user.resources.beginCreateOrUpdateByIdAndWait(siteId, '2024-11-01', { location: 'westeurope', kind: 'functionapp,linux', properties: {} }, { updateIntervalInMs: 100 });
    const { oneDeploy } = await import('../../src/providers/azure/publish.js');
    const { siteHosts } = await import('../../src/providers/azure/apply.js');
    const { tempDir } = await import('../helpers/python.js');
    const { writeFileSync } = await import('node:fs');
    const { execFileSync } = await import('node:child_process');
    // A zip with no function_app.py or host.json: not a Functions app.
    const dir = tempDir('broken-zip-');
    writeFileSync(join(dir, 'readme.txt'), 'not an app');
    execFileSync('python3', ['-m', 'zipfile', '-c', join(dir, 'package.zip'), join(dir, 'readme.txt')]);
    const scmHost = siteHosts(site.properties as Record<string, unknown>).scmHost!;
    await expect(oneDeploy(join(dir, 'package.zip'), { scmHost, credential: userCredential(), scope: 'https://management.azure.com/.default', pollMs: 50 })).rejects.toMatchObject({
      code: 'PROVIDER_ERROR',
      message: expect.stringMatching(/ended Failed: Deployment failed: host\.json, function_app\.py not found/),
      hint: expect.stringContaining('Error: host.json, function_app.py not found.'),
    });
    await user.resourceGroups.beginDeleteAndWait('publish-test', { updateIntervalInMs: 100 });
  });

  it('a deploy killed (SIGKILL) right after each step converges, when run again, with no duplicates', async () => {
    const model = await project('custom', ['--provider', 'azure', '--name', 'kill'], configFor());
    const env = { ...process.env, ...envFor() };
    const snapshot = async () => ({
      resources: arm.resources().map((r) => `${r.type} ${r.name}`).sort(),
      versions: (await blobJson<{ version: string }[]>('kill/dev/versions.json')).map((v) => v.version),
      stage: (await blobJson<{ version: string }>('kill/dev/stage.json')).version,
    });
    const bin = join(import.meta.dirname, '../../bin/mlserve.js');
    const deploy = (extra: Record<string, string> = {}) => new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [bin, 'deploy', '--json'], { cwd: model.dir, env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('exit', (code, signal) => resolve({ code, signal, stderr }));
    });
    const reference = await deploy();
    expect(reference.code, reference.stderr).toBe(0);
    const want = await snapshot();
    expect(want).toMatchObject({ versions: ['1'], stage: '1' });
    const destroy = () => runCli(['destroy', '--yes'], { cwd: model.dir, env: envFor() });
    for (const step of DEPLOY_STEPS) {
      expect((await destroy()).code).toBe(0);
      const killed = await deploy({ MLSERVE_FAULT_AFTER_STEP: step });
      expect(killed.signal, `${step}: ${killed.stderr}`).toBe('SIGKILL');
      const rerun = await deploy();
      expect(rerun.code, `${step}: ${rerun.stderr}`).toBe(0);
      expect(await snapshot(), `after a kill following "${step}"`).toEqual(want);
    }
    expect((await destroy()).code).toBe(0);
  }, 900_000);
});
