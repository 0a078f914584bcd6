import { createHash } from 'node:crypto';
import type { Config } from '../../core/config/schema.js';
import { MlserveError } from '../../core/errors.js';

/**
 * One resource an Azure deploy creates or updates, as it would be sent to Azure Resource Manager:
 * its type, name, ID, API version and the request body. `deploy --dry-run` prints these; deploy
 * applies exactly these, in order.
 */
export interface PlannedResource {
  /** The deploy step that applies it (a deploy killed after any step converges when run again). */
  step: 'resource-group' | 'storage' | 'monitoring' | 'plan' | 'function-app' | 'access' | 'alerts';
  type: string;
  name: string;
  id: string;
  apiVersion: string;
  body: Record<string, unknown>;
}

export interface AzurePlan {
  resources: PlannedResource[];
  /** What the plan chose that the user should know (memory rounded, a public endpoint). */
  notes: string[];
  /** What a deploy deletes if an earlier one made it: the alert rules and workbook when monitoring.alarms is false. */
  retired: PlannedResource[];
}

/** API versions of the operations mlserve calls (Azure/azure-rest-api-specs, resource-manager, stable). */
export const API_VERSIONS = {
  resourceGroups: '2024-03-01',
  storage: '2023-05-01',
  workspaces: '2023-09-01',
  components: '2020-02-02',
  web: '2024-11-01',
  roleAssignments: '2022-04-01',
  scheduledQueryRules: '2023-12-01',
  workbooks: '2023-06-01',
} as const;

/** Flex Consumption instance sizes (../shared/fixtures/limits.md: 2,048 or 4,096 MB). */
export const FLEX_MEMORY_MB = [2048, 4096] as const;

/** Built-in role definitions (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles). */
const ROLES = {
  blobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1',
  blobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
} as const;

/** The containers the Functions host keeps its leases and keys in: created by mlserve, so the identity needs no account-wide role. */
export const HOST_CONTAINERS = ['azure-webjobs-hosts', 'azure-webjobs-secrets'] as const;

export interface AzureNames {
  resourceGroup: string;
  /** Whether mlserve creates (and destroy deletes) the resource group. */
  ownsResourceGroup: boolean;
  storageAccount: string;
  /** Whether mlserve creates the storage account (else `azure.storageAccount` names one the user owns, which is never changed or deleted). */
  ownsStorageAccount: boolean;
  packages: string;
  artifacts: string;
  workspace: string;
  insights: string;
  plan: string;
  site: string;
  /** Blob prefix of this app and stage: `<app>/<stage>`. */
  prefix: string;
  tags: Record<string, string>;
}

/** Every name, from app, stage and subscription; storage account names are global, so they carry a hash. */
export function azureNames(config: Config, stage: string, subscriptionId: string): AzureNames {
  const base = `${config.name}-${stage}`;
  const hash = createHash('sha256').update(`${subscriptionId}/${config.name}/${stage}`).digest('hex');
  return {
    resourceGroup: config.azure.resourceGroup ?? `mlserve-${base}`,
    ownsResourceGroup: !config.azure.resourceGroup,
    storageAccount: config.azure.storageAccount ?? `ml${base.replace(/[^a-z0-9]/g, '').slice(0, 12)}${hash.slice(0, 10)}`,
    ownsStorageAccount: !config.azure.storageAccount,
    packages: 'mlserve-packages',
    artifacts: 'mlserve-artifacts',
    workspace: `mlserve-${base}-logs`,
    insights: `mlserve-${base}-insights`,
    plan: `mlserve-${base}-plan`,
    site: `${base}-${hash.slice(0, 8)}`.slice(0, 60),
    prefix: `${config.name}/${stage}`,
    tags: { ...config.tags, 'mlserve:app': config.name, 'mlserve:stage': stage },
  };
}

