import { readFile } from 'node:fs/promises';
import {
  AddPermissionCommand,
  CreateAliasCommand,
  CreateFunctionCommand,
  CreateFunctionUrlConfigCommand,
  GetAliasCommand,
  GetFunctionCommand,
  ListVersionsByFunctionCommand,
  PublishVersionCommand,
  RemovePermissionCommand,
  UpdateAliasCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  UpdateFunctionUrlConfigCommand,
  waitUntilFunctionActiveV2,
  waitUntilFunctionUpdatedV2,
  type FunctionConfiguration,
  type LambdaClient,
} from '@aws-sdk/client-lambda';
import { MlserveError } from '../../core/errors.js';
import type { AliasRecord } from '../alias.js';
import { codeSha256, PUBLIC_URL_STATEMENT, versionDescription, type FunctionPlan, type UrlPlan } from './plan.js';
import { withRetry, type RetryOptions } from './retry.js';

const WAIT = { maxWaitTime: 600, minDelay: 1, maxDelay: 5 };

/**
 * The function's configuration as Lambda's API takes it, from the plan (compared with what is
 * deployed, field by field). An image function has no Runtime or Handler: its image's command names
 * the handler.
 */
export function desiredConfiguration(fn: FunctionPlan, role: string) {
  return {
    FunctionName: fn.name,
    ...(fn.runtime && fn.handler ? { Runtime: fn.runtime as never, Handler: fn.handler } : {}),
    Role: role,
    MemorySize: fn.memory,
    Timeout: fn.timeout,
    EphemeralStorage: { Size: fn.ephemeralStorageMb },
    Environment: { Variables: fn.environment },
    Description: fn.description,
  };
}

export type DesiredConfiguration = ReturnType<typeof desiredConfiguration>;

function configDiffers(current: FunctionConfiguration, want: DesiredConfiguration): boolean {
  return (
    ('Runtime' in want && current.Runtime !== want.Runtime) ||
    ('Handler' in want && current.Handler !== want.Handler) ||
    current.Role !== want.Role ||
    current.MemorySize !== want.MemorySize ||
    current.Timeout !== want.Timeout ||
    (current.EphemeralStorage?.Size ?? 512) !== want.EphemeralStorage.Size ||
    JSON.stringify(sorted(current.Environment?.Variables ?? {})) !== JSON.stringify(sorted(want.Environment.Variables))
  );
}

function sorted(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
}

export async function getFunction(lambda: LambdaClient, name: string): Promise<{ configuration: FunctionConfiguration; tags: Record<string, string>; imageUri?: string | undefined } | undefined> {
  try {
    const out = await lambda.send(new GetFunctionCommand({ FunctionName: name }));
    return { configuration: out.Configuration!, tags: out.Tags ?? {}, imageUri: out.Code?.ImageUri };
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

/** The code to deploy: a zip (in the call, or in S3), or an image by digest. */
export type FunctionCode = { path: string; sha256: string } | { bucket: string; key: string; sha256: string } | { imageUri: string };

/**
 * Create or update the function. Waits for it to be Active / its last update Successful before
 * every next call; skips the code update when the deployed code (CodeSha256, or the image URI by
 * digest) already matches. A function's package type cannot change in place: that is refused.
 */
export async function ensureFunction(
  lambda: LambdaClient,
  o: { want: DesiredConfiguration; arch: 'x86_64' | 'arm64'; code: FunctionCode; tags: Record<string, string>; retry: RetryOptions },
): Promise<{ created: boolean; codeUpdated: boolean; configUpdated: boolean }> {
  const name = o.want.FunctionName;
  const packageType = 'imageUri' in o.code ? 'Image' : 'Zip';
  const existing = await getFunction(lambda, name);
  if (!existing) {
    const Code = await codeOf(o.code);
    await withRetry(() => lambda.send(new CreateFunctionCommand({ ...o.want, Code, Architectures: [o.arch], PackageType: packageType, Tags: o.tags, Publish: false })), o.retry);
    await waitUntilFunctionActiveV2({ client: lambda, ...WAIT }, { FunctionName: name });
    return { created: true, codeUpdated: true, configUpdated: true };
  }
  const current = existing.configuration;
  if ((current.PackageType ?? 'Zip') !== packageType) {
    throw new MlserveError('PROVIDER_CONFIG', `function ${name} is deployed as ${current.PackageType === 'Image' ? 'an Image' : 'a Zip'} package; this package is ${packageType === 'Image' ? 'a container image' : 'a zip'}, and Lambda cannot change a function's package type`, {
      hint: `run \`mlserve destroy --provider aws\` and deploy again, or set runtime.package to ${packageType === 'Image' ? 'zip' : 'image'}`,
    });
  }
  await waitUntilFunctionUpdatedV2({ client: lambda, ...WAIT }, { FunctionName: name });
  let codeUpdated = false;
  let configUpdated = false;
  if (!sameCode(existing, o.code) || (current.Architectures?.[0] ?? 'x86_64') !== o.arch) {
    const code = await codeOf(o.code);
    await withRetry(() => lambda.send(new UpdateFunctionCodeCommand({ FunctionName: name, ...code, Architectures: [o.arch], Publish: false })), o.retry);
    await waitUntilFunctionUpdatedV2({ client: lambda, ...WAIT }, { FunctionName: name });
    codeUpdated = true;
  }
  if (configDiffers(current, o.want)) {
    await withRetry(() => lambda.send(new UpdateFunctionConfigurationCommand(o.want)), o.retry);
    await waitUntilFunctionUpdatedV2({ client: lambda, ...WAIT }, { FunctionName: name });
    configUpdated = true;
  }
  return { created: false, codeUpdated, configUpdated };
}

async function codeOf(code: FunctionCode): Promise<{ ZipFile: Uint8Array } | { S3Bucket: string; S3Key: string } | { ImageUri: string }> {
  if ('imageUri' in code) return { ImageUri: code.imageUri };
  return 'path' in code ? { ZipFile: await readFile(code.path) } : { S3Bucket: code.bucket, S3Key: code.key };
}

function sameCode(existing: { configuration: FunctionConfiguration; imageUri?: string | undefined }, code: FunctionCode): boolean {
  return 'imageUri' in code ? existing.imageUri === code.imageUri : existing.configuration.CodeSha256 === codeSha256(code.sha256);
}

/** Published versions (not $LATEST), oldest first. */
export async function listVersions(lambda: LambdaClient, name: string): Promise<FunctionConfiguration[]> {
  const out: FunctionConfiguration[] = [];
  let marker: string | undefined;
  do {
    const page = await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: name, ...(marker ? { Marker: marker } : {}) }));
    out.push(...(page.Versions ?? []).filter((v) => v.Version !== '$LATEST'));
    marker = page.NextMarker;
  } while (marker);
  return out.sort((a, b) => Number(a.Version) - Number(b.Version));
}

