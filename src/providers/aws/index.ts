import { CreateLogGroupCommand, DeleteLogGroupCommand, DescribeLogGroupsCommand, FilterLogEventsCommand, PutRetentionPolicyCommand, TagResourceCommand as TagLogGroupCommand } from '@aws-sdk/client-cloudwatch-logs';
import { GetRoleCommand, ListRoleTagsCommand } from '@aws-sdk/client-iam';
import { DeleteFunctionCommand, InvokeCommand, PutFunctionConcurrencyCommand, TagResourceCommand } from '@aws-sdk/client-lambda';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { PackageResult } from '../../core/actions/package.js';
import { MlserveError } from '../../core/errors.js';
import { functionUrlEvent, httpResponseOf } from '../http-event.js';
import { aliasesOf, forget, promote, prunable, rollback, switchTo, toState } from '../alias.js';
import type { AliasState, DeployResult, InvokeRequest, InvokeResult, Provider, ProviderContext, VersionInfo } from '../provider.js';
import { bucketExists, bucketTags, deleteBucket, deleteObjects, ensureBucket, uploadIfChanged } from './bucket.js';
import { awsError, createClients, type AwsClients } from './clients.js';
import { desiredConfiguration, ensureFunction, ensureFunctionUrl, getFunction, listVersions, parseVersionDescription, publishVersion, readAlias, writeAlias } from './function.js';
import { awsNames, type AwsNames } from './names.js';
import type { AliasRecord } from '../alias.js';
import { withRetry, type RetryOptions } from './retry.js';
import { deleteRole, ensureRole, executionPolicy } from './role.js';
import { ensureTriggers, removeTriggers } from './triggers.js';

/** Steps of a deploy, in order; each is idempotent, so a deploy killed after any of them converges when run again. */
export const DEPLOY_STEPS = ['identity', 'bucket', 'upload', 'role', 'log-group', 'function', 'version', 'alias', 'url', 'triggers'] as const;
export type DeployStep = (typeof DEPLOY_STEPS)[number];

export interface AwsProviderOptions {
  /** Tests add SDK middleware here to inject failures a real server cannot produce. */
  configureClients?: (clients: AwsClients) => void;
  retry?: RetryOptions;
}

/** AWS Lambda: function + immutable versions + a stage alias with a Function URL, artifacts in S3. */
export class AwsProvider implements Provider {
  readonly id = 'aws' as const;
  private clientsCache: AwsClients | undefined;
  private namesCache: { names: AwsNames; account: string } | undefined;

  constructor(
    private readonly ctx: ProviderContext,
    private readonly options: AwsProviderOptions = {},
  ) {}

  get clients(): AwsClients {
    if (!this.clientsCache) {
      const { aws } = this.ctx.loaded.config;
      this.clientsCache = createClients({ env: this.ctx.env, ...(aws.region ? { region: aws.region } : {}), ...(aws.profile ? { profile: aws.profile } : {}) });
      this.options.configureClients?.(this.clientsCache);
    }
    return this.clientsCache;
  }

  private get retry(): RetryOptions {
    return {
      ...(this.ctx.signal ? { signal: this.ctx.signal } : {}),
      onRetry: (e, attempt, delay) => this.ctx.reporter.debug(`${e.name}: retrying in ${Math.round(delay)} ms (attempt ${attempt})`),
      ...this.options.retry,
    };
  }

  async identity(): Promise<{ account: string; arn: string }> {
    const out = await this.call('sts:GetCallerIdentity', () => this.clients.sts.send(new GetCallerIdentityCommand({})));
    return { account: out.Account!, arn: out.Arn! };
  }

  private async names(): Promise<{ names: AwsNames; account: string }> {
    if (!this.namesCache) {
      const { account } = await this.identity();
      const { config, stage } = this.ctx.loaded;
      this.namesCache = { names: awsNames(config.name, stage, account, this.clients.region, config.tags), account };
    }
    return this.namesCache;
  }

