import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { BlobServiceClient } from '@azure/storage-blob';
import { testTls } from './tls.js';
import { testPython, tempDir } from './python.js';

/**
 * A stateful stand-in for Azure Resource Manager and the Functions SCM (Kudu) publish endpoint:
 * neither has an emulator. It answers the operations mlserve calls the way Microsoft's published
 * REST API specifications (Azure/azure-rest-api-specs, specification/<service>/resource-manager)
 * and their examples describe them:
 *
 * - PUT/GET/DELETE of a resource by its ID, with the api-version query each operation requires;
 *   201 on create and 200 on update (Resources_CreateOrUpdateById); GET of a missing resource is
 *   404 with code ResourceNotFound, or ResourceGroupNotFound when its group is missing
 *   (ARM's common error response, `common-types/resource-management/v5/types.json#/definitions/ErrorResponse`).
 * - Long-running operations as the examples show them: a storage account PUT answers 202 with a
 *   `Location` to poll (storage/…/2023-05-01/examples/StorageAccountCreate.json: responses 200 and 202),
 *   a function app PUT answers 202 with `Azure-AsyncOperation` (web/…/2024-11-01/examples/
 *   CreateOrUpdateFunctionAppFlexConsumption.json), a resource group DELETE answers 202 with
 *   `Location` (ResourceGroups_Delete, a long-running operation answering 200 or 202). Each poll says
 *   InProgress once, then done.
 * - Response bodies shaped like those examples: a storage account's `primaryEndpoints.blob` (here:
 *   Azurite), a site's `defaultHostName`, `hostNameSslStates` (Standard and Repository hosts) and its
 *   system identity's `principalId`; `POST …/host/default/listkeys` answering the HostKeys model
 *   (masterKey, functionKeys, systemKeys) of WebApps_ListHostKeys in web/…/2024-11-01/WebApps.json.
 * - Role assignments: 400 PrincipalNotFound for an unknown principal, 409 RoleAssignmentExists for
 *   the same grant under another name; a created assignment carries its `scope`
 *   (authorization/…/2022-04-01/examples/RoleAssignments_CreateById.json);
 *   storage accounts: 409 StorageAccountAlreadyTaken for a name held elsewhere (names are global).
 * - Throttling: every `throttleEvery`-th request answers 429 TooManyRequests with `Retry-After: 1`.
 * - Every request must carry a Bearer token whose audience is Resource Manager's (else 401
 *   AuthenticationFailed), as the real service requires.
 *
 * Each function app gets its own HTTPS port for its default and SCM hosts: `POST /api/publish`
 * (One Deploy, answered with the deployment id), `GET /api/deployments/{id}` with Kudu's status
 * codes (Azure/azure-dev issue 3658), and the function itself, run from the published package by
 * azure_functions_host.py, behind the function key unless the app is anonymous.
 */
export interface AzureStandin {
  url: string;
  /** Every resource it holds, by ID. */
  resources(): Resource[];
  /** The One Deploy publishes each site received, in order (the zip's SHA-256). */
  publishes(site: string): string[];
  /** How many requests were answered 429 (throttled). */
  throttled(): number;
  /** Log lines as the Functions host would collect them from `site`'s app (stamped `at`, default now). */
  addTraces(site: string, lines: { message: string; at?: Date }[]): void;
  stop(): Promise<void>;
}

interface Resource {
  id: string;
  name: string;
  type: string;
  location?: string;
  tags?: Record<string, string>;
  kind?: string;
  sku?: unknown;
  identity?: { type: string; principalId?: string; tenantId?: string };
  properties: Record<string, unknown>;
}

interface Site {
  id: string;
  name: string;
  port: number;
  server: Server;
  functionKey: string;
  deployments: Map<string, { status: number; polls: number; log: { log_time: string; message: string }[]; sha: string; text?: string }>;
  publishes: string[];
  /** The app's log lines, as Application Insights' traces table holds them. */
  traces: { timestamp: string; message: string; severityLevel: number }[];
  host?: { child: ChildProcess; authLevel: string; next: (line: string) => Promise<string> };
}

