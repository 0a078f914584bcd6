import type { GenericResource } from '@azure/arm-resources';
import { MlserveError } from '../../core/errors.js';
import type { AzureClients } from './clients.js';
import type { PlannedResource } from './plan.js';

/** What a deploy learns from the resources it applied: the storage endpoint and the app's identity and hosts. */
export interface Applied {
  blobEndpoint?: string;
  insightsConnectionString?: string;
  principalId?: string;
  defaultHostName?: string;
  scmHost?: string;
}

/** Poll long-running operations at this interval unless the service sends Retry-After. */
const POLL_MS = 2000;

/**
 * PUT one planned resource by its ID (idempotent: ARM creates or updates it to exactly this body),
 * waiting for a long-running operation to finish; role assignments get the app's identity, which
 * only exists once the app does. What later steps need is copied into `applied`.
 */
export async function applyResource(c: AzureClients, r: PlannedResource, applied: Applied): Promise<void> {
  const body =
    r.type === 'Microsoft.Authorization/roleAssignments' ? withPrincipal(r.body, applied.principalId) : r.type === 'Microsoft.Web/sites' ? withLearned(r.body, applied) : r.body;
  if (r.type === 'Microsoft.Resources/resourceGroups') await assertGroupIsOurs(c, r);
  let result: GenericResource;
  try {
    result = await c.arm.resources.beginCreateOrUpdateByIdAndWait(r.id, r.apiVersion, body as GenericResource, { updateIntervalInMs: POLL_MS });
  } catch (error) {
    // The same grant under another name (made by hand, or by an older mlserve): it is there, which is all this step wants.
    if ((error as { code?: string }).code === 'RoleAssignmentExists') return;
    throw error;
  }
  learn(r, result, applied);
}

/** The group's name is predictable (mlserve-<app>-<stage>): one that exists without this app's and stage's tags is someone else's, and is not re-tagged. */
async function assertGroupIsOurs(c: AzureClients, r: PlannedResource): Promise<void> {
  let tags: Record<string, string> | undefined;
  try {
    tags = (await c.arm.resourceGroups.get(r.name)).tags ?? {};
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return; // new: ours to create
    throw error;
  }
  const want = (r.body.tags ?? {}) as Record<string, string>;
  if (tags['mlserve:app'] === want['mlserve:app'] && tags['mlserve:stage'] === want['mlserve:stage']) return;
  throw new MlserveError('NOT_OWNED', `resource group ${r.name} exists and is not tagged mlserve:app=${want['mlserve:app']}, mlserve:stage=${want['mlserve:stage']}: it is not this app's, so mlserve leaves it alone`, {
    hint: 'set azure.resourceGroup to deploy into an existing group of yours, or pick another app name or stage',
  });
}

function withPrincipal(body: Record<string, unknown>, principalId: string | undefined): Record<string, unknown> {
  if (!principalId) throw new Error('the function app has no identity yet: its step must run before the role assignments');
  return { ...body, properties: { ...(body.properties as Record<string, unknown>), principalId } };
}

/**
 * What the plan could not know before the resources existed: the account's blob endpoint as Resource
 * Manager reports it (the plan derives it from the cloud's suffix: the same for every public account,
 * not for one on DNS-zone endpoints), and the Application Insights connection string.
 */
function withLearned(body: Record<string, unknown>, applied: Applied): Record<string, unknown> {
  const endpoint = applied.blobEndpoint?.replace(/\/+$/, '');
  const at = (url: string) => (endpoint ? `${endpoint}/${url.split('/').at(-1)}` : url);
  const props = body.properties as { siteConfig: { appSettings: { name: string; value: string }[] }; functionAppConfig: { deployment: { storage: { value: string } } } };
  const appSettings = props.siteConfig.appSettings.map((s) =>
    s.name === 'MLSERVE_ARTIFACTS_URL' ? { ...s, value: at(s.value) } : s.name === 'APPLICATIONINSIGHTS_CONNECTION_STRING' && applied.insightsConnectionString ? { ...s, value: applied.insightsConnectionString } : s,
  );
  const deployment = { ...props.functionAppConfig.deployment, storage: { ...props.functionAppConfig.deployment.storage, value: at(props.functionAppConfig.deployment.storage.value) } };
  return { ...body, properties: { ...props, siteConfig: { ...props.siteConfig, appSettings }, functionAppConfig: { ...props.functionAppConfig, deployment } } };
}

function learn(r: PlannedResource, result: GenericResource, applied: Applied): void {
  const props = (result.properties ?? {}) as Record<string, unknown>;
  if (r.type === 'Microsoft.Storage/storageAccounts') {
    const blob = (props.primaryEndpoints as { blob?: string } | undefined)?.blob;
    if (blob) applied.blobEndpoint = blob;
  }
  if (r.type === 'Microsoft.Insights/components' && typeof props.ConnectionString === 'string') applied.insightsConnectionString = props.ConnectionString;
  if (r.type === 'Microsoft.Web/sites') {
    if (result.identity?.principalId) applied.principalId = result.identity.principalId;
    Object.assign(applied, siteHosts(props));
  }
}

/** The app's default host and its SCM (Kudu) host, from a site's properties. */
export function siteHosts(props: Record<string, unknown>): { defaultHostName?: string; scmHost?: string } {
  const states = (props.hostNameSslStates as { name?: string; hostType?: string }[] | undefined) ?? [];
  const scm = states.find((s) => s.hostType === 'Repository')?.name;
  const host = props.defaultHostName as string | undefined;
  return { ...(host ? { defaultHostName: host } : {}), ...(scm ? { scmHost: scm } : host ? { scmHost: host.replace(/^([^.]+)\./, '$1.scm.') } : {}) };
}