/** The nearest Flex instance size at least `memory` (else the largest), and a note when it differs. */
export function flexMemory(memory: number): { mb: number; note?: string } {
  const mb: number = FLEX_MEMORY_MB.find((m) => m >= memory) ?? FLEX_MEMORY_MB[FLEX_MEMORY_MB.length - 1]!;
  return mb === memory ? { mb } : { mb, note: `resources.memory ${memory} MB: Flex Consumption instances have ${FLEX_MEMORY_MB.join(' or ')} MB; using ${mb} MB` };
}

/**
 * The whole deployment as ARM requests, in the order they are applied: resource group, storage
 * (HTTPS only, TLS 1.2, no public blob access, no shared keys), two private containers, Log
 * Analytics and Application Insights (local auth off), the Flex plan, the function app (system
 * identity, HTTPS only, identity-based storage and deployment, no basic-auth publishing), and the identity's role
 * assignments, each scoped to one container: write on the host's two, read on the packages, and
 * read on the artifacts only under the app's prefix (an ABAC condition on the blob path).
 */
export function azurePlan(config: Config, stage: string, ctx: { subscriptionId: string; location: string; storageSuffix?: string }): AzurePlan {
  const n = azureNames(config, stage, ctx.subscriptionId);
  if (!n.ownsStorageAccount && n.ownsResourceGroup) {
    throw new MlserveError('PROVIDER_CONFIG', `azure.storageAccount ${n.storageAccount} names an existing account, but azure.resourceGroup is not set`, {
      hint: 'set azure.resourceGroup to the account’s resource group, or remove azure.storageAccount to let mlserve create one',
    });
  }
  const rg = `/subscriptions/${ctx.subscriptionId}/resourceGroups/${n.resourceGroup}`;
  const common = { location: ctx.location, tags: n.tags };
  const account = `${rg}/providers/Microsoft.Storage/storageAccounts/${n.storageAccount}`;
  const container = (name: string) => `${account}/blobServices/default/containers/${name}`;
  const site = `${rg}/providers/Microsoft.Web/sites/${n.site}`;
  const memory = flexMemory(config.resources.memory);
  const notes = [...(memory.note ? [memory.note] : []), ...(config.endpoint.public ? ['endpoint.public is true: the function is anonymous (no function key)'] : [])];
  const insights = `${rg}/providers/Microsoft.Insights/components/${n.insights}`;
  const watch = alerts(config, n, { rg, insights, common });
  if (config.monitoring.alarms && !config.monitoring.actionGroup) notes.push('no monitoring.actionGroup: alerts show in Azure Monitor but notify no one');
  if (!config.monitoring.alarms) notes.push('monitoring.alarms is false: no alert rules or workbook (deploy removes ones it made before)');
  const resources: PlannedResource[] = [
    ...(n.ownsResourceGroup ? [{ step: 'resource-group' as const, type: 'Microsoft.Resources/resourceGroups', name: n.resourceGroup, id: rg, apiVersion: API_VERSIONS.resourceGroups, body: common }] : []),
    ...storage(n, account, container, common),
    ...monitoring(n, rg, common),
    {
      step: 'plan', type: 'Microsoft.Web/serverfarms', name: n.plan, id: `${rg}/providers/Microsoft.Web/serverfarms/${n.plan}`, apiVersion: API_VERSIONS.web,
      body: { ...common, kind: 'functionapp', sku: { name: 'FC1', tier: 'FlexConsumption' }, properties: { reserved: true } },
    },
    functionApp(config, stage, n, { rg, site, container, common, memory: memory.mb, storageSuffix: ctx.storageSuffix ?? 'core.windows.net' }),
    ...noBasicAuth(n, site),
    ...access(n, site, container, insights),
    ...(config.monitoring.alarms ? watch : []),
  ];
  return { resources, notes, retired: config.monitoring.alarms ? [] : watch };
}

