import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import { MlserveError } from '../../core/errors.js';
import type { PackagedBundle } from '../../packaging/packaged.js';
import { aliasesOf, forget, promote, prunable, rollback, switchTo, toState, type AliasRecord } from '../alias.js';
import { parseBody } from '../invoke-result.js';
import type { AliasState, DeployResult, InvokeRequest, InvokeResult, LogLine, Provider, ProviderContext, StatusReport, VersionInfo } from '../provider.js';
import { applyResource, siteHosts, type Applied } from './apply.js';
import { azureError, createAzureClients, type AzureClients } from './clients.js';
import { cloudOf } from './cloud.js';
import { QUERY_ROW_LIMIT, queryTraces } from './insights.js';
import { azureNames, azurePlan, flexMemory, storageAccountOf, type AzureNames, type AzurePlan, type PlannedResource } from './plan.js';
import { oneDeploy } from './publish.js';
import { resolveAzureSettings } from './settings.js';
import { azureStatus } from './status.js';
import { BlobVersions, uploadOnce } from './versions.js';

/** Steps of a deploy, in order; each is idempotent, so a deploy killed after any of them converges when run again. */
export const DEPLOY_STEPS = ['identity', 'resource-group', 'storage', 'monitoring', 'plan', 'function-app', 'access', 'alerts', 'upload', 'publish', 'alias'] as const;
export type DeployStep = (typeof DEPLOY_STEPS)[number];

const STEP_TITLES: Record<PlannedResource['step'], string> = {
  'resource-group': 'Resource group',
  storage: 'Storage account and private containers',
  monitoring: 'Log Analytics and Application Insights',
  plan: 'Flex Consumption plan',
  'function-app': 'Function app (managed identity)',
  access: 'Role assignments (one per container)',
  alerts: 'Alert rules and workbook (Application Insights)',
};

/** The deploy plan as `deploy --dry-run` prints it: each resource and whether it would be created or updated. */
export interface AzurePlanReport extends AzurePlan {
  subscriptionId: string;
  location: string;
  offline: boolean;
  resources: (PlannedResource & { action: 'create' | 'update' })[];
}

/** Where a stage lives once deployed: its names, the Blob store of its versions, and its hosts. */
interface Stage {
  names: AzureNames;
  store: BlobVersions;
  packages: ContainerClient;
  artifacts: ContainerClient;
  hosts: { defaultHostName?: string; scmHost?: string };
}

/**
 * Azure Functions on the Flex Consumption plan: the deployment is a plan of ARM requests (plan.ts),
 * applied in order through the generic resources client; versions are packages kept in Blob Storage
 * with a stage pointer (versions.ts), and moving the pointer publishes that package (One Deploy):
 * Flex has no slots.
 */
export class AzureProvider implements Provider {
  readonly id = 'azure' as const;
  private clientsCache: Promise<AzureClients> | undefined;

  constructor(private readonly ctx: ProviderContext) {}

  clients(): Promise<AzureClients> {
    this.clientsCache ??= createAzureClients(this.ctx.loaded.config, this.ctx.env);
    return this.clientsCache;
  }

