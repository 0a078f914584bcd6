import { readFile } from 'node:fs/promises';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { MlserveError } from '../../core/errors.js';

/** Kudu's deployment states (Azure/azure-dev issue 3658, the Functions team's description of `/api/deployments`). */
const STATUS: Record<number, string> = { [-1]: 'Cancelled', 0: 'Pending', 1: 'Building', 2: 'Deploying', 3: 'Failed', 4: 'Success', 5: 'Conflict', 6: 'PartialSuccess' };
const DONE_OK = new Set([4]);
const DONE_BAD = new Set([-1, 3, 5, 6]);

interface Deployment {
  id: string;
  status: number;
  status_text?: string;
  complete?: boolean;
}

export interface PublishTarget {
  /** The app's SCM (Kudu) host, from its `hostNameSslStates` (hostType Repository). */
  scmHost: string;
  credential: TokenCredential;
  /** Resource Manager's token audience: the SCM endpoint takes the same Entra token. */
  scope: string;
  signal?: AbortSignal;
  /** How long to wait between status polls (ms). */
  pollMs?: number;
}

/**
 * Flex Consumption's One Deploy: POST the zip to `{scm}/api/publish` (answered with the deployment's
 * id), then poll `{scm}/api/deployments/{id}` until it ends. A failed deployment is an error that
 * quotes its status text and the deployment log. No Azure SDK covers the SCM endpoint, so this is
 * plain HTTPS with the Entra token.
 */
export async function oneDeploy(zip: string, t: PublishTarget): Promise<{ id: string }> {
  const base = `https://${t.scmHost}`;
  const body = await readFile(zip);
  const published = await call(t, `${base}/api/publish?RemoteBuild=false&Deployer=mlserve`, { method: 'POST', headers: { 'content-type': 'application/zip' }, body });
  // The answer is the deployment's id as a JSON string (Azure/azure-dev issue 3658); a bare id is taken as it is.
  const id = (published.trim().startsWith('"') ? String(JSON.parse(published)) : published.trim()) || 'latest';
  for (;;) {
    const d = JSON.parse(await call(t, `${base}/api/deployments/${encodeURIComponent(id)}`, { method: 'GET' })) as Deployment;
    if (DONE_OK.has(d.status)) return { id: d.id ?? id };
    if (DONE_BAD.has(d.status)) {
      const log = await call(t, `${base}/api/deployments/${encodeURIComponent(id)}/log`, { method: 'GET' }).catch((e: Error) => `(the log could not be read: ${e.message})`);
      throw new MlserveError('PROVIDER_ERROR', `the deployment ${id} ended ${STATUS[d.status] ?? d.status}${d.status_text ? `: ${d.status_text}` : ''}`, {
        hint: `its log:\n${formatLog(log)}`,
      });
    }
    await new Promise((r) => setTimeout(r, t.pollMs ?? 2000));
    if (t.signal?.aborted) throw new MlserveError('INTERRUPTED', `interrupted while deployment ${id} was ${STATUS[d.status] ?? d.status}`, { hint: 'run deploy again: it publishes the same package' });
  }
}

const tokens = new WeakMap<PublishTarget, AccessToken>();

/** The target's token, reused until a minute before it expires (a CLI credential runs `az` for each new one). */
async function tokenFor(t: PublishTarget): Promise<AccessToken> {
  const cached = tokens.get(t);
  if (cached && cached.expiresOnTimestamp - 60_000 > Date.now()) return cached;
  const token = await t.credential.getToken(t.scope);
  if (!token) throw new MlserveError('PROVIDER_AUTH', 'no token for the SCM endpoint', { hint: 'check `mlserve doctor --provider azure`' });
  tokens.set(t, token);
  return token;
}

async function call(t: PublishTarget, url: string, init: RequestInit): Promise<string> {
  const token = await tokenFor(t);
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(url, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token.token}` }, ...(t.signal ? { signal: t.signal } : {}) });
    const text = await res.text();
    if (res.ok) return text;
    const retryAfter = Number(res.headers.get('retry-after') ?? NaN);
    if ((res.status === 429 || res.status >= 500) && attempt < 5) {
      await new Promise((r) => setTimeout(r, (Number.isFinite(retryAfter) ? retryAfter : attempt) * 1000));
      continue;
    }
    const code = res.status === 401 || res.status === 403 ? 'PROVIDER_AUTH' : 'PROVIDER_ERROR';
    throw new MlserveError(code, `${init.method} ${new URL(url).pathname}: HTTP ${res.status}${text ? `: ${text.slice(0, 300)}` : ''}`, {
      hint: code === 'PROVIDER_AUTH' ? 'the identity needs Website Contributor (or Contributor) on the function app' : 'run deploy again: each step is idempotent',
    });
  }
}

/** Kudu logs are JSON lists of {log_time, message}; anything else is shown as it came. */
function formatLog(text: string): string {
  try {
    const entries = JSON.parse(text) as { log_time?: string; message?: string }[];
    if (Array.isArray(entries)) return entries.map((e) => `  ${e.log_time ?? ''} ${e.message ?? ''}`.trimEnd()).join('\n');
  } catch {
    // not JSON: shown as it came
  }
  return text;
}
