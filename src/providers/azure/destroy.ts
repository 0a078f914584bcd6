import { MlserveError } from '../../core/errors.js';
import type { AzureClients } from './clients.js';
import { storageAccountOf, type AzureNames, type AzurePlan } from './plan.js';

/**
 * Remove the stage: the resource group when mlserve created it (after checking its tags say so),
 * else each planned resource in reverse order, only when it carries this app's and stage's tags
 * (role assignments carry none: their names are derived from what they grant, so they are ours).
 * Anything already gone is skipped, so a second run (or one after an interruption) finishes the job.
 */
export async function destroyAzure(c: AzureClients, names: AzureNames, plan: AzurePlan, options: { dryRun: boolean }): Promise<string[]> {
  const rg = `/subscriptions/${c.settings.subscriptionId}/resourceGroups/${names.resourceGroup}`;
  if (names.ownsResourceGroup) {
    if (!(await c.arm.resourceGroups.checkExistence(names.resourceGroup)).body) return [];
    const group = await c.arm.resourceGroups.get(names.resourceGroup);
    assertOurs(group.tags, names, `resource group ${names.resourceGroup}`);
    const inside: string[] = [];
    for await (const r of c.arm.resources.listByResourceGroup(names.resourceGroup)) inside.push(r.id!);
    if (!options.dryRun) await c.arm.resourceGroups.beginDeleteAndWait(names.resourceGroup, { updateIntervalInMs: 2000 });
    return [rg, ...inside];
  }
  const removed: string[] = [];
  // Retired resources too: alert rules an earlier deploy made before monitoring.alarms was turned off.
  for (const r of [...plan.resources, ...plan.retired].reverse()) {
    if (r.type === 'Microsoft.Web/sites/basicPublishingCredentialsPolicies') continue; // settings of the site: they go with it
    let found;
    try {
      found = await c.arm.resources.getById(r.id, r.apiVersion);
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) continue; // already gone
      throw error;
    }
    if (r.type === CONTAINER && !names.ownsStorageAccount) {
      // A shared account the user owns: only this stage's blobs go, never the containers.
      const container = r.name.split('/').at(-1)!;
      if (container === names.packages || container === names.artifacts) removed.push(...(await removePrefix(c, names, container, options.dryRun)));
      continue;
    }
    const tagged = r.type !== 'Microsoft.Authorization/roleAssignments' && r.type !== CONTAINER;
    if (tagged) assertOurs(found.tags, names, `${r.type} ${r.name}`);
    if (!options.dryRun) await c.arm.resources.beginDeleteByIdAndWait(r.id, r.apiVersion, { updateIntervalInMs: 2000 });
    removed.push(r.id);
  }
  return removed;
}

const CONTAINER = 'Microsoft.Storage/storageAccounts/blobServices/containers';

/** Delete the blobs under `<app>/<stage>/` in one container of the user's account; returns what went (or would). */
async function removePrefix(c: AzureClients, names: AzureNames, container: string, dryRun: boolean): Promise<string[]> {
  const account = storageAccountOf(names, c.settings.subscriptionId);
  let props: { primaryEndpoints?: { blob?: string } } | undefined;
  try {
    props = (await c.arm.resources.getById(account.id, account.apiVersion)).properties as typeof props;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return []; // the account is gone, and its blobs with it
    throw error;
  }
  if (!props?.primaryEndpoints?.blob) return [];
  const client = c.blob(props.primaryEndpoints.blob).getContainerClient(container);
  const gone: string[] = [];
  for await (const blob of client.listBlobsFlat({ prefix: `${names.prefix}/` })) {
    if (!dryRun) await client.getBlockBlobClient(blob.name).deleteIfExists();
    gone.push(`${names.storageAccount}/${container}/${blob.name}`);
  }
  return gone;
}

function assertOurs(tags: Record<string, string> | undefined, names: AzureNames, what: string): void {
  if (tags?.['mlserve:app'] === names.tags['mlserve:app'] && tags?.['mlserve:stage'] === names.tags['mlserve:stage']) return;
  throw new MlserveError('NOT_OWNED', `${what} exists but is not tagged mlserve:app=${names.tags['mlserve:app']}, mlserve:stage=${names.tags['mlserve:stage']}: mlserve did not create it and leaves it alone`, {
    hint: 'remove it yourself if it should go, or set azure.resourceGroup / azure.storageAccount to names that are free',
  });
}