export interface StandinOptions {
  /** Azurite's Blob endpoint (…/devstoreaccount1) and shared-key connection string: storage accounts are backed by it. */
  blobEndpoint: string;
  azuriteConnectionString: string;
  throttleEvery?: number;
}

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const ARM_AUDIENCE = 'https://management.azure.com';

export async function startAzureStandin(o: StandinOptions): Promise<AzureStandin> {
  const tls = testTls();
  const state = new Map<string, Resource>();
  const operations = new Map<string, { polls: number; kind: 'async' | 'location'; href: string; resourceId?: string; onDone?: () => Promise<void> }>();
  const sites = new Map<string, Site>();
  const blob = BlobServiceClient.fromConnectionString(o.azuriteConnectionString);
  let count = 0;
  let throttled = 0;
  let base = '';

  const key = (id: string) => id.toLowerCase().replace(/\/+$/, '');
  const rgOf = (id: string) => /^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+/i.exec(id)?.[0];
  const typeOf = (id: string): string => {
    if (/\/providers\/Microsoft\.Authorization\/roleAssignments\/[^/]+$/i.test(id)) return 'Microsoft.Authorization/roleAssignments';
    const tail = id.split(/\/providers\//i).at(-1)!;
    if (!/\/providers\//i.test(id)) return 'Microsoft.Resources/resourceGroups';
    const parts = tail.split('/');
    return [parts[0], ...parts.slice(1).filter((_, i) => i % 2 === 0)].join('/');
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The generic by-ID operations send `//subscriptions/…` (the template is `/{resourceId}`); ARM folds the slashes.
    const url = new URL(req.url!.replace(/^\/+/, '/'), base);
    const body = await readBody(req);
    const send = (status: number, payload?: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', 'x-ms-request-id': randomUUID(), ...headers });
      res.end(payload === undefined ? '' : JSON.stringify(payload));
    };
    const error = (status: number, code: string, message: string, headers: Record<string, string> = {}) => send(status, { error: { code, message } }, headers);
    if (req.method === 'POST' && /^\/v1\/.+\/query$/.test(url.pathname)) return query(req, url.pathname, body, send, error);
    if (req.method === 'GET' && url.pathname === '/msi/token') return identityToken(req, url, send, error);
    if (!authorized(req, ARM_AUDIENCE)) return error(401, 'AuthenticationFailed', 'Authentication failed. The Authorization header is missing or its token is not for Resource Manager.');
    if (o.throttleEvery && ++count % o.throttleEvery === 0 && ++throttled) return error(429, 'TooManyRequests', 'The request is being throttled.', { 'retry-after': '1' });
    if (!url.searchParams.get('api-version')) return error(400, 'MissingApiVersionParameter', "The api-version query parameter (?api-version=) is required for all requests.");
    const path = url.pathname;
    const op = /\/operation(?:Results|results|s)\/([^/]+)$/.exec(path);
    if (op && operations.has(op[1]!)) return poll(op[1]!, send);
    if (req.method === 'GET' && /^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/resources$/i.test(path)) {
      const rg = key(path.replace(/\/resources$/i, ''));
      return send(200, { value: [...state.values()].filter((r) => key(r.id).startsWith(`${rg}/providers/`) && !r.type.includes('roleAssignments')).map(summary) });
    }
    if (req.method === 'POST' && /\/host\/default\/listkeys$/i.test(path)) {
      const site = sites.get(key(path.replace(/\/host\/default\/listkeys$/i, '')));
      if (!site) return error(404, 'ResourceNotFound', `The Resource 'Microsoft.Web/sites' was not found.`);
      // WebApps_ListHostKeys (web, 2024-11-01): the HostKeys model.
      return send(200, { masterKey: `master-${site.functionKey}`, functionKeys: { default: site.functionKey }, systemKeys: {} });
    }
    const id = path;
    const rg = rgOf(id);
    const isGroup = typeOf(id) === 'Microsoft.Resources/resourceGroups';
    if (!isGroup && rg && !state.has(key(rg)) && req.method !== 'DELETE') {
      return error(404, 'ResourceGroupNotFound', `Resource group '${rg.split('/').at(-1)}' could not be found.`);
    }
    if (req.method === 'HEAD') return send(state.has(key(id)) ? 204 : 404);
    if (req.method === 'GET') {
      const r = state.get(key(id));
      return r ? send(200, r) : error(404, isGroup ? 'ResourceGroupNotFound' : 'ResourceNotFound', notFound(id));
    }
    if (req.method === 'DELETE') return remove(id, send);
    if (req.method === 'PUT') return put(id, JSON.parse(body.toString('utf8') || '{}') as Partial<Resource>, send, error);
    return error(405, 'MethodNotAllowed', `${req.method} is not supported by this stand-in`);
  }

  /**
   * Log Analytics' resource-centric query (operationalinsights data-plane 2022-10-27,
   * examples/la-post-resource-centric-example.json): POST /v1/{resourceId}/query with {query, timespan},
   * answered with tables of columns and rows. It keeps no query engine: it answers queries over the
   * `traces` table of an Application Insights resource with the traces of that resource group's apps
   * in the timespan, oldest first, and refuses other queries as the service refuses a bad one.
   */
  function query(req: IncomingMessage, path: string, body: Buffer, send: Send, error: ErrorSend): void {
    if (!authorized(req, 'https://api.loganalytics.io')) return error(403, 'InsufficientAccessError', 'The provided credentials have insufficient access to perform the requested operation');
    // The resource ID follows /v1/ without its leading slash (the example's resourceId is "subscriptions/…").
    const id = `/${path.slice('/v1/'.length, -'/query'.length)}`;
    const r = state.get(key(id));
    if (!r || r.type !== 'Microsoft.Insights/components') return error(404, 'ResourceNotFound', `The resource ${id} was not found`);
    const { query: text, timespan } = JSON.parse(body.toString('utf8')) as { query: string; timespan?: string };
    if (!/\btraces\b/.test(text)) return error(400, 'BadArgumentError', 'The request had some invalid properties (this stand-in answers queries over traces)');
    const [from, to] = (timespan ?? '').split('/').map((t) => Date.parse(t));
    const rg = key(rgOf(id)!);
    const rows = [...sites.entries()]
      .filter(([k]) => k.startsWith(`${rg}/`))
      .flatMap(([, site]) => site.traces.map((t) => ({ ...t, role: site.name })))
      .filter((t) => (!from || Date.parse(t.timestamp) >= from) && (!to || Date.parse(t.timestamp) <= to))
      .sort((a, b) => a.timestamp.localeCompare(b.timestamp))
      .map((t) => [t.timestamp, t.message, t.role, t.severityLevel]);
    const columns = [{ name: 'timestamp', type: 'datetime' }, { name: 'message', type: 'string' }, { name: 'cloud_RoleInstance', type: 'string' }, { name: 'severityLevel', type: 'int' }];
    return send(200, { tables: [{ name: 'PrimaryResult', columns, rows }] });
  }

  /**
   * The App Service managed identity endpoint (IDENTITY_ENDPOINT, api-version 2019-08-01): a token for
   * `resource` for the site whose X-IDENTITY-HEADER matches (learn.microsoft.com app-service
   * overview-managed-identity, "REST endpoint reference"). Azurite's --oauth basic accepts it.
   */
  function identityToken(req: IncomingMessage, url: URL, send: Send, error: ErrorSend): void {
    const site = [...sites.values()].find((x) => x.functionKey === req.headers['x-identity-header']);
    if (!site) return error(401, 'Unauthorized', 'X-IDENTITY-HEADER does not match');
    const resource = url.searchParams.get('resource') ?? '';
    const principal = state.get(key(site.id))?.identity?.principalId;
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const claims = { aud: resource.replace(/\/$/, ''), iss: `https://sts.windows.net/${TENANT}/`, iat: exp - 3600, nbf: exp - 3660, exp, oid: principal, tid: TENANT };
    return send(200, { access_token: `${b64({ typ: 'JWT', alg: 'none' })}.${b64(claims)}.`, expires_on: String(exp), resource, token_type: 'Bearer', client_id: principal });
  }

  function notFound(id: string): string {
    return `The Resource '${typeOf(id)}/${id.split('/').at(-1)}' under resource group '${rgOf(id)?.split('/').at(-1)}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`;
  }

  async function put(id: string, input: Partial<Resource>, send: Send, error: ErrorSend): Promise<void> {
    const type = typeOf(id);
    const existing = state.get(key(id));
    const parent = id.replace(/\/[^/]+\/[^/]+$/, '');
    if (type.split('/').length > 2 && !type.includes('roleAssignments') && !state.has(key(parent.replace(/\/blobServices\/default$/i, '')))) {
      return error(404, 'ParentResourceNotFound', `Can not perform requested operation on nested resource. Parent resource '${parent.split('/').at(-1)}' not found.`);
    }
    const r: Resource = { ...(existing ?? {}), ...input, id, name: id.split('/').at(-1)!, type, properties: { ...(existing?.properties ?? {}), ...(input.properties ?? {}), provisioningState: 'Succeeded' } };
    if (type === 'Microsoft.Authorization/roleAssignments') {
      const p = r.properties as { principalId?: string; roleDefinitionId?: string; scope?: string };
      const principals = [...state.values()].map((x) => x.identity?.principalId).filter(Boolean);
      if (!principals.includes(p.principalId)) return error(400, 'PrincipalNotFound', `Principal ${p.principalId} does not exist in the directory ${TENANT}.`);
      const scope = id.replace(/\/providers\/Microsoft\.Authorization\/roleAssignments\/[^/]+$/i, '');
      const twin = [...state.values()].find((x) => x.type === type && key(x.id) !== key(id) && key(x.id).startsWith(key(scope) + '/providers/microsoft.authorization') && (x.properties.principalId === p.principalId && x.properties.roleDefinitionId === p.roleDefinitionId));
      if (twin) return error(409, 'RoleAssignmentExists', 'The role assignment already exists.');
      r.properties.scope = scope;
    }
    if (type === 'Microsoft.Storage/storageAccounts') {
      // Account names are global (storage 2023-05-01: StorageAccountAlreadyTaken, 409).
      const taken = [...state.values()].find((x) => x.type === type && x.name.toLowerCase() === r.name.toLowerCase() && key(x.id) !== key(id));
      if (taken) return error(409, 'StorageAccountAlreadyTaken', `The storage account named ${r.name} is already taken.`);
      r.properties.primaryEndpoints = { blob: `${o.blobEndpoint}/` };
      r.properties.creationTime ??= new Date().toISOString();
    }
    if (type === 'Microsoft.Insights/components') {
      // applicationinsights/…/2020-02-02/examples/ComponentsCreate.json: server-set keys and the connection string.
      const ikey = (existing?.properties.InstrumentationKey as string | undefined) ?? randomUUID();
      Object.assign(r.properties, { InstrumentationKey: ikey, ConnectionString: `InstrumentationKey=${ikey}`, AppId: existing?.properties.AppId ?? randomUUID(), ApplicationId: r.name });
    }
    const invalid = type === 'Microsoft.Insights/scheduledQueryRules' ? invalidRule(r) : type === 'Microsoft.Insights/workbooks' ? invalidWorkbook(r) : undefined;
    if (invalid) return error(400, 'BadRequest', invalid);
    if (type === 'Microsoft.Storage/storageAccounts/blobServices/containers') await blob.getContainerClient(r.name).createIfNotExists();
    if (type === 'Microsoft.Web/sites') {
      const site = sites.get(key(id)) ?? (await startSite(id, r.name));
      sites.set(key(id), site);
      const host = `127.0.0.1:${site.port}`;
      r.identity = { type: 'SystemAssigned', principalId: existing?.identity?.principalId ?? randomUUID(), tenantId: TENANT };
      Object.assign(r.properties, { state: 'Running', defaultHostName: host, hostNames: [host], hostNameSslStates: [{ name: host, sslState: 'Disabled', hostType: 'Standard' }, { name: host, sslState: 'Disabled', hostType: 'Repository' }] });
    }
    state.set(key(id), r);
    const status = existing ? 200 : 201;
    if (type === 'Microsoft.Storage/storageAccounts' && !existing) return accepted('location', id, send);
    if (type === 'Microsoft.Web/sites') return accepted('async', id, send, r);
    return send(status, r);
  }

  /**
   * monitor/…/2023-12-01/scheduledQueryRule_API.json: location and properties.enabled, criteria and
   * scopes are required; each condition's timeAggregation and operator are from their enums; no more
   * failing periods than evaluation periods. The scopes must exist (the service checks them).
   */
  function invalidRule(r: Resource): string | undefined {
    const p = r.properties as { enabled?: unknown; scopes?: string[]; criteria?: { allOf?: { query?: string; timeAggregation?: string; operator?: string; threshold?: unknown; failingPeriods?: { numberOfEvaluationPeriods?: number; minFailingPeriodsToAlert?: number } }[] }; windowSize?: string; evaluationFrequency?: string };
    if (!r.location) return 'location is required';
    if (typeof p.enabled !== 'boolean' || !p.scopes?.length || !p.criteria?.allOf?.length) return 'properties.enabled, properties.scopes and properties.criteria.allOf are required';
    const missing = p.scopes.find((scope) => !state.has(key(scope)));
    if (missing) return `scope ${missing} does not exist`;
    for (const c of p.criteria.allOf) {
      if (!c.query || !['Count', 'Average', 'Minimum', 'Maximum', 'Total'].includes(c.timeAggregation ?? '') || !['Equals', 'GreaterThan', 'GreaterThanOrEqual', 'LessThan', 'LessThanOrEqual'].includes(c.operator ?? '') || typeof c.threshold !== 'number') {
        return 'each condition needs a query, a timeAggregation and an operator from their enums, and a numeric threshold';
      }
      if ((c.failingPeriods?.minFailingPeriodsToAlert ?? 1) > (c.failingPeriods?.numberOfEvaluationPeriods ?? 1)) return 'minFailingPeriodsToAlert must be at most numberOfEvaluationPeriods';
    }
    return [p.windowSize, p.evaluationFrequency].every((d) => d === undefined || /^PT\d+[MH]$|^P1D$/.test(d)) ? undefined : 'windowSize and evaluationFrequency are ISO 8601 durations';
  }

  /** applicationinsights/…/2023-06-01/workbooks_API.json: a GUID name, kind shared, displayName, category and serializedData (JSON) required. */
  function invalidWorkbook(r: Resource): string | undefined {
    const p = r.properties as { displayName?: string; category?: string; serializedData?: string };
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(r.name)) return `workbook names are GUIDs, not ${r.name}`;
    if (r.kind !== 'shared' || !r.location || !p.displayName || !p.category || typeof p.serializedData !== 'string') return 'kind shared, location, displayName, category and serializedData are required';
    try {
      JSON.parse(p.serializedData);
    } catch {
      return 'serializedData is not JSON';
    }
    return undefined;
  }

  function accepted(kind: 'async' | 'location', resourceId: string, send: Send, body?: Resource, onDone?: () => Promise<void>): void {
    const opId = randomUUID();
    const sub = resourceId.split('/')[2];
    const href = `${base}/subscriptions/${sub}/providers/Microsoft.Resources/operationResults/${opId}?api-version=2024-03-01`;
    operations.set(opId, { polls: 0, kind, href, resourceId, ...(onDone ? { onDone } : {}) });
    send(202, body, kind === 'async' ? { 'azure-asyncoperation': href, 'retry-after': '1' } : { location: href, 'retry-after': '1' });
  }

  async function poll(opId: string, send: Send): Promise<void> {
    const op = operations.get(opId)!;
    if (op.polls++ === 0) return op.kind === 'async' ? send(200, { status: 'InProgress' }, { 'retry-after': '1' }) : send(202, undefined, { location: op.href, 'retry-after': '1' });
    if (op.onDone) await op.onDone();
    if (op.kind === 'async') return send(200, { status: 'Succeeded' });
    const r = op.resourceId ? state.get(key(op.resourceId)) : undefined;
    return r ? send(200, r) : send(200);
  }

  async function remove(id: string, send: Send): Promise<void> {
    const k = key(id);
    if (!state.has(k)) return send(204);
    const doomed = [...state.keys()].filter((x) => x === k || x.startsWith(`${k}/`));
    const drop = async () => {
      for (const d of doomed) {
        const r = state.get(d);
        state.delete(d);
        if (r?.type === 'Microsoft.Web/sites') await stopSite(d);
        if (r?.type === 'Microsoft.Storage/storageAccounts/blobServices/containers') await blob.getContainerClient(r.name).deleteIfExists();
      }
    };
    if (typeOf(id) === 'Microsoft.Resources/resourceGroups') return accepted('location', id, send, undefined, drop);
    await drop();
    return send(200);
  }

  async function startSite(id: string, name: string): Promise<Site> {
    const site: Site = { id, name, port: 0, server: undefined as unknown as Server, functionKey: randomUUID().replace(/-/g, ''), deployments: new Map(), publishes: [], traces: [] };
    site.server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      void siteRequest(site, req, res).catch((e: Error) => {
        if (res.headersSent) return void res.destroy(e);
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`stand-in error: ${e.message}`);
      });
    });
    await new Promise<void>((r) => site.server.listen(0, '127.0.0.1', r));
    site.port = (site.server.address() as { port: number }).port;
    return site;
  }

  async function stopSite(k: string): Promise<void> {
    const site = sites.get(k);
    if (!site) return;
    sites.delete(k);
    site.host?.child.kill('SIGKILL');
    await new Promise((r) => site.server.close(r));
  }

  async function siteRequest(site: Site, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url!, `https://127.0.0.1:${site.port}`);
    const body = await readBody(req);
    const json = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    if (url.pathname.startsWith('/api/publish') || url.pathname.startsWith('/api/deployments')) {
      if (!authorized(req, ARM_AUDIENCE)) return json(401, { error: 'the SCM endpoint takes a Resource Manager token' });
      if (req.method === 'POST' && url.pathname === '/api/publish') return json(202, await publish(site, body));
      const m = /^\/api\/deployments\/([^/]+)(\/log)?$/.exec(url.pathname);
      const d = m && site.deployments.get(m[1]!);
      if (!d) return json(404, { error: 'no such deployment' });
      if (m[2]) return json(200, d.log);
      const status = d.polls++ === 0 ? 2 : d.status;
      return json(200, { id: m[1], status, status_text: status === 3 ? d.text : '', complete: status !== 2, deployer: 'mlserve', site_name: site.name });
    }
    if (!site.host) return json(503, { error: 'Function host is not running: nothing is published' });
    const given = req.headers['x-functions-key'] ?? url.searchParams.get('code');
    if (site.host.authLevel !== 'anonymous' && given !== site.functionKey) {
      res.writeHead(401);
      return void res.end();
    }
    const answer = JSON.parse(await site.host.next(JSON.stringify({ method: req.method, url: url.href, headers: req.headers, params: Object.fromEntries(url.searchParams), body: body.toString('base64') }))) as { status: number; headers: Record<string, string>; body: string };
    // The host frames the response itself: the app's own length and encoding headers are not passed on.
    const headers = Object.fromEntries(Object.entries(answer.headers).filter(([k]) => !/^(content-length|transfer-encoding|connection)$/i.test(k)));
    res.writeHead(answer.status, headers);
    res.end(Buffer.from(answer.body, 'base64'));
  }

  /** One Deploy: keep the zip, check it is a Functions app, (re)start the function host on it. */
  async function publish(site: Site, zip: Buffer): Promise<string> {
    const id = randomUUID();
    const sha = createHash('sha256').update(zip).digest('hex');
    site.publishes.push(sha);
    const dir = tempDir(`site-${site.name}-`);
    const file = join(dir, 'package.zip');
    writeFileSync(file, zip);
    const app = join(dir, 'wwwroot');
    execFileSync('python3', ['-m', 'zipfile', '-e', file, app]);
    const now = new Date().toISOString();
    const missing = ['host.json', 'function_app.py'].filter((f) => !existsSync(join(app, f)));
    if (missing.length) {
      site.deployments.set(id, { status: 3, polls: 0, sha, text: `Deployment failed: ${missing.join(', ')} not found in the package root`, log: [{ log_time: now, message: `Error: ${missing.join(', ')} not found.` }] });
      return id;
    }
    site.host?.child.kill('SIGKILL');
    // The host runs with the app's settings as its environment, and a managed identity endpoint, as on Azure.
    const settings = ((state.get(key(site.id))?.properties.siteConfig as { appSettings?: { name: string; value: string }[] } | undefined)?.appSettings ?? []);
    const env = {
      ...Object.fromEntries(settings.map((x) => [x.name, x.value])),
      IDENTITY_ENDPOINT: `${base}/msi/token`,
      IDENTITY_HEADER: site.functionKey,
      SSL_CERT_FILE: tls.certFile,
    };
    site.host = await startHost(app, env, (message, severityLevel) => site.traces.push({ timestamp: new Date().toISOString(), message, severityLevel }));
    site.deployments.set(id, { status: 4, polls: 0, sha, log: [{ log_time: now, message: 'Deployment successful.' }] });
    return id;
  }

  const server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    void handle(req, res).catch((e: Error) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'InternalServerError', message: e.message } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url: base,
    resources: () => [...state.values()],
    publishes: (name) => [...sites.values()].find((s) => s.name === name)?.publishes ?? [],
    throttled: () => throttled,
    addTraces: (name, lines) => {
      const site = [...sites.values()].find((x) => x.name === name);
      if (!site) throw new Error(`no site ${name}`);
      site.traces.push(...lines.map((l) => ({ timestamp: (l.at ?? new Date()).toISOString(), message: l.message, severityLevel: 1 })));
    },
    stop: async () => {
      for (const k of [...sites.keys()]) await stopSite(k);
      await new Promise((r) => server.close(r));
    },
  };
}

