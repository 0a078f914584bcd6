import { constants } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { statIfExists, writeFileAtomic } from '../../../core/fs.js';
import type { ExportFormat } from '../../../core/config/ids.js';
import type { PackagedBundle } from '../../../packaging/packaged.js';
import type { ExportResult } from '../../provider.js';
import { exportCodeKeyOf, type AwsPlan } from '../plan.js';
import { artifactsTemplate, cloudFormationTemplate, samTemplate, versionLogicalId } from './cloudformation.js';
import { terraformFile } from './terraform.js';

export interface WriteExportOptions {
  /** The plan with account, region, partition and bucket as tokens. */
  plan: AwsPlan;
  bundle: PackagedBundle;
  app: string;
  stage: string;
  format: Exclude<ExportFormat, 'bicep'>;
  out: string;
  /** Write the code and artifacts beside the template (not uploaded, or Terraform uploads them). */
  beside: boolean;
  bucketDefault?: string;
  /** An image, pushed: its URI by digest. An image not pushed is written beside as an OCI layout. */
  imageUri?: string;
}

/** Where the code (a zip's) and each offloaded artifact go in the artifacts bucket. */
function exportObjects(plan: AwsPlan, bundle: PackagedBundle): { name: string; key: string; file: string; sha256: string }[] {
  return [
    ...(bundle.packageType === 'zip' ? [{ name: 'code', key: exportCodeKeyOf(plan.names, bundle.sha256), file: bundle.path, sha256: bundle.sha256 }] : []),
    ...bundle.offload.map((a, i) => ({ name: `artifact_${i}`, key: a.key, file: a.abs, sha256: a.sha256 })),
  ];
}

const RESOURCE_COMMENTS: Record<string, string> = {
  ExecutionRole: 'Least privilege: its own log group, its own artifacts, what its triggers need.',
  LogGroup: 'Created before the function, so Lambda never creates it without retention.',
  Function: 'The configuration `mlserve deploy` sets; the code is the target-built bundle in the artifacts bucket.',
  Alias: 'The stage: the URL and the triggers point at it; a stack update points it at this bundle’s version.',
  FunctionUrl: 'The HTTPS endpoint on the alias.',
  S3NotificationFunction: 'Edits the notifications of buckets this stack does not own (CloudFormation cannot).',
  AlarmErrorRate: 'Alarms on the stage, each in 3 of the last 5 minutes (monitoring in the config).',
  Dashboard: 'The stage at a glance: requests, errors, throttles, p50/p90/p99 against the target, cold starts, the alarms.',
};

/** YAML with a header and a comment above each resource; stable key order, no line folding. */
async function yamlText(template: Record<string, unknown>, header: string[], versionId?: string): Promise<string> {
  const { Document, isScalar, isMap } = await import('yaml');
  const doc = new Document(template, { aliasDuplicateObjects: false });
  doc.commentBefore = header.map((h) => ` ${h}`).join('\n');
  const resources = doc.get('Resources', true);
  if (isMap(resources)) {
    for (const pair of resources.items) {
      if (!isScalar(pair.key)) continue;
      const id = String(pair.key.value);
      const note = id === versionId ? 'This bundle’s version: its logical ID is the code’s SHA-256, so an update publishes a new version exactly when the code changed.' : RESOURCE_COMMENTS[id];
      if (note) pair.key.commentBefore = ` ${note}`;
      pair.key.spaceBefore = pair !== resources.items[0];
    }
  }
  return doc.toString({ lineWidth: 0 });
}

/**
 * Files beside the template at `<dir>/<key>`, copied (a copy-on-write clone where the file system
 * has them; never a hard link, which a later edit of the model file would change under its
 * SHA-256 key); a content-addressed file already there at its size is kept. Stale ones removed.
 */
async function placeBeside(out: string, objects: { key: string; file: string }[], dir: string): Promise<string[]> {
  const root = join(out, dir);
  await mkdir(root, { recursive: true });
  const wanted = new Set(objects.map((o) => join(root, o.key)));
  for (const o of objects) {
    const dest = join(root, o.key);
    const [have, want] = await Promise.all([statIfExists(dest), stat(o.file)]);
    if (have?.size === want.size && /(^|\/)[0-9a-f]{64}(\.zip)?$/.test(o.key)) continue;
    await mkdir(dirname(dest), { recursive: true });
    const tmp = `${dest}.tmp-${process.pid}`;
    await copyFile(o.file, tmp, constants.COPYFILE_FICLONE);
    await rename(tmp, dest);
  }
  for (const f of await readdir(root, { recursive: true, withFileTypes: true })) {
    const path = join(f.parentPath, f.name);
    if (f.isFile() && !wanted.has(path)) await rm(path);
  }
  return objects.map((o) => relative(out, join(root, o.key)).split(sep).join('/'));
}

