import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { Check } from '../../core/checks.js';
import { safeUrl } from '../../core/safe-url.js';
import type { DoctorContext } from '../platform.js';
import { createClients, credentialSource } from './clients.js';
import { resolveAwsSettings } from './settings.js';

const TIMEOUT_MS = 8000;

/**
 * What `deploy --provider aws` would use, resolved the same way: region and profile (with their
 * sources), credentials through the same chain (environment, profiles, SSO, web identity, container
 * and instance roles; the source named, never a key), and the identity STS reports.
 */
export async function awsChecks(ctx: DoctorContext): Promise<Check[]> {
  const { env } = ctx;
  const settings = await resolveAwsSettings({ env, ...(ctx.config ? { config: ctx.config } : {}) });
  const checks: Check[] = [
    settings.region
      ? { name: 'aws region', provider: 'aws', status: 'ok', detail: `${settings.region} (from ${settings.regionSource})` }
      : { name: 'aws region', provider: 'aws', status: 'fail', detail: 'not set: pass --region, set AWS_REGION, set aws.region in the config, or give the profile a region' },
  ];
  const endpoints = Object.entries(env).filter(([k, v]) => v && /^AWS_ENDPOINT_URL(_[A-Z0-9_]+)?$/.test(k));
  if (endpoints.length > 0) checks.push({ name: 'aws endpoints', provider: 'aws', status: 'ok', detail: endpoints.map(([k, v]) => `${k}=${safeUrl(v!)}`).join(', ') });
  if (!settings.region) return [credentialsUnchecked(), ...checks];
  const clients = createClients(settings, env);
  let source: ReturnType<typeof credentialSource>;
  try {
    source = credentialSource(await withTimeout(clients.credentials(), 'resolving credentials'), env);
  } catch (error) {
    const e = error as Error;
    const profile = settings.profile ? `profile "${settings.profile}" (from ${settings.profileSource})` : 'the default profile';
    return [{ name: 'aws credentials', provider: 'aws', status: 'fail', detail: `none found (${e.name}: ${firstLine(e.message)}); tried the environment, ${profile}, SSO, web identity, container and instance roles: run aws configure or aws sso login` }, ...checks];
  }
  const profileNote = source.fromProfile ? `, profile "${settings.profile ?? 'default'}" (${settings.profileSource})` : '';
  checks.unshift({ name: 'aws credentials', provider: 'aws', status: 'ok', detail: `from ${source.description}${profileNote} (not shown)` });
  try {
    const out = await clients.sts.send(new GetCallerIdentityCommand({}), { abortSignal: AbortSignal.timeout(TIMEOUT_MS) });
    checks.push({ name: 'aws identity', provider: 'aws', status: 'ok', detail: `account ${out.Account}, ${out.Arn}` });
  } catch (error) {
    checks.push({ name: 'aws identity', provider: 'aws', status: 'fail', detail: `sts:GetCallerIdentity failed: ${(error as Error).name}: ${firstLine((error as Error).message)}` });
  }
  return checks;
}

function credentialsUnchecked(): Check {
  return { name: 'aws credentials', provider: 'aws', status: 'warn', detail: 'not checked: the credential chain needs a region' };
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`${what} took over ${TIMEOUT_MS / 1000} s`), { name: 'TimeoutError' })), TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const firstLine = (s: string) => s.split('\n')[0]!;
