import { FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DeleteFunctionCommand, InvokeCommand, TagResourceCommand } from '@aws-sdk/client-lambda';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { MlserveError } from '../../core/errors.js';
import { fmt } from '../../packaging/plan.js';
import type { PackagedBundle } from '../../packaging/packaged.js';
import { aliasesOf, forget, promote, prunable, rollback, switchTo, toState, type AliasRecord } from '../alias.js';
import { functionUrlEvent } from '../http-event.js';
import { functionErrorOf, invokeResultOf, parseBody } from '../invoke-result.js';
import type { AliasState, DeployResult, ExportOptions, ExportResult, InvokeRequest, InvokeResult, Provider, ProviderContext, StatusReport, TuneSample, VersionInfo } from '../provider.js';
import { bucketExists, ensureBucket, uploadIfChanged } from './bucket.js';
import { awsError, createClients, type AwsClients } from './clients.js';
import { applyConcurrency } from './concurrency.js';
import { destroyAll } from './destroy.js';
import { desiredConfiguration, ensureFunction, type FunctionCode, ensureFunctionUrl, getFunction, listVersions, parseVersionDescription, publishVersion, readAlias, writeAlias } from './function.js';
import { ensureLogGroup } from './log-group.js';
import { ensureMonitoring } from './monitoring.js';
import { awsNames, type AwsNames } from './names.js';
import { withRetry, type RetryOptions } from './retry.js';
import { ensureRepository, registryTarget } from './repository.js';
import { ensureRole } from './role.js';
import { awsPlan, codeKeyOf, exportCodeKeyOf, TOKENS, type AwsPlan, type BucketPlan } from './plan.js';
import { resolveAwsSettings } from './settings.js';
import { ensureTriggers } from './triggers.js';

/** A text progress bar for the spinner line (off a terminal, progress is a --debug line at each 5 %). */
function bar(ratio: number): string {
  const filled = Math.round(Math.min(1, ratio) * 20);
  return `${'█'.repeat(filled)}${'░'.repeat(20 - filled)}`;
}

/** Steps of a deploy, in order; each is idempotent, so a deploy killed after any of them converges when run again. */
export const DEPLOY_STEPS = ['identity', 'bucket', 'upload', 'image', 'role', 'log-group', 'function', 'version', 'alias', 'url', 'triggers', 'alarms'] as const;
export type DeployStep = (typeof DEPLOY_STEPS)[number];

export interface AwsProviderOptions {
  /** Tests add SDK middleware here to inject failures a real server cannot produce. */
  configureClients?: (clients: AwsClients) => void;
  retry?: RetryOptions;
}

interface Deployment {
  bundle: PackagedBundle;
  plan: AwsPlan;
  codeKey: string;
  /** An image package: its URI by digest in the stage's repository, once pushed. */
  imageUri?: string;
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