function storage(n: AzureNames, account: string, container: (name: string) => string, common: Record<string, unknown>): PlannedResource[] {
  const blobContainer = (name: string): PlannedResource => ({
    step: 'storage', type: 'Microsoft.Storage/storageAccounts/blobServices/containers', name: `${n.storageAccount}/default/${name}`, id: container(name), apiVersion: API_VERSIONS.storage,
    body: { properties: { publicAccess: 'None' } },
  });
  // An account the user named is theirs: its settings are left as they are; only mlserve's containers are added.
  if (!n.ownsStorageAccount) return [blobContainer(n.packages), blobContainer(n.artifacts), ...HOST_CONTAINERS.map(blobContainer)];
  return [
    {
      step: 'storage', type: 'Microsoft.Storage/storageAccounts', name: n.storageAccount, id: account, apiVersion: API_VERSIONS.storage,
      body: {
        ...common, kind: 'StorageV2', sku: { name: 'Standard_LRS' },
        properties: { supportsHttpsTrafficOnly: true, minimumTlsVersion: 'TLS1_2', allowBlobPublicAccess: false, allowSharedKeyAccess: false, defaultToOAuthAuthentication: true, encryption: { keySource: 'Microsoft.Storage', services: { blob: { enabled: true } } } },
      },
    },
    blobContainer(n.packages),
    blobContainer(n.artifacts),
    ...HOST_CONTAINERS.map(blobContainer),
  ];
}

function monitoring(n: AzureNames, rg: string, common: Record<string, unknown>): PlannedResource[] {
  const workspace = `${rg}/providers/Microsoft.OperationalInsights/workspaces/${n.workspace}`;
  return [
    { step: 'monitoring', type: 'Microsoft.OperationalInsights/workspaces', name: n.workspace, id: workspace, apiVersion: API_VERSIONS.workspaces, body: { ...common, properties: { sku: { name: 'PerGB2018' }, retentionInDays: 30 } } },
    {
      step: 'monitoring', type: 'Microsoft.Insights/components', name: n.insights, id: `${rg}/providers/Microsoft.Insights/components/${n.insights}`, apiVersion: API_VERSIONS.components,
      body: { ...common, kind: 'web', properties: { Application_Type: 'web', WorkspaceResourceId: workspace, DisableLocalAuth: true } },
    },
  ];
}

function functionApp(config: Config, stage: string, n: AzureNames, o: { rg: string; site: string; container: (name: string) => string; common: Record<string, unknown>; memory: number; storageSuffix: string }): PlannedResource {
  const blobEndpoint = `https://${n.storageAccount}.blob.${o.storageSuffix}`;
  const settings: Record<string, string> = {
    ...config.environment,
    // Identity-based host storage: no connection string, no key.
    AzureWebJobsStorage__accountName: n.storageAccount,
    AzureWebJobsStorage__credential: 'managedidentity',
    // Filled in at deploy time from the Application Insights resource (not a secret: ingestion takes an Entra token).
    APPLICATIONINSIGHTS_CONNECTION_STRING: `{connection string of ${n.insights}}`,
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD',
    MLSERVE_STAGE: stage,
    MLSERVE_ARTIFACTS_URL: `${blobEndpoint}/${n.artifacts}`,
  };
  return {
    step: 'function-app', type: 'Microsoft.Web/sites', name: n.site, id: o.site, apiVersion: API_VERSIONS.web,
    body: {
      ...o.common, kind: 'functionapp,linux', identity: { type: 'SystemAssigned' },
      properties: {
        serverFarmId: `${o.rg}/providers/Microsoft.Web/serverfarms/${n.plan}`,
        httpsOnly: true,
        siteConfig: { minTlsVersion: '1.2', ftpsState: 'Disabled', appSettings: Object.entries(settings).map(([name, value]) => ({ name, value })) },
        functionAppConfig: {
          deployment: { storage: { type: 'blobContainer', value: `${blobEndpoint}/${n.packages}`, authentication: { type: 'SystemAssignedIdentity' } } },
          runtime: { name: 'python', version: config.runtime.python },
          scaleAndConcurrency: { maximumInstanceCount: config.resources.concurrency ?? 100, instanceMemoryMB: o.memory, triggers: { http: { perInstanceConcurrency: 1 } } },
        },
      },
    },
  };
}