/**
 * Publish an immutable version described with the bundle and model SHA-256. Lambda returns the
 * existing version when nothing changed since the last publish: then `published` is false.
 */
export async function publishVersion(
  lambda: LambdaClient,
  name: string,
  o: { bundleSha256: string; modelSha256: string; retry: RetryOptions },
): Promise<{ version: string; published: boolean }> {
  const before = await listVersions(lambda, name);
  const out = await withRetry(
    () => lambda.send(new PublishVersionCommand({ FunctionName: name, CodeSha256: codeSha256(o.bundleSha256), Description: versionDescription(o.bundleSha256, o.modelSha256) })),
    o.retry,
  );
  return { version: out.Version!, published: !before.some((v) => v.Version === out.Version) };
}

export function parseVersionDescription(description: string | undefined): { bundleSha256: string; modelSha256: string } {
  const m = /bundle=([0-9a-f]{64}) model=([0-9a-f]{64})/.exec(description ?? '');
  return { bundleSha256: m?.[1] ?? '', modelSha256: m?.[2] ?? '' };
}

/** The alias's routing plus the rollback history mlserve keeps in its description. */
export type StoredAlias = AliasRecord & { exists: boolean };

export async function readAlias(lambda: LambdaClient, name: string, alias: string): Promise<StoredAlias> {
  try {
    const out = await lambda.send(new GetAliasCommand({ FunctionName: name, Name: alias }));
    const weights = Object.entries(out.RoutingConfig?.AdditionalVersionWeights ?? {});
    let history: string[] = [];
    try {
      history = (JSON.parse(out.Description ?? '{}') as { history?: string[] }).history ?? [];
    } catch {
      history = [];
    }
    const record: StoredAlias = { version: out.FunctionVersion!, history, exists: true };
    if (weights.length) record.canary = { version: weights[0]![0], weight: weights[0]![1] };
    return record;
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') return { version: null, history: [], exists: false };
    throw error;
  }
}

/** Write the alias: full switch (canary undefined) or weighted; history kept in the description. */
export async function writeAlias(lambda: LambdaClient, name: string, alias: string, record: AliasRecord, exists: boolean, retry: RetryOptions): Promise<void> {
  if (record.version === null) throw new Error('an alias needs a version');
  const Description = JSON.stringify({ mlserve: 1, history: record.history.slice(-20) });
  const RoutingConfig = { AdditionalVersionWeights: record.canary ? { [record.canary.version]: record.canary.weight } : {} };
  const input = { FunctionName: name, Name: alias, FunctionVersion: record.version, Description, RoutingConfig };
  await withRetry(() => (exists ? lambda.send(new UpdateAliasCommand(input)) : lambda.send(new CreateAliasCommand(input))), retry);
}

/** The Function URL on the alias, as planned: AWS_IAM unless the config asks for public (then a resource policy). */
export async function ensureFunctionUrl(lambda: LambdaClient, name: string, alias: string, plan: UrlPlan, retry: RetryOptions): Promise<string> {
  const input = { FunctionName: name, Qualifier: alias, AuthType: plan.authType, ...(plan.cors ? { Cors: plan.cors } : {}) };
  let url: string;
  try {
    url = (await withRetry(() => lambda.send(new CreateFunctionUrlConfigCommand(input)), retry)).FunctionUrl!;
  } catch (error) {
    if ((error as { name?: string }).name !== 'ResourceConflictException') throw error;
    url = (await withRetry(() => lambda.send(new UpdateFunctionUrlConfigCommand(input)), retry)).FunctionUrl!;
  }
  const statement = { FunctionName: name, Qualifier: alias, StatementId: plan.publicStatementId ?? PUBLIC_URL_STATEMENT };
  if (plan.authType === 'NONE') {
    try {
      await lambda.send(new AddPermissionCommand({ ...statement, Action: 'lambda:InvokeFunctionUrl', Principal: '*', FunctionUrlAuthType: 'NONE' }));
    } catch (error) {
      if ((error as { name?: string }).name !== 'ResourceConflictException') throw error;
    }
  } else {
    try {
      await lambda.send(new RemovePermissionCommand(statement));
    } catch (error) {
      // Only "there was no public statement" is fine; anything else would leave the URL public.
      if ((error as { name?: string }).name !== 'ResourceNotFoundException') throw error;
    }
  }
  return url;
}
