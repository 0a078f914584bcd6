import { resolve } from 'node:path';
import type { CommandBody } from '../context.js';
import { loadFor, providerContext, providerFlagOptions, providerOption } from '../provider-context.js';
import { EXPORT_FORMATS, type ExportFormat, type ProviderId } from '../../core/config/ids.js';
import { MlserveError } from '../../core/errors.js';

export const exportCommand: CommandBody = {
  description:
    'Package the bundle as deploy does and write the deployment as infrastructure as code (CloudFormation, SAM or Terraform) from the same plan `deploy` applies: the role, log group, function, this bundle’s version, the stage alias, its URL and the triggers. Uploads the code and offloaded artifacts to the artifacts bucket first (CloudFormation, SAM), or with --no-upload writes them beside the template under the keys to upload. The same inputs write the same bytes.',
  options: [
    { flags: '--format <format>', description: 'cloudformation, sam or terraform (AWS); bicep is not written yet', choices: EXPORT_FORMATS },
    providerOption,
    ...providerFlagOptions,
    { flags: '--out <dir>', description: 'where to write (default: infrastructure/<provider>/<format>/<stage> beside the config)' },
    { flags: '--no-upload', description: 'upload nothing: write the code and artifacts beside the template (artifacts/<key>) for someone else to upload' },
    { flags: '--no-preflight', description: 'skip running the bundle before it is exported (not recommended)' },
  ],
  examples: [
    { command: 'mlserve export --format cloudformation --provider aws', description: 'upload the bundle, write template.yaml' },
    { command: 'mlserve export --format sam --provider aws --no-upload --out infra/', description: 'no AWS calls: the template and the files to upload' },
    { command: 'mlserve export --format terraform --provider aws --stage prod', description: 'main.tf; Terraform uploads the bundle itself' },
  ],
  async run(ctx, _args, raw) {
    if (typeof raw.format !== 'string') throw new MlserveError('USAGE', 'export needs --format', { hint: `one of: ${EXPORT_FORMATS.join(', ')}` });
    const loaded = await loadFor(ctx);
    const id = (raw.provider as ProviderId | undefined) ?? loaded.config.provider;
    const { exportModel } = await import('../../core/actions/export.js');
    const outcome = await exportModel({
      ...providerContext(ctx, loaded, raw),
      provider: id,
      format: raw.format as ExportFormat,
      ...(typeof raw.out === 'string' ? { out: resolve(ctx.io.cwd, raw.out) } : {}),
      upload: raw.upload !== false,
      preflight: raw.preflight !== false,
    });
    for (const w of outcome.report.warnings) ctx.reporter.warn(w);
    const result = outcome.export;
    if (result.uploaded.length) ctx.reporter.info(`Uploaded ${result.uploaded.length} object(s) to s3://${result.bucket}`);
    for (const note of result.notes) ctx.reporter.info(note);
    return {
      data: { provider: id, stage: loaded.stage, out: outcome.out, ...result, bundle: outcome.report.bundle, preflight: outcome.preflight },
      text: result.files.map((f) => `${outcome.out}/${f}`).join('\n'),
    };
  },
};