type Send = (status: number, payload?: unknown, headers?: Record<string, string>) => void;
type ErrorSend = (status: number, code: string, message: string, headers?: Record<string, string>) => void;

function summary(r: Resource) {
  return { id: r.id, name: r.name, type: r.type, location: r.location, tags: r.tags };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A Bearer JWT whose audience is `audience` (the stand-in trusts the claims; Entra ID would have signed them). */
function authorized(req: IncomingMessage, audience: string): boolean {
  const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  if (!token) return false;
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { aud?: string; exp?: number };
    return claims.aud?.replace(/\/$/, '') === audience && (claims.exp ?? 0) * 1000 > Date.now();
  } catch {
    return false;
  }
}

/** The app's function_app.py under azure_functions_host.py, one JSON request per line. */
async function startHost(app: string, env: Record<string, string>, trace: (message: string, severityLevel: number) => void): Promise<NonNullable<Site['host']>> {
  const child = spawn(testPython(), [join(import.meta.dirname, 'azure_functions_host.py'), app], { env: { PATH: process.env.PATH, TMPDIR: process.env.TMPDIR, ...env }, stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  // The app's own log lines: stdout at Information (1), stderr at Error (3), as the worker forwards them.
  createInterface({ input: child.stdout! }).on('line', (line) => trace(line, 1));
  createInterface({ input: child.stderr! }).on('line', (line) => trace(line, 3));
  const lines = createInterface({ input: child.stdio[3] as NodeJS.ReadableStream });
  const queue: ((line: string) => void)[] = [];
  lines.on('line', (line) => queue.shift()?.(line));
  const nextLine = () => new Promise<string>((resolve, reject) => {
    queue.push(resolve);
    child.once('exit', () => reject(new Error(`the function host exited: ${stderr.slice(-2000)}`)));
  });
  const first = JSON.parse(await nextLine()) as { auth_level: string };
  let chain = Promise.resolve('');
  return {
    child,
    authLevel: first.auth_level,
    next: (line) => (chain = chain.then(() => {
      const answer = nextLine();
      child.stdin!.write(`${line}\n`);
      return answer;
    })),
  };
}