/**
 * Publishing with a user name and password (basic auth) off for the SCM site and FTP: deploys use
 * Entra tokens only (WebApps_UpdateScmAllowed / UpdateFtpAllowed, Microsoft.Web 2024-11-01).
 */
function noBasicAuth(n: AzureNames, site: string): PlannedResource[] {
  return (['scm', 'ftp'] as const).map((kind) => ({
    step: 'function-app' as const, type: 'Microsoft.Web/sites/basicPublishingCredentialsPolicies', name: `${n.site}/${kind}`, id: `${site}/basicPublishingCredentialsPolicies/${kind}`, apiVersion: API_VERSIONS.web,
    body: { properties: { allow: false } },
  }));
}

/**
 * The app's identity: write to the host's two containers (leases, keys), read on packages, read on
 * its artifacts prefix, and publish telemetry to its own Application Insights (local auth is off
 * there, so ingestion takes an Entra token); nothing account- or group-wide.
 */
function access(n: AzureNames, site: string, container: (name: string) => string, insights: string): PlannedResource[] {
  const assignment = (scope: string, role: string, what: string, condition?: string): PlannedResource => {
    const name = uuidFrom(`${site}|${scope}|${role}`);
    return {
      step: 'access', type: 'Microsoft.Authorization/roleAssignments', name, id: `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`, apiVersion: API_VERSIONS.roleAssignments,
      body: {
        properties: {
          roleDefinitionId: `/subscriptions/${site.split('/')[2]}/providers/Microsoft.Authorization/roleDefinitions/${role}`,
          principalId: `{identity of ${n.site}}`,
          principalType: 'ServicePrincipal',
          description: `mlserve ${n.prefix}: ${what}`,
          ...(condition ? { condition, conditionVersion: '2.0' } : {}),
        },
      },
    };
  };
  const prefixOnly = `((!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'})) OR (@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringStartsWith '${n.prefix}/'))`;
  return [
    ...HOST_CONTAINERS.map((c) => assignment(container(c), ROLES.blobDataContributor, `the Functions host's ${c}`)),
    assignment(container(n.packages), ROLES.blobDataReader, 'read deployment packages'),
    assignment(container(n.artifacts), ROLES.blobDataReader, `read artifacts under ${n.prefix}/ only`, prefixOnly),
    assignment(insights, ROLES.monitoringMetricsPublisher, 'publish its telemetry to Application Insights'),
  ];
}

/** The handler's request records (one JSON trace per request, observability.py), parsed: the term index first, then the field. */
const REQUESTS = 'traces | where message has "request" | extend r = parse_json(message) | where tostring(r.event) == "request"';

/**
 * Log search alert rules on the stage's Application Insights (scheduledQueryRules 2023-12-01,
 * monitor/…/examples/createOrUpdateScheduledQueryRuleResourceGroup.json), over the handler's own
 * request records, as on AWS: failing in 3 of the last 5 minutes, resolving by themselves. Flex
 * reports no throttles per app, so there is no third rule. And a workbook of the same figures
 * (applicationinsights/…/2023-06-01/examples/WorkbookManagedAdd.json).
 */