  private async call<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw azureError(action, error);
    }
  }

  private async step<T>(id: DeployStep, title: string, fn: () => Promise<T>): Promise<T> {
    const result = await this.ctx.reporter.step(title, () => this.call(id, fn));
    if (this.ctx.env.MLSERVE_FAULT_AFTER_STEP === id) process.kill(process.pid, 'SIGKILL');
    return result;
  }

  private async azurePlanFor(c: Pick<AzureClients, 'settings' | 'cloud'>): Promise<AzurePlan> {
    const { config, stage } = this.ctx.loaded;
    return azurePlan(config, stage, { subscriptionId: c.settings.subscriptionId, location: c.settings.location, storageSuffix: c.cloud.storageSuffix });
  }

  /** The plan `deploy` applies; offline, with no credentials or calls, as if nothing existed yet. */
  async plan(options: { offline: boolean }): Promise<AzurePlanReport> {
    const { config } = this.ctx.loaded;
    if (options.offline) {
      const settings = await resolveAzureSettings(config.azure, this.ctx.env, { offline: true });
      const plan = await this.azurePlanFor({ settings, cloud: cloudOf(config.azure) });
      return { ...plan, subscriptionId: settings.subscriptionId, location: settings.location, offline: true, resources: plan.resources.map((r) => ({ ...r, action: 'create' as const })) };
    }
    const c = await this.clients();
    const plan = await this.azurePlanFor(c);
    const resources = [];
    for (const r of plan.resources) {
      const exists = await this.call(`GET ${r.type}`, () => this.exists(c, r.id, r.apiVersion));
      resources.push({ ...r, action: exists ? ('update' as const) : ('create' as const) });
    }
    return { ...plan, subscriptionId: c.settings.subscriptionId, location: c.settings.location, offline: false, resources };
  }

  private async exists(c: AzureClients, id: string, apiVersion: string): Promise<boolean> {
    try {
      await c.arm.resources.getById(id, apiVersion);
      return true;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return false;
      throw error;
    }
  }

  async deploy(bundle: PackagedBundle, options: { promote: boolean }): Promise<DeployResult> {
    const c = await this.clients();
    await this.step('identity', 'Signing in to Azure', async () => {
      await c.credential.getToken(c.cloud.armScope);
    });
    const plan = await this.azurePlanFor(c);
    const applied: Applied = {};
    for (const step of Object.keys(STEP_TITLES) as PlannedResource['step'][]) {
      const resources = plan.resources.filter((r) => r.step === step);
      const retired = plan.retired.filter((r) => r.step === step);
      if (resources.length === 0 && retired.length === 0) continue;
      await this.step(step, resources.length ? STEP_TITLES[step] : `Removing: ${STEP_TITLES[step]}`, async () => {
        for (const r of resources) await applyResource(c, r, applied);
        // Gone already is fine: DELETE of a missing resource answers 204.
        for (const r of retired) await c.arm.resources.beginDeleteByIdAndWait(r.id, r.apiVersion, { updateIntervalInMs: 2000 });
      });
    }
    const s = await this.stage(c, applied);
    const { version, published, uploaded } = await this.step('upload', 'Uploading the package and artifacts to Blob Storage', () => this.upload(s, bundle));
    const current = await s.store.alias();
    const moves = current.version === null || (options.promote && current.version !== version.version);
    const notes = [...plan.notes];
    if (moves) await this.step('publish', `Publishing version ${version.version} (One Deploy)`, () => this.publish(c, s, bundle.path));
    else if (current.version !== version.version) notes.push(`stage ${this.ctx.loaded.stage} still runs version ${current.version}: run \`mlserve promote ${version.version} --provider azure\``);
    const alias = moves ? await this.step('alias', `Stage ${this.ctx.loaded.stage} → version ${version.version}`, () => s.store.setAlias((a) => switchTo(a, version.version))) : current;
    return {
      version: version.version,
      published,
      alias: toState(this.ctx.loaded.stage, alias),
      endpoint: `https://${s.hosts.defaultHostName}/`,
      uploaded,
      concurrency: `Flex Consumption: up to ${this.ctx.loaded.config.resources.concurrency ?? 100} instances, one request at a time each`,
      notes,
    };
  }

  /** The stage's names, Blob containers and hosts: from this deploy's results, else read from ARM. */
  private async stage(c: AzureClients, applied: Applied = {}): Promise<Stage> {
    const { config, stage } = this.ctx.loaded;
    const names = azureNames(config, stage, c.settings.subscriptionId);
    const plan = await this.azurePlanFor(c);
    const site = plan.resources.find((r) => r.type === 'Microsoft.Web/sites')!;
    const account = storageAccountOf(names, c.settings.subscriptionId);
    const read = async (r: Pick<PlannedResource, 'id' | 'apiVersion' | 'type' | 'name'>) => {
      try {
        return ((await c.arm.resources.getById(r.id, r.apiVersion)).properties ?? {}) as Record<string, unknown>;
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode !== 404) throw error;
        throw new MlserveError('NOT_DEPLOYED', `nothing is deployed to stage ${stage} on azure (${r.type} ${r.name} does not exist)`, { hint: 'run `mlserve deploy --provider azure` first' });
      }
    };
    const blobEndpoint = applied.blobEndpoint ?? ((await read(account)).primaryEndpoints as { blob?: string } | undefined)?.blob;
    if (!blobEndpoint) throw new MlserveError('PROVIDER_ERROR', `storage account ${names.storageAccount} reports no blob endpoint`, { hint: 'check it in the portal; run deploy again' });
    const hosts = applied.scmHost ? { defaultHostName: applied.defaultHostName!, scmHost: applied.scmHost } : siteHosts(await read(site));
    const service = c.blob(blobEndpoint);
    const packages = service.getContainerClient(names.packages);
    return { names, packages, artifacts: service.getContainerClient(names.artifacts), store: new BlobVersions(packages, names.prefix), hosts };
  }

  private async upload(s: Stage, bundle: PackagedBundle) {
    const uploaded: string[] = [];
    for (const a of bundle.offload) {
      if (await uploadOnce(s.artifacts, a.key, a.abs, a.sha256, 'application/octet-stream')) uploaded.push(`${s.names.artifacts}/${a.key}`);
    }
    const result = await s.store.publish(bundle.path, { bundleSha256: bundle.sha256, modelSha256: bundle.modelSha256 });
    return { ...result, uploaded: [...uploaded, ...result.uploaded.map((k) => `${s.names.packages}/${k}`)] };
  }

  private async publish(c: AzureClients, s: Stage, zip: string): Promise<void> {
    if (!s.hosts.scmHost) throw new MlserveError('PROVIDER_ERROR', `the function app ${s.names.site} reports no SCM host`, { hint: 'run deploy again' });
    await oneDeploy(zip, { scmHost: s.hosts.scmHost, credential: c.credential, scope: c.cloud.armScope, ...(this.ctx.signal ? { signal: this.ctx.signal } : {}) });
  }

  /** Publish a stored version's package (promote, rollback): downloaded from Blob, then One Deploy. */
  private async publishVersion(c: AzureClients, s: Stage, version: string): Promise<void> {
    const entry = (await s.store.list()).find((v) => v.version === version);
    if (!entry) throw new MlserveError('USAGE', `version ${version} does not exist on stage ${this.ctx.loaded.stage}`, { hint: `versions: ${(await s.store.list()).map((v) => v.version).join(', ') || 'none'}` });
    const dir = await mkdtemp(join(tmpdir(), 'mlserve-azure-'));
    try {
      const zip = join(dir, 'package.zip');
      await s.packages.getBlockBlobClient(entry.key).downloadToFile(zip);
      await this.ctx.reporter.step(`Publishing version ${version} (One Deploy)`, () => this.publish(c, s, zip));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async versions(): Promise<{ versions: VersionInfo[]; alias: AliasState }> {
    const c = await this.clients();
    return this.call('versions', async () => {
      const s = await this.stage(c);
      const alias = await s.store.alias();
      const stage = this.ctx.loaded.stage;
      const versions = (await s.store.list()).map((v): VersionInfo => ({ version: v.version, created: v.created, bundleSha256: v.bundleSha256, modelSha256: v.modelSha256, aliases: aliasesOf(alias, stage, v.version) }));
      return { versions, alias: toState(stage, alias) };
    });
  }

  async promote(version: string | undefined, options: { weight?: number; finish?: boolean }): Promise<AliasState> {
    if (options.weight !== undefined || options.finish) {
      throw new MlserveError('USAGE', 'Azure Flex Consumption has no deployment slots, so it cannot split traffic between two versions: --weight and --finish are AWS-only', {
        hint: 'promote moves the whole stage; for a canary on Azure, deploy the new version to another stage (--stage canary) and split traffic in front of both (Azure Front Door or API Management weighted backends)',
      });
    }
    return this.move((alias, stage) => promote(alias, stage, { version: version! }));
  }

  async rollback(): Promise<AliasState> {
    return this.move((alias, stage) => rollback(alias, stage));
  }

  /** Compute the pointer's next state, publish the version it names, then write the pointer. */
  private async move(change: (alias: AliasRecord, stage: string) => AliasRecord): Promise<AliasState> {
    const c = await this.clients();
    const stage = this.ctx.loaded.stage;
    return this.call('promote', async () => {
      const s = await this.stage(c);
      const current = await s.store.alias();
      if (current.version === null) throw new MlserveError('NOT_DEPLOYED', `nothing is deployed to stage ${stage} on azure`, { hint: 'run `mlserve deploy --provider azure` first' });
      const next = change(current, stage);
      if (next.version !== current.version) await this.publishVersion(c, s, next.version!);
      return toState(stage, await s.store.setAlias((a) => (a.version === current.version ? next : change(a, stage))));
    });
  }

  async prune(keep: number, options: { dryRun: boolean }): Promise<{ deleted: string[]; kept: string[] }> {
    const c = await this.clients();
    return this.call('prune', async () => {
      const s = await this.stage(c);
      const { versions, alias } = await this.versions();
      const deleted = prunable(versions.map((v) => v.version), keep, alias);
      if (!options.dryRun && deleted.length) {
        await s.store.remove(deleted);
        await s.store.setAlias((a) => forget(a, deleted));
      }
      return { deleted, kept: versions.map((v) => v.version).filter((v) => !deleted.includes(v)) };
    });
  }

  async invoke(request: InvokeRequest): Promise<InvokeResult> {
    if (request.kind !== 'http') throw new MlserveError('USAGE', 'Azure Functions are invoked over HTTP: pass --data (and --path), not --event', { hint: 'mlserve invoke --provider azure --data-file input.json [--path /v2/models/<name>/infer]' });
    const c = await this.clients();
    const s = await this.call('invoke', () => this.stage(c));
    const alias = await this.call('invoke', () => s.store.alias());
    const headers: Record<string, string> = { 'content-type': 'application/json', ...request.headers };
    if (!this.ctx.loaded.config.endpoint.public) headers['x-functions-key'] = await this.call('web:listHostKeys', () => this.functionKey(c, s.names));
    const res = await this.call('invoke', () =>
      fetch(`https://${s.hosts.defaultHostName}${request.path}`, { method: request.method, headers, ...(request.body !== undefined && request.method !== 'GET' ? { body: request.body } : {}), ...(this.ctx.signal ? { signal: this.ctx.signal } : {}) }),
    );
    const body = parseBody(await res.text());
    return { status: res.status, body, version: alias.version ?? 'unknown', ...(res.status >= 500 ? { functionError: { type: `HTTP ${res.status}`, message: JSON.stringify(body).slice(0, 500) } } : {}) };
  }

  /** The app's default function key, read through ARM (never printed). */
  private async functionKey(c: AzureClients, names: AzureNames): Promise<string> {
    const keys = await c.web.webApps.listHostKeys(names.resourceGroup, names.site);
    const key = keys.functionKeys?.default ?? keys.masterKey;
    if (!key) throw new MlserveError('PROVIDER_ERROR', `the function app ${names.site} has no function key yet`, { hint: 'wait a minute after the first deploy, then try again' });
    return key;
  }

  async destroy(options: { dryRun: boolean }): Promise<{ removed: string[] }> {
    const c = await this.clients();
    return this.call('destroy', async () => {
      const { destroyAzure } = await import('./destroy.js');
      return { removed: await destroyAzure(c, azureNames(this.ctx.loaded.config, this.ctx.loaded.stage, c.settings.subscriptionId), await this.azurePlanFor(c), options) };
    });
  }

  /**
   * The app's traces from Application Insights (its log lines), through the Log Analytics query API
   * on the Application Insights resource, oldest first; `follow` polls until the signal aborts.
   */
  async logs(since: number, follow: boolean, print: (line: LogLine) => void): Promise<void> {
    const c = await this.clients();
    const insights = await this.insightsId(c);
    const query = 'union traces, exceptions | project timestamp, message = coalesce(message, outerMessage), cloud_RoleInstance, severityLevel | order by timestamp asc';
    let start = since;
    const seen = new Set<string>();
    for (;;) {
      const { rows } = await this.call('logs:query', () => queryTraces(c, insights, query, { since: start, until: Date.now() }));
      for (const row of rows) {
        const id = `${row.time}|${row.message}`;
        if (seen.has(id)) continue;
        seen.add(id);
        start = Math.max(start, Date.parse(row.time));
        print({ time: row.time, stream: row.role ?? this.ctx.loaded.config.name, message: row.message });
      }
      if (!follow || !this.ctx.signal || this.ctx.signal.aborted) return;
      await new Promise((r) => setTimeout(r, 5000));
      if (this.ctx.signal.aborted) return;
    }
  }

  private async insightsId(c: AzureClients): Promise<string> {
    return (await this.azurePlanFor(c)).resources.find((r) => r.type === 'Microsoft.Insights/components')!.id;
  }

  /**
   * `status` on Azure: the handler's request records (one trace per request) from Application
   * Insights, each counted under the version whose model it ran; Flex costs at list prices.
   */
  async status(range: { since: number; until: number }): Promise<StatusReport> {
    const c = await this.clients();
    return this.call('status', async () => {
      const s = await this.stage(c);
      const [versions, alias] = [await s.store.list(), await s.store.alias()];
      const query = `traces | where message has "request" | where tostring(parse_json(message).event) == "request" | project timestamp, message | order by timestamp asc | take ${QUERY_ROW_LIMIT}`;
      const { rows, partial } = await queryTraces(c, await this.insightsId(c), query, range);
      const memoryMb = flexMemory(this.ctx.loaded.config.resources.memory).mb;
      const report = azureStatus(rows, { versions, alias, memoryMb }, range);
      if (partial) report.notes.push(`Application Insights answered part of the query: ${partial}`);
      return report;
    });
  }
}