  /** SDK clients for the region and profile resolved the one way doctor resolves them too. */
  async clients(): Promise<AwsClients> {
    if (!this.clientsCache) {
      const flags = this.ctx.flags ?? {};
      const settings = await resolveAwsSettings({
        env: this.ctx.env,
        config: this.ctx.loaded.config,
        flags: { ...(typeof flags.region === 'string' ? { region: flags.region } : {}), ...(typeof flags.profile === 'string' ? { profile: flags.profile } : {}) },
      });
      this.clientsCache = createClients(settings, this.ctx.env);
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

  private async names(): Promise<{ names: AwsNames; account: string }> {
    if (!this.namesCache) {
      const c = await this.clients();
      const out = await this.call('sts:GetCallerIdentity', () => c.sts.send(new GetCallerIdentityCommand({})));
      const { config, stage } = this.ctx.loaded;
      this.namesCache = { names: awsNames(config.name, stage, out.Account!, c.region, config.tags), account: out.Account! };
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
  private async step<T>(id: DeployStep, title: string, fn: (progress: (detail: string) => void) => Promise<T>): Promise<T> {
    const result = await this.ctx.reporter.step(title, (progress) => this.call(id, () => fn(progress)));
    if (this.ctx.env.MLSERVE_FAULT_AFTER_STEP === id) process.kill(process.pid, 'SIGKILL');
    return result;
  }

  async deploy(bundle: PackagedBundle, options: { promote: boolean }): Promise<DeployResult> {
    const { config, stage } = this.ctx.loaded;
    const c = await this.clients();
    const { names, account } = await this.step('identity', 'Checking the AWS identity', () => this.names());
    const bucket = config.aws.bucket ?? names.bucket;
    const plan = awsPlan(config, bundle, { account, region: c.region, partition: c.partition, bucket, stage });
    const d: Deployment = { bundle, plan, codeKey: codeKeyOf(plan.names, bundle.sha256) };
    await this.step('bucket', `Artifacts bucket ${bucket}`, () => this.ensureArtifactsBucket(plan.bucket));
    const uploaded = await this.step('upload', 'Uploading artifacts', (progress) => this.upload(d, progress));
    if (bundle.image) d.imageUri = await this.step('image', `Pushing the image to ECR ${names.repository}`, (progress) => this.pushImage(d, uploaded, progress));
    const role = await this.step('role', 'Execution role (least privilege)', async () => plan.roleArn ?? (await ensureRole(c.iam, plan.role!)).arn);
    await this.step('log-group', `Log group ${names.logGroup}`, () => ensureLogGroup(c.logs, plan.logGroup));
    const fn = await this.step('function', `Function ${names.function}`, () => this.ensureFunction(d, role));
    const { version, published } = await this.step('version', 'Publishing a version', () =>
      publishVersion(c.lambda, names.function, { bundleSha256: bundle.sha256, modelSha256: bundle.modelSha256, retry: this.retry }),
    );
    const notes: string[] = [];
    const alias = await this.step('alias', `Alias ${names.alias}`, () => this.pointAlias(names, version, options.promote, notes));
    const url = await this.step('url', 'Function URL', () => ensureFunctionUrl(c.lambda, names.function, names.alias, plan.url, this.retry));
    if (plan.url.authType === 'NONE') notes.push('endpoint.public is true: anyone with the URL can call it (auth NONE)');
    const triggers = await this.step('triggers', 'Triggers', () => ensureTriggers(c, names, plan.triggers, `${fn.arn}:${names.alias}`));
    if (triggers.length) notes.push(`triggers: ${triggers.join(', ')}`);
    notes.push(await this.step('alarms', 'Alarms and dashboard', () => ensureMonitoring(c.cloudwatch, plan.monitoring, names)));
    return { version, published, alias: toState(names.alias, alias), endpoint: url, uploaded, concurrency: fn.concurrency, notes };
  }

  private async ensureArtifactsBucket(plan: BucketPlan): Promise<void> {
    const c = await this.clients();
    if (plan.create) await ensureBucket(c.s3, plan, c.region);
    else if (!(await bucketExists(c.s3, plan.name))) {
      throw new MlserveError('PROVIDER_CONFIG', `aws.bucket ${plan.name} does not exist or is not visible to this identity`, { hint: 'create it, fix the name, or remove aws.bucket to let mlserve create a private one' });
    }
  }

  /** Offloaded artifacts and (over 50 MB zipped) the code, each skipped when S3 already has its SHA-256. */
  private async upload(d: Deployment, progress: (detail: string) => void, code = d.bundle.upload === 'object-storage'): Promise<string[]> {
    const c = await this.clients();
    const keys: string[] = [];
    const files = [...d.bundle.offload.map((a) => ({ key: a.key, file: a.abs, sha256: a.sha256, label: a.path }))];
    if (code) files.push({ key: d.codeKey, file: d.bundle.path, sha256: d.bundle.sha256, label: 'bundle' });
    for (const f of files) {
      const onProgress = (loaded: number, total: number) => progress(`${f.label}: ${fmt(loaded)} of ${fmt(total)}`);
      if (await uploadIfChanged(c.s3, { bucket: d.plan.bucket.name, key: f.key, file: f.file, sha256: f.sha256, onProgress })) keys.push(f.key);
    }
    return keys;
  }

  /**
   * The stage's ECR repository (created when missing), then the image pushed with ECR's token: blobs
   * the repository has are skipped. Returns the image's URI by digest, which the function runs.
   */
  private async pushImage(d: Deployment, uploaded: string[], progress: (detail: string) => void): Promise<string> {
    const c = await this.clients();
    const image = d.bundle.image!;
    const { names } = d.plan;
    const repo = await ensureRepository(c.ecr, names.repository, names.tags);
    const target = await registryTarget(c.ecr, names.repository, this.ctx.env);
    const { readLayout } = await import('../../packaging/image/oci.js');
    const { pushImage } = await import('../../packaging/image/registry.js');
    const built = await readLayout(image.layout, image.tag);
    // Immutable tags: one per image (the stage and the digest), so a tag never moves.
    const tag = `${names.alias}-${image.digest.slice('sha256:'.length, 'sha256:'.length + 16)}`;
    const pushed = await pushImage(target, built, tag, (p) => progress(`blob ${p.index + 1}/${p.count} ${p.state === 'skipped' ? 'already there' : `${bar(p.bytes / p.total)} ${fmt(p.bytes)} of ${fmt(p.total)}`}`));
    uploaded.push(...pushed.uploaded.map((blob) => `${names.repository}@${blob}`));
    return `${repo.uri}@${pushed.digest}`;
  }

  private async ensureFunction(d: Deployment, role: string): Promise<{ arn: string; concurrency: string }> {
    const c = await this.clients();
    const fn = d.plan.function;
    const code: FunctionCode = d.imageUri
      ? { imageUri: d.imageUri }
      : d.bundle.upload === 'object-storage'
        ? { bucket: d.plan.bucket.name, key: d.codeKey, sha256: d.bundle.sha256 }
        : { path: d.bundle.path, sha256: d.bundle.sha256 };
    await ensureFunction(c.lambda, { want: desiredConfiguration(fn, role), arch: fn.architecture, code, tags: fn.tags, retry: this.retry });
    const arn = (await getFunction(c.lambda, fn.name))!.configuration.FunctionArn!;
    await c.lambda.send(new TagResourceCommand({ Resource: arn, Tags: fn.tags }));
    const concurrency = await applyConcurrency(c.lambda, fn.name, fn.reservedConcurrency, this.retry);
    return { arn, concurrency };
  }

  private async pointAlias(names: AwsNames, version: string, promoteIt: boolean, notes: string[]): Promise<AliasRecord> {
    const c = await this.clients();
    const current = await readAlias(c.lambda, names.function, names.alias);
    if (!current.exists) await writeAlias(c.lambda, names.function, names.alias, { version, history: [] }, false, this.retry);
    else if (promoteIt && current.version !== version) await writeAlias(c.lambda, names.function, names.alias, switchTo(current, version), true, this.retry);
    else if (!promoteIt && current.version !== version) notes.push(`the ${names.alias} alias still points at version ${current.version}: run \`mlserve promote ${version} --provider aws\``);
    return readAlias(c.lambda, names.function, names.alias);
  }

  /**
   * The deployment as CloudFormation, SAM or Terraform, from the plan `deploy` applies. Uploading
   * puts the code and offloaded artifacts in the artifacts bucket first (creating mlserve's private
   * one when aws.bucket is not set, as deploy does) and pushes an image to the stage's repository;
   * Terraform uploads a zip and artifacts itself, but no IaC tool pushes an image.
   */
  async export(bundle: PackagedBundle, options: ExportOptions): Promise<ExportResult> {
    const { config, stage } = this.ctx.loaded;
    const format = options.format as Exclude<ExportOptions['format'], 'bicep'>;
    const image = bundle.packageType === 'image';
    const uploading = options.upload && (image || format !== 'terraform');
    const pushed: { uploaded: string[]; bucket?: string | undefined; imageUri?: string } = uploading ? await this.uploadForExport(bundle, format) : { uploaded: [], bucket: config.aws.bucket };
    const plan = awsPlan(config, bundle, { account: TOKENS.account, region: TOKENS.region, partition: TOKENS.partition, bucket: TOKENS.bucket, stage });
    const { writeExport } = await import('./export/index.js');
    const written = await this.ctx.reporter.step(`Writing ${format} to ${options.out}`, () =>
      writeExport({
        plan, bundle, app: config.name, stage, format, out: options.out, beside: !uploading,
        ...(pushed.bucket ? { bucketDefault: pushed.bucket } : {}),
        ...(pushed.imageUri ? { imageUri: pushed.imageUri } : {}),
      }),
    );
    return { format, ...written, uploaded: pushed.uploaded, ...(pushed.bucket ? { bucket: pushed.bucket } : {}) };
  }

  /**
   * Export's uploads: the bucket as deploy makes it with the code (a zip) and artifacts, except for
   * Terraform, which creates the bucket and uploads them itself; and an image, pushed.
   */
  private async uploadForExport(bundle: PackagedBundle, format: ExportOptions['format']): Promise<{ uploaded: string[]; bucket?: string | undefined; imageUri?: string }> {
    const { config, stage } = this.ctx.loaded;
    const c = await this.clients();
    const { names, account } = await this.step('identity', 'Checking the AWS identity', () => this.names());
    const plan = awsPlan(config, bundle, { account, region: c.region, partition: c.partition, bucket: config.aws.bucket ?? names.bucket, stage });
    const d: Deployment = { bundle, plan, codeKey: exportCodeKeyOf(names, bundle.sha256) };
    const uploaded: string[] = [];
    if (format !== 'terraform') {
      await this.step('bucket', `Artifacts bucket ${plan.bucket.name}`, () => this.ensureArtifactsBucket(plan.bucket));
      uploaded.push(...(await this.step('upload', 'Uploading the code and artifacts', (progress) => this.upload(d, progress, !bundle.image))));
    }
    const imageUri = bundle.image ? await this.step('image', `Pushing the image to ECR ${names.repository}`, (progress) => this.pushImage(d, uploaded, progress)) : undefined;
    return { uploaded, bucket: format === 'terraform' ? config.aws.bucket : plan.bucket.name, ...(imageUri ? { imageUri } : {}) };
  }

  /** The stage's version at `memoryMb`, as a temporary version of the function (deleted after). */
  async measure(memoryMb: number, o: { requests: number; request: { method: string; path: string; body: string } }): Promise<TuneSample> {
    const { names } = await this.names();
    const c = await this.clients();
    const alias = await this.aliasState();
    if (!alias.version) throw new MlserveError('NOT_DEPLOYED', `nothing is deployed to stage ${names.alias} on aws`, { hint: 'run `mlserve deploy --provider aws` first: tune measures the deployed function' });
    const { measureAws } = await import('./tune.js');
    return this.call('lambda:Invoke', () => measureAws(c.lambda, { name: names.function, aliasVersion: alias.version!, memoryMb, ...o, retry: this.retry }));
  }

  /** The stage's versions over the range, from CloudWatch (metrics, REPORT lines). */
  async status(range: { since: number; until: number }): Promise<StatusReport> {
    const { names } = await this.names();
    const c = await this.clients();
    const alias = await this.aliasState();
    const { awsStatus } = await import('./status.js');
    return this.call('cloudwatch:GetMetricData', () => awsStatus(c, names, alias, this.ctx.loaded.config, range));
  }

  /** Where the stage's alias points (no version listing). */
  private async aliasState(): Promise<AliasState> {
    const { names } = await this.names();
    const c = await this.clients();
    return toState(names.alias, await this.call('lambda:GetAlias', () => readAlias(c.lambda, names.function, names.alias)));
  }

  async versions(): Promise<{ versions: VersionInfo[]; alias: AliasState }> {
    const { names } = await this.names();
    const c = await this.clients();
    return this.call('lambda:ListVersionsByFunction', async () => {
      if (!(await getFunction(c.lambda, names.function))) return { versions: [], alias: { alias: names.alias, version: null } };
      const alias = await readAlias(c.lambda, names.function, names.alias);
      const versions = (await listVersions(c.lambda, names.function)).map(
        (v): VersionInfo => ({ version: v.Version!, created: v.LastModified ?? '', ...parseVersionDescription(v.Description), aliases: aliasesOf(alias, names.alias, v.Version!) }),
      );
      return { versions, alias: toState(names.alias, alias) };
    });
  }

  async promote(version: string | undefined, options: { weight?: number; finish?: boolean }): Promise<AliasState> {
    const c = await this.clients();
    return this.updateAlias(async (alias, names) => {
      if (!options.finish) {
        const versions = (await listVersions(c.lambda, names.function)).map((v) => v.Version!);
        if (!version || !versions.includes(version)) throw new MlserveError('USAGE', `version ${version ?? '(none)'} does not exist on stage ${names.alias}`, { hint: `versions: ${versions.join(', ') || 'none'}` });
      }
      return promote(alias, names.alias, { ...(version ? { version } : {}), ...options });
    });
  }

  /** Read the stage alias, change it with `change`, write it back; the new state is returned. */
  private async updateAlias(change: (alias: AliasRecord, names: AwsNames) => Promise<AliasRecord> | AliasRecord): Promise<AliasState> {
    const { names } = await this.names();
    const c = await this.clients();
    return this.call('lambda:UpdateAlias', async () => {
      const alias = await readAlias(c.lambda, names.function, names.alias);
      if (!alias.exists) throw new MlserveError('NOT_DEPLOYED', `nothing is deployed to stage ${names.alias} on aws`, { hint: 'run `mlserve deploy --provider aws` first' });
      await writeAlias(c.lambda, names.function, names.alias, await change(alias, names), true, this.retry);
      return toState(names.alias, await readAlias(c.lambda, names.function, names.alias));
    });
  }

  async prune(keep: number, options: { dryRun: boolean }): Promise<{ deleted: string[]; kept: string[] }> {
    const { names } = await this.names();
    const c = await this.clients();
    const { versions, alias } = await this.versions();
    const deleted = prunable(versions.map((v) => v.version), keep, alias);
    if (!options.dryRun) {
      for (const v of deleted) {
        await this.call('lambda:DeleteFunction', () => withRetry(() => c.lambda.send(new DeleteFunctionCommand({ FunctionName: names.function, Qualifier: v })), this.retry));
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
    const c = await this.clients();
    const event = request.kind === 'event' ? request.event : functionUrlEvent({ method: request.method, url: request.path, headers: { 'content-type': 'application/json', ...request.headers }, body: Buffer.from(request.body ?? '') });
    const out = await this.call('lambda:Invoke', () =>
      c.lambda.send(new InvokeCommand({ FunctionName: names.function, Qualifier: request.qualifier ?? names.alias, Payload: Buffer.from(JSON.stringify(event)), LogType: 'Tail' })),
    );
    const payload = parseBody(Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8'));
    return invokeResultOf(request, payload, {
      version: out.ExecutedVersion ?? request.qualifier ?? names.alias,
      ...(out.LogResult ? { logTail: Buffer.from(out.LogResult, 'base64').toString('utf8') } : {}),
      ...(out.FunctionError ? { functionError: functionErrorOf(payload, out.FunctionError) } : {}),
    });
  }

  async destroy(options: { dryRun: boolean }): Promise<{ removed: string[] }> {
    const { names } = await this.names();
    const removed = await this.call('destroy', async () => destroyAll(await this.clients(), names, this.ctx.loaded, { dryRun: options.dryRun, retry: this.retry }));
    return { removed };
  }

  /** Log events since `since` (epoch ms), oldest first; `follow` polls until the signal aborts. */
  async logs(since: number, follow: boolean, print: (e: { time: string; stream: string; message: string }) => void): Promise<void> {
    const { names } = await this.names();
    const c = await this.clients();
    let start = since;
    const seen = new Set<string>();
    for (;;) {
      let token: string | undefined;
      do {
        const page = await this.call('logs:FilterLogEvents', () => c.logs.send(new FilterLogEventsCommand({ logGroupName: names.logGroup, startTime: start, ...(token ? { nextToken: token } : {}) })));
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