function header(o: WriteExportOptions, deploy: string): string[] {
  return [
    `Written by \`mlserve export --format ${o.format}\` for ${o.app}, stage ${o.stage}: the plan \`mlserve deploy --provider aws\` applies.`,
    'Export again rather than editing: the same inputs give the same bytes.',
    `bundle sha256 ${o.bundle.sha256}`,
    `model  sha256 ${o.bundle.modelSha256}`,
    `Deploy: ${deploy}`,
  ];
}

/** An image not pushed: its OCI layout beside the template (`image/`), and the command that pushes it. */
async function imageBeside(o: WriteExportOptions): Promise<{ files: string[]; note: string }> {
  const image = o.bundle.image!;
  const files: string[] = [];
  for (const f of await readdir(image.layout, { recursive: true, withFileTypes: true })) {
    if (f.isFile()) files.push(relative(image.layout, join(f.parentPath, f.name)));
  }
  files.sort();
  const placed = await placeBeside(o.out, files.map((f) => ({ key: f, file: join(image.layout, f) })), 'image');
  const tag = `${o.plan.alias}-${image.digest.slice('sha256:'.length, 'sha256:'.length + 16)}`;
  return {
    files: placed,
    note: `push the image before deploying: skopeo copy oci:${join(o.out, 'image')}:${image.tag} docker://<account>.dkr.ecr.<region>.amazonaws.com/${o.plan.names.repository}:${tag}, then pass <repository URI>@${image.digest} as ImageUri`,
  };
}

/** Write the export's files; returns them (relative to `out`) and what is left to upload. */
export async function writeExport(o: WriteExportOptions): Promise<Pick<ExportResult, 'files' | 'toUpload' | 'notes'>> {
  const { plan, bundle } = o;
  const objects = exportObjects(plan, bundle);
  const input = { plan, bundle, ...(objects[0]?.name === 'code' ? { codeKey: objects[0].key } : {}), ...(o.bucketDefault ? { bucketDefault: o.bucketDefault } : {}), ...(o.imageUri ? { imageUri: o.imageUri } : {}) };
  const files: string[] = [];
  const notes: string[] = [];
  const write = async (name: string, text: string) => {
    await writeFileAtomic(join(o.out, name), text);
    files.push(name);
  };
  const beside = o.beside || o.format === 'terraform' ? await placeBeside(o.out, objects, 'artifacts') : [];
  if (bundle.image && !o.imageUri) {
    const image = await imageBeside(o);
    beside.push(...image.files);
    notes.push(image.note);
  }
  if (o.format === 'terraform') {
    const tfObjects = objects.map((x, i) => ({ name: x.name, key: x.key, source: beside[i]!, sha256: x.sha256 }));
    await write('main.tf', terraformFile({ ...input, app: o.app, stage: o.stage, objects: tfObjects }, header(o, 'terraform init && terraform apply (Terraform uploads artifacts/ itself)')));
    if (objects.length) notes.push('Terraform uploads the code and artifacts (artifacts/) itself: keep them beside main.tf');
    return { files: [...files, ...beside], toUpload: [], notes };
  }
  const stack = `${plan.function.name}`;
  const caps = o.format === 'sam' ? 'CAPABILITY_NAMED_IAM CAPABILITY_AUTO_EXPAND' : 'CAPABILITY_NAMED_IAM';
  const params = o.bucketDefault ? '' : ' --parameter-overrides ArtifactsBucket=<bucket>';
  const artifacts = artifactsTemplate(plan, o.app, o.stage);
  if (artifacts) {
    await write('artifacts.yaml', await yamlText(artifacts, [
      `Where ${o.app} (${o.stage}) keeps its code, when the platform team creates it rather than mlserve: deploy it once, upload, then deploy template.yaml.`,
      `Deploy: aws cloudformation deploy --template-file artifacts.yaml --stack-name ${stack}-artifacts`,
    ]));
  }
  const template = o.format === 'sam' ? samTemplate(input) : cloudFormationTemplate(input);
  await write('template.yaml', await yamlText(template, header(o, `aws cloudformation deploy --template-file template.yaml --stack-name ${stack} --capabilities ${caps}${params}`), versionLogicalId(bundle.sha256)));
  const toUpload = o.beside ? objects.map((x, i) => ({ key: x.key, file: beside[i]!, sha256: x.sha256 })) : [];
  if (toUpload.length) notes.push(`upload before deploying the stack: aws s3 sync ${join(o.out, 'artifacts')} s3://${o.bucketDefault ?? '<bucket>'}/ --sse AES256`);
  return { files: [...files, ...beside], toUpload, notes };
}