function alerts(config: Config, n: AzureNames, o: { rg: string; insights: string; common: Record<string, unknown> }): PlannedResource[] {
  const m = config.monitoring;
  const rule = (suffix: string, severity: number, description: string, query: string, column: string, threshold: number): PlannedResource => {
    const name = `mlserve-${config.name}-${n.tags['mlserve:stage']}-${suffix}`;
    return {
      step: 'alerts', type: 'Microsoft.Insights/scheduledQueryRules', name, id: `${o.rg}/providers/Microsoft.Insights/scheduledQueryRules/${name}`, apiVersion: API_VERSIONS.scheduledQueryRules,
      body: {
        ...o.common, kind: 'LogAlert',
        properties: {
          displayName: name, description, severity, enabled: true, scopes: [o.insights], evaluationFrequency: 'PT1M', windowSize: 'PT1M',
          criteria: { allOf: [{ query, timeAggregation: 'Maximum', metricMeasureColumn: column, operator: 'GreaterThan', threshold, failingPeriods: { numberOfEvaluationPeriods: 5, minFailingPeriodsToAlert: 3 } }] },
          autoMitigate: true,
          actions: { actionGroups: m.actionGroup ? [m.actionGroup] : [] },
        },
      },
    };
  };
  return [
    rule('error-rate', 1, `mlserve: more than ${m.errorRate}% of ${n.site}'s requests failed (monitoring.errorRate)`, `${REQUESTS} | summarize errorRate = 100.0 * countif(toint(r.status) >= 500) / count()`, 'errorRate', m.errorRate),
    rule('p99', 2, `mlserve: ${n.site}'s p99 latency is over ${m.p99} ms (monitoring.p99)`, `${REQUESTS} | summarize p99 = percentile(todouble(r.latency_ms), 99)`, 'p99', m.p99),
    workbook(config, n, o),
  ];
}

function workbook(config: Config, n: AzureNames, o: { insights: string; rg: string; common: Record<string, unknown> }): PlannedResource {
  const name = uuidFrom(`${o.insights}|workbook`);
  const chart = (title: string, summarize: string) => ({
    type: 3, name: title,
    content: { version: 'KqlItem/1.0', title, query: `${REQUESTS} | summarize ${summarize} by bin(timestamp, 5m) | render timechart`, size: 0, queryType: 0, resourceType: 'microsoft.insights/components', timeContext: { durationMs: 86_400_000 }, visualization: 'timechart' },
  });
  const items = [
    { type: 1, name: 'title', content: { json: `## mlserve ${config.name}, stage ${n.tags['mlserve:stage']}\nFrom the handler's request records. Alerts: error rate over ${config.monitoring.errorRate} %, p99 over ${config.monitoring.p99} ms.` } },
    chart('Requests and errors', 'requests = count(), errors = countif(toint(r.status) >= 500)'),
    chart('Latency (ms)', 'p50 = percentile(todouble(r.latency_ms), 50), p99 = percentile(todouble(r.latency_ms), 99)'),
    chart('Cold starts', 'coldStarts = countif(tobool(r.cold_start))'),
  ];
  return {
    step: 'alerts', type: 'Microsoft.Insights/workbooks', name, id: `${o.rg}/providers/Microsoft.Insights/workbooks/${name}`, apiVersion: API_VERSIONS.workbooks,
    body: {
      ...o.common, kind: 'shared',
      properties: { displayName: `mlserve ${n.prefix}`, category: 'workbook', sourceId: o.insights, version: 'Notebook/1.0', serializedData: JSON.stringify({ version: 'Notebook/1.0', items, isLocked: false, fallbackResourceIds: [o.insights] }) },
    },
  };
}

/** Role assignment names are GUIDs; derived from what they grant, so a re-run finds the same one. */
function uuidFrom(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The stage's storage account (mlserve's, or the one azure.storageAccount names) as a by-ID reference. */
export function storageAccountOf(names: AzureNames, subscriptionId: string): Pick<PlannedResource, 'id' | 'apiVersion' | 'type' | 'name'> {
  return {
    id: `/subscriptions/${subscriptionId}/resourceGroups/${names.resourceGroup}/providers/Microsoft.Storage/storageAccounts/${names.storageAccount}`,
    apiVersion: API_VERSIONS.storage,
    type: 'Microsoft.Storage/storageAccounts',
    name: names.storageAccount,
  };
}
