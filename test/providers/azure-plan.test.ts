import { describe, expect, it } from 'vitest';
import { configSchema, type ConfigInput } from '../../src/core/config/schema.js';
import { azureNames, azurePlan, flexMemory, HOST_CONTAINERS } from '../../src/providers/azure/plan.js';

const SUB = '34adfa4f-cedf-4dc0-ba29-b6d1a69ab345';
const plan = (extra: Partial<ConfigInput> = {}) => azurePlan(configSchema.parse({ name: 'iris', model: { framework: 'sklearn', file: 'model.joblib' }, ...extra }), 'dev', { subscriptionId: SUB, location: 'eastus' });
const body = (p: ReturnType<typeof plan>, type: string) => p.resources.filter((r) => r.type === type).map((r) => r.body as { properties: Record<string, unknown>; tags?: Record<string, string> });

describe('the Azure deployment plan (what deploy sends to Resource Manager)', () => {
  it('lists every resource in the order it is applied, each with its ARM type, name, ID and API version', () => {
    const p = plan();
    expect(p.resources.map((r) => [r.step, r.type])).toEqual([
      ['resource-group', 'Microsoft.Resources/resourceGroups'],
      ['storage', 'Microsoft.Storage/storageAccounts'],
      ...['mlserve-packages', 'mlserve-artifacts', ...HOST_CONTAINERS].map(() => ['storage', 'Microsoft.Storage/storageAccounts/blobServices/containers']),
      ['monitoring', 'Microsoft.OperationalInsights/workspaces'],
      ['monitoring', 'Microsoft.Insights/components'],
      ['plan', 'Microsoft.Web/serverfarms'],
      ['function-app', 'Microsoft.Web/sites'],
      ['function-app', 'Microsoft.Web/sites/basicPublishingCredentialsPolicies'],
      ['function-app', 'Microsoft.Web/sites/basicPublishingCredentialsPolicies'],
      ...[1, 2, 3, 4, 5].map(() => ['access', 'Microsoft.Authorization/roleAssignments']),
      ['alerts', 'Microsoft.Insights/scheduledQueryRules'],
      ['alerts', 'Microsoft.Insights/scheduledQueryRules'],
      ['alerts', 'Microsoft.Insights/workbooks'],
    ]);
    for (const r of p.resources) {
      expect(r.id.startsWith(`/subscriptions/${SUB}/resourceGroups/mlserve-iris-dev`), r.id).toBe(true);
      expect(r.apiVersion).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
    // Names derive from app, stage and subscription only: a re-run plans the same resources.
    expect(plan()).toEqual(p);
    const account = azureNames(configSchema.parse({ name: 'iris', model: { framework: 'custom' } }), 'dev', SUB).storageAccount;
    expect(account).toMatch(/^[a-z0-9]{3,24}$/);
    // Every resource that takes tags carries the app's and stage's.
    for (const r of p.resources.filter((x) => 'location' in x.body)) expect(r.body.tags).toMatchObject({ 'mlserve:app': 'iris', 'mlserve:stage': 'dev' });
  });

  it('is secure by default: HTTPS and TLS 1.2 only, no public blobs, no shared keys, no keys in app settings, local auth off', () => {
    const p = plan({ environment: { LOG_LEVEL: 'info' } });
    expect(body(p, 'Microsoft.Storage/storageAccounts')[0]!.properties).toMatchObject({ supportsHttpsTrafficOnly: true, minimumTlsVersion: 'TLS1_2', allowBlobPublicAccess: false, allowSharedKeyAccess: false });
    for (const c of body(p, 'Microsoft.Storage/storageAccounts/blobServices/containers')) expect(c.properties.publicAccess).toBe('None');
    expect(body(p, 'Microsoft.Insights/components')[0]!.properties.DisableLocalAuth).toBe(true);
    const site = p.resources.find((r) => r.type === 'Microsoft.Web/sites')!.body as { identity: unknown; properties: { httpsOnly: boolean; siteConfig: { appSettings: { name: string; value: string }[] } } };
    expect(site.identity).toEqual({ type: 'SystemAssigned' });
    expect(site.properties.httpsOnly).toBe(true);
    const settings = site.properties.siteConfig.appSettings;
    expect(settings).toEqual(expect.arrayContaining([{ name: 'LOG_LEVEL', value: 'info' }, { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }]));
    expect(JSON.stringify(settings)).not.toMatch(/AccountKey|SharedAccessSignature|InstrumentationKey/);
    expect(p.notes).toEqual(['resources.memory 1024 MB: Flex Consumption instances have 2048 or 4096 MB; using 2048 MB', 'no monitoring.actionGroup: alerts show in Azure Monitor but notify no one']);
  });

  it('watches the stage as on AWS: log search alerts on its Application Insights (error rate, p99 in 3 of 5 minutes) and a workbook; none when monitoring.alarms is false', () => {
    const group = `/subscriptions/${SUB}/resourceGroups/ops/providers/microsoft.insights/actionGroups/on-call`;
    const p = plan({ monitoring: { errorRate: 2.5, p99: 300, actionGroup: group } });
    const insights = p.resources.find((r) => r.type === 'Microsoft.Insights/components')!.id;
    const rules = p.resources.filter((r) => r.type === 'Microsoft.Insights/scheduledQueryRules');
    expect(rules.map((r) => r.name)).toEqual(['mlserve-iris-dev-error-rate', 'mlserve-iris-dev-p99']);
    for (const r of rules) {
      expect(r.body).toMatchObject({ location: 'eastus', kind: 'LogAlert', tags: { 'mlserve:app': 'iris', 'mlserve:stage': 'dev' }, properties: { enabled: true, scopes: [insights], windowSize: 'PT1M', evaluationFrequency: 'PT1M', autoMitigate: true, actions: { actionGroups: [group] } } });
    }
    const condition = (i: number) => (rules[i]!.body.properties as { criteria: { allOf: { query: string; metricMeasureColumn: string; operator: string; threshold: number; failingPeriods: unknown }[] } }).criteria.allOf[0]!;
    expect(condition(0)).toMatchObject({ metricMeasureColumn: 'errorRate', operator: 'GreaterThan', threshold: 2.5, failingPeriods: { numberOfEvaluationPeriods: 5, minFailingPeriodsToAlert: 3 } });
    expect(condition(1)).toMatchObject({ metricMeasureColumn: 'p99', threshold: 300 });
    // Both read the handler's request records, the same lines `mlserve status` counts.
    for (const i of [0, 1]) expect(condition(i).query).toMatch(/^traces \| where message has "request" \| extend r = parse_json\(message\) \| where tostring\(r\.event\) == "request" \| summarize /);
    const book = p.resources.find((r) => r.type === 'Microsoft.Insights/workbooks')!;
    expect(book.name).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const data = JSON.parse((book.body.properties as { serializedData: string }).serializedData) as { items: { type: number; content: { query?: string } }[]; fallbackResourceIds: string[] };
    expect(data.fallbackResourceIds).toEqual([insights]);
    expect(data.items.filter((i) => i.type === 3).map((i) => i.content.query)).toEqual([expect.stringContaining('requests = count()'), expect.stringContaining('p99 = percentile'), expect.stringContaining('coldStarts')]);
    expect(p.notes).not.toContain('no monitoring.actionGroup: alerts show in Azure Monitor but notify no one');

    const off = plan({ monitoring: { alarms: false } });
    expect(off.resources.filter((r) => r.step === 'alerts')).toEqual([]);
    // An earlier deploy's rules and workbook are what the next deploy (and destroy) remove.
    expect(off.retired.map((r) => r.id)).toEqual(p.resources.filter((r) => r.step === 'alerts').map((r) => r.id));
  });

  it('has the Flex Consumption shape of Microsoft\'s published example, with identity-based deployment storage', () => {
    // Azure/azure-rest-api-specs specification/web/resource-manager/Microsoft.Web/stable/2024-11-01/examples/CreateOrUpdateFunctionAppFlexConsumption.json:
    // kind functionapp,linux; functionAppConfig.deployment.storage {type blobContainer, value, authentication};
    // runtime {name python, version}; scaleAndConcurrency {maximumInstanceCount, instanceMemoryMB}.
    const site = plan({ runtime: { python: '3.12' }, resources: { memory: 3000, concurrency: 20 } }).resources.find((r) => r.type === 'Microsoft.Web/sites')!;
    expect(site.apiVersion).toBe('2024-11-01');
    expect(site.body).toMatchObject({
      kind: 'functionapp,linux',
      properties: {
        functionAppConfig: {
          deployment: { storage: { type: 'blobContainer', value: expect.stringMatching(/^https:\/\/[a-z0-9]+\.blob\.core\.windows\.net\/mlserve-packages$/), authentication: { type: 'SystemAssignedIdentity' } } },
          runtime: { name: 'python', version: '3.12' },
          scaleAndConcurrency: { maximumInstanceCount: 20, instanceMemoryMB: 4096 },
        },
      },
    });
    expect(flexMemory(4096)).toEqual({ mb: 4096 });
    expect(flexMemory(10240).mb).toBe(4096);
  });

  it('gives the app\'s identity one role per container and none account-wide; its artifacts only under its own prefix', () => {
    const p = plan();
    const roles = p.resources.filter((r) => r.type === 'Microsoft.Authorization/roleAssignments');
    const onContainers = roles.filter((r) => r.id.includes('/blobServices/'));
    expect(onContainers).toHaveLength(4);
    for (const r of onContainers) expect(r.id).toMatch(/\/blobServices\/default\/containers\/[a-z-]+\/providers\/Microsoft\.Authorization\/roleAssignments\/[0-9a-f-]{36}$/);
    // The fifth: publishing telemetry to its own Application Insights only (Monitoring Metrics Publisher).
    const telemetry = roles.find((r) => !r.id.includes('/blobServices/'))!;
    expect(telemetry.id).toMatch(/\/providers\/Microsoft\.Insights\/components\/mlserve-iris-dev-insights\/providers\/Microsoft\.Authorization\/roleAssignments\/[0-9a-f-]{36}$/);
    expect((telemetry.body as { properties: { roleDefinitionId: string } }).properties.roleDefinitionId).toMatch(/3913510d-42f4-4e42-8a64-420c390055eb$/);
    const artifacts = roles.find((r) => r.id.includes('/containers/mlserve-artifacts/'))!.body as { properties: { roleDefinitionId: string; condition: string; conditionVersion: string } };
    expect(artifacts.properties.roleDefinitionId).toMatch(/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1$/); // Storage Blob Data Reader
    expect(artifacts.properties).toMatchObject({ conditionVersion: '2.0', condition: expect.stringContaining("StringStartsWith 'iris/dev/'") });
    // A configured resource group is used, never created (so destroy never deletes it).
    expect(plan({ azure: { resourceGroup: 'team-rg' } }).resources.some((r) => r.type === 'Microsoft.Resources/resourceGroups')).toBe(false);
    expect(plan({ endpoint: { public: true } }).notes).toContain('endpoint.public is true: the function is anonymous (no function key)');
  });
});

describe('the Azure platform description', () => {
  it('says in package warnings where the config asks for more than Flex Consumption gives, with the source', async () => {
    const { azurePlatform } = await import('../../src/providers/azure/platform.js');
    const config = (resources: ConfigInput['resources']) => configSchema.parse({ name: 'iris', model: { framework: 'sklearn', file: 'model.joblib' }, resources });
    const notes = azurePlatform.configNotes!(config({ timeout: 600, memory: 1024 }));
    expect(notes).toEqual([
      expect.stringMatching(/^resources\.timeout 600 s: .*within 230 s.*functions-scale#timeout/),
      expect.stringMatching(/^resources\.memory 1024 MB: .*using 2048 MB/),
    ]);
    expect(azurePlatform.configNotes!(config({ timeout: 60, memory: 2048 }))).toEqual([]);
  });
});

describe('an existing storage account (azure.storageAccount)', () => {
  it('is never PUT (its settings stay the user’s), and needs its resource group named', () => {
    const p = plan({ azure: { storageAccount: 'teamshared', resourceGroup: 'team-ml' } });
    expect(p.resources.map((r) => r.type)).not.toContain('Microsoft.Storage/storageAccounts');
    expect(p.resources.map((r) => r.type)).not.toContain('Microsoft.Resources/resourceGroups');
    expect(p.resources.filter((r) => r.type.endsWith('/containers')).map((r) => r.name)).toEqual(['teamshared/default/mlserve-packages', 'teamshared/default/mlserve-artifacts', ...HOST_CONTAINERS.map((c) => `teamshared/default/${c}`)]);
    expect(() => plan({ azure: { storageAccount: 'teamshared' } })).toThrow(/azure\.storageAccount teamshared names an existing account, but azure\.resourceGroup is not set/);
  });
});