  private async call<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw awsError(action, error);
    }
  }

  /** A deploy step: reported, errors named, and (for the interruption tests) a fault point after it. */
  private async step<T>(id: DeployStep, title: string, fn: () => Promise<T>): Promise<T> {
    const result = await this.ctx.reporter.step(title, () => this.call(id, fn));
    if (this.ctx.env.MLSERVE_FAULT_AFTER_STEP === id) process.kill(process.pid, 'SIGKILL');
    return result;
  }

  async deploy(bundle: PackageResult, options: { promote: boolean }): Promise<DeployResult> {
    if (!bundle.bundle.path || !bundle.bundle.sha256) throw new MlserveError('USAGE', 'deploy needs a written bundle', { hint: 'run without --dry-run' });
    const { config } = this.ctx.loaded;
    const { names, account } = await this.step('identity', 'Checking the AWS identity', () => this.names());
    const region = this.clients.region;
    const ownBucket = !config.aws.bucket;
    const bucket = config.aws.bucket ?? names.bucket;
    await this.step('bucket', `Artifacts bucket ${bucket}`, async () => {
      if (ownBucket) await ensureBucket(this.clients.s3, bucket, region, names.tags, names.prefix);
      else if (!(await bucketExists(this.clients.s3, bucket))) {
        throw new MlserveError('PROVIDER_CONFIG', `aws.bucket ${bucket} does not exist or is not visible to this identity`, { hint: 'create it, fix the name, or remove aws.bucket to let mlserve create a private one' });
      }
    });
    const codeKey = `${names.prefix}/code/${bundle.bundle.sha256}.zip`;
    const uploaded = await this.step('upload', 'Uploading artifacts', async () => {
      const keys: string[] = [];
      for (const a of bundle.offload) {
        if (await uploadIfChanged(this.clients.s3, { bucket, key: a.key, file: this.offloadPath(a.path), sha256: a.sha256, onProgress: (f) => this.ctx.reporter.debug(`${a.path}: ${Math.round(f * 100)}%`) })) keys.push(a.key);
      }
      if (bundle.upload === 's3' && (await uploadIfChanged(this.clients.s3, { bucket, key: codeKey, file: bundle.bundle.path!, sha256: bundle.bundle.sha256! }))) keys.push(codeKey);
      return keys;
    });
    const role = await this.step('role', 'Execution role (least privilege)', async () =>
      config.aws.role ?? (await ensureRole(this.clients.iam, names, executionPolicy(names, account, region, config))).arn,
    );
    await this.step('log-group', `Log group ${names.logGroup}`, () => this.ensureLogGroup(names));
    const want = desiredConfiguration(config, names, role, bundle.ephemeralStorageMb, { MLSERVE_ARTIFACTS_BUCKET: bucket, MLSERVE_STAGE: this.ctx.loaded.stage });
    const tags = { ...names.tags, 'mlserve:bucket': bucket, 'mlserve:owns-bucket': String(ownBucket), 'mlserve:owns-role': String(!config.aws.role) };
    const fn = await this.step('function', `Function ${names.function}`, async () => {
      const zip = bundle.upload === 's3' ? { bucket, key: codeKey, sha256: bundle.bundle.sha256! } : { path: bundle.bundle.path!, sha256: bundle.bundle.sha256! };
      const result = await ensureFunction(this.clients.lambda, { want, arch: config.runtime.arch, zip, tags, retry: this.retry });
      const arn = (await getFunction(this.clients.lambda, names.function))!.configuration.FunctionArn!;
      await this.clients.lambda.send(new TagResourceCommand({ Resource: arn, Tags: tags }));
      await withRetry(() => this.clients.lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: names.function, ReservedConcurrentExecutions: config.resources.concurrency })), this.retry).catch((e: Error) =>
        this.ctx.reporter.warn(`reserved concurrency ${config.resources.concurrency} not set: ${e.message}`),
      );
      return { ...result, arn };
    });
    const { version, published } = await this.step('version', 'Publishing a version', () =>
      publishVersion(this.clients.lambda, names.function, { bundleSha256: bundle.bundle.sha256!, modelSha256: bundle.modelSha256, retry: this.retry }),
    );
    const notes: string[] = [];
    const alias = await this.step('alias', `Alias ${names.alias}`, async () => {
      const current = await readAlias(this.clients.lambda, names.function, names.alias);
      if (!current.exists) await writeAlias(this.clients.lambda, names.function, names.alias, { version, history: [] }, false, this.retry);
      else if (options.promote && current.version !== version) await writeAlias(this.clients.lambda, names.function, names.alias, switchTo(current, version), true, this.retry);
      else if (!options.promote && current.version !== version) notes.push(`the ${names.alias} alias still points at version ${current.version}: run \`mlserve promote ${version} --provider aws\``);
      return readAlias(this.clients.lambda, names.function, names.alias);
    });
    const url = await this.step('url', 'Function URL', () => ensureFunctionUrl(this.clients.lambda, names.function, names.alias, config, this.retry));
    if (config.endpoint.public) notes.push('endpoint.public is true: anyone with the URL can call it (auth NONE)');
    const triggers = await this.step('triggers', 'Triggers', () => ensureTriggers(this.clients, names, config, `${fn.arn}:${names.alias}`, account));
    if (triggers.length) notes.push(`triggers: ${triggers.join(', ')}`);
    return { version, published, alias: toState(names.alias, alias), endpoint: url, uploaded, notes };
  }

  private offloadPath(rel: string): string {
    return `${this.ctx.loaded.modelDir}/${rel}`;
  }

  private async ensureLogGroup(names: AwsNames): Promise<void> {
    const logs = this.clients.logs;
    try {
      await logs.send(new CreateLogGroupCommand({ logGroupName: names.logGroup, tags: names.tags }));
    } catch (error) {
      if ((error as { name?: string }).name !== 'ResourceAlreadyExistsException') throw error;
      const arn = (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: names.logGroup }))).logGroups?.find((g) => g.logGroupName === names.logGroup)?.arn;
      if (arn) await logs.send(new TagLogGroupCommand({ resourceArn: arn.replace(/:\*$/, ''), tags: names.tags })).catch(() => undefined);
    }
    await logs.send(new PutRetentionPolicyCommand({ logGroupName: names.logGroup, retentionInDays: 30 }));
  }

  async versions(): Promise<{ versions: VersionInfo[]; alias: AliasState }> {
    const { names } = await this.names();
    return this.call('lambda:ListVersionsByFunction', async () => {
      if (!(await getFunction(this.clients.lambda, names.function))) return { versions: [], alias: { alias: names.alias, version: null } };
      const alias = await readAlias(this.clients.lambda, names.function, names.alias);
      const versions = (await listVersions(this.clients.lambda, names.function)).map(
        (v): VersionInfo => ({ version: v.Version!, created: v.LastModified ?? '', ...parseVersionDescription(v.Description), aliases: aliasesOf(alias, names.alias, v.Version!) }),
      );
      return { versions, alias: toState(names.alias, alias) };
    });
  }

  async promote(version: string | undefined, options: { weight?: number; finish?: boolean }): Promise<AliasState> {
    return this.updateAlias(async (alias, names) => {
      if (!options.finish) {
        const versions = (await listVersions(this.clients.lambda, names.function)).map((v) => v.Version!);
        if (!version || !versions.includes(version)) throw new MlserveError('USAGE', `version ${version ?? '(none)'} does not exist on stage ${names.alias}`, { hint: `versions: ${versions.join(', ') || 'none'}` });
      }
      return promote(alias, names.alias, { ...(version ? { version } : {}), ...options });
    });
  }

  /** Read the stage alias, change it with `change`, write it back; the new state is returned. */
  private async updateAlias(change: (alias: AliasRecord, names: AwsNames) => Promise<AliasRecord> | AliasRecord): Promise<AliasState> {
    const { names } = await this.names();
    return this.call('lambda:UpdateAlias', async () => {
      const alias = await readAlias(this.clients.lambda, names.function, names.alias);
      if (!alias.exists) throw new MlserveError('NOT_DEPLOYED', `nothing is deployed to stage ${names.alias} on aws`, { hint: 'run `mlserve deploy --provider aws` first' });
      await writeAlias(this.clients.lambda, names.function, names.alias, await change(alias, names), true, this.retry);
      return toState(names.alias, await readAlias(this.clients.lambda, names.function, names.alias));
    });
  }

  async prune(keep: number, options: { dryRun: boolean }): Promise<{ deleted: string[]; kept: string[] }> {
    const { names } = await this.names();
    const { versions, alias } = await this.versions();
    const deleted = prunable(versions.map((v) => v.version), keep, alias);
    if (!options.dryRun) {
      for (const v of deleted) {
        await this.call('lambda:DeleteFunction', () => withRetry(() => this.clients.lambda.send(new DeleteFunctionCommand({ FunctionName: names.function, Qualifier: v })), this.retry));
      }
      if (deleted.length) await this.updateAlias((alias) => forget(alias, deleted));
    }
    return { deleted, kept: versions.map((v) => v.version).filter((v) => !deleted.includes(v)) };
  }

  async rollback(): Promise<AliasState> {
    return this.updateAlias((alias, names) => rollback(alias, names.alias));
  }

  async invoke(request: InvokeRequest): Promise<InvokeResult> {
    const { names } = await this.names();
    const event = request.kind === 'event' ? request.event : functionUrlEvent({ method: request.method, url: request.path, headers: { 'content-type': 'application/json', ...request.headers }, body: Buffer.from(request.body ?? '') });
    const out = await this.call('lambda:Invoke', () =>
      this.clients.lambda.send(new InvokeCommand({ FunctionName: names.function, Qualifier: request.qualifier ?? names.alias, Payload: Buffer.from(JSON.stringify(event)), LogType: 'Tail' })),
    );
    const text = Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8');
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    const result: InvokeResult = { body, version: out.ExecutedVersion ?? request.qualifier ?? names.alias };
    if (out.LogResult) result.logTail = Buffer.from(out.LogResult, 'base64').toString('utf8');
    if (out.FunctionError) {
      const e = body as { errorType?: string; errorMessage?: string };
      result.functionError = { type: e?.errorType ?? out.FunctionError, message: e?.errorMessage ?? text.slice(0, 500) };
      return result;
    }
    if (request.kind === 'http') {
      const http = httpResponseOf(body);
      result.status = http.status;
      const raw = http.body.toString('utf8');
      try {
        result.body = JSON.parse(raw);
      } catch {
        result.body = raw;
      }
    } else {
      const code = (body as { statusCode?: unknown } | null)?.statusCode;
      if (typeof code === 'number') result.status = code;
    }
    return result;
  }

  async destroy(options: { dryRun: boolean }): Promise<{ removed: string[] }> {
    const { names } = await this.names();
    const { config } = this.ctx.loaded;
    const removed: string[] = [];
    const dry = options.dryRun;
    const mine = (tags: Record<string, string>) => tags['mlserve:app'] === names.tags['mlserve:app'] && tags['mlserve:stage'] === names.tags['mlserve:stage'];
    await this.call('destroy', async () => {
      const fn = await getFunction(this.clients.lambda, names.function);
      let bucket = config.aws.bucket ?? names.bucket;
      let ownsBucket = !config.aws.bucket;
      let ownsRole = !config.aws.role;
      if (fn) {
        if (!mine(fn.tags)) {
          throw new MlserveError('NOT_OWNED', `function ${names.function} exists but is not tagged mlserve:app=${config.name}, mlserve:stage=${this.ctx.loaded.stage}`, { hint: 'mlserve only removes what it created; delete it by hand if it is yours' });
        }
        bucket = fn.tags['mlserve:bucket'] ?? bucket;
        ownsBucket = fn.tags['mlserve:owns-bucket'] !== 'false';
        ownsRole = fn.tags['mlserve:owns-role'] !== 'false';
        removed.push(...(await removeTriggers(this.clients, names, config, fn.configuration.FunctionArn!, dry)));
        if (!dry) await withRetry(() => this.clients.lambda.send(new DeleteFunctionCommand({ FunctionName: names.function })), this.retry);
        removed.push(`function ${names.function} (all versions, the ${names.alias} alias and its URL)`);
      }
      const group = (await this.clients.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: names.logGroup }))).logGroups?.find((g) => g.logGroupName === names.logGroup);
      if (group) {
        if (!dry) await this.clients.logs.send(new DeleteLogGroupCommand({ logGroupName: names.logGroup }));
        removed.push(`log group ${names.logGroup}`);
      }
      if (ownsRole) {
        const role = await this.clients.iam.send(new GetRoleCommand({ RoleName: names.role })).catch(() => undefined);
        if (role) {
          const tags = Object.fromEntries(((await this.clients.iam.send(new ListRoleTagsCommand({ RoleName: names.role }))).Tags ?? []).map((t) => [t.Key!, t.Value!]));
          if (mine(tags)) {
            if (!dry) await deleteRole(this.clients.iam, names.role);
            removed.push(`role ${names.role}`);
          }
        }
      }
      if (await bucketExists(this.clients.s3, bucket)) {
        const tags = await bucketTags(this.clients.s3, bucket);
        if (ownsBucket && mine(tags) && tags['mlserve:created'] === 'true') {
          if (!dry) await deleteBucket(this.clients.s3, bucket);
          removed.push(`bucket ${bucket} and its objects`);
        } else {
          const n = dry ? 0 : await deleteObjects(this.clients.s3, bucket, `${names.prefix}/`);
          removed.push(`objects under s3://${bucket}/${names.prefix}/${dry ? '' : ` (${n})`}`);
        }
      }
    });
    return { removed };
  }

  /** Log events since `since` (epoch ms), oldest first; `follow` polls until the signal aborts. */
  async logs(since: number, follow: boolean, print: (e: { time: string; stream: string; message: string }) => void): Promise<void> {
    const { names } = await this.names();
    let start = since;
    const seen = new Set<string>();
    for (;;) {
      let token: string | undefined;
      do {
        const page = await this.call('logs:FilterLogEvents', () => this.clients.logs.send(new FilterLogEventsCommand({ logGroupName: names.logGroup, startTime: start, ...(token ? { nextToken: token } : {}) })));
        for (const e of page.events ?? []) {
          if (seen.has(e.eventId!)) continue;
          seen.add(e.eventId!);
          start = Math.max(start, e.timestamp ?? start);
          print({ time: new Date(e.timestamp ?? 0).toISOString(), stream: e.logStreamName ?? '', message: (e.message ?? '').trimEnd() });
        }
        token = page.nextToken;
      } while (token);
      if (!follow || this.ctx.signal?.aborted || !this.ctx.signal) return;
      await new Promise((r) => setTimeout(r, 2000));
      if (this.ctx.signal.aborted) return;
    }
  }
}
