import { buildInvokeRequest, checkInvokeResult, type InvokeFlags } from '../../core/actions/invoke.js';
import { MlserveError } from '../../core/errors.js';
import type { CommandBody } from '../context.js';
import type { ProviderId } from '../../core/config/schema.js';
import { platformOf } from '../../providers/registry.js';
import { loadFor, providerContext, providerFlagOptions, providerOption } from '../provider-context.js';

export const invokeCommand: CommandBody = {
  description:
    'Send an HTTP request (--data, --data-file or stdin, with --path and --method) or a raw event (--event, e.g. an S3 or SQS event from a file) to the stage’s alias (or --version) and print the response body. A function error, a timeout, a non-2xx status or a failed --expect-* assertion exits 1. On the local provider it uses a running `mlserve serve`, else a one-shot worker.',
  options: [
    providerOption,
    ...providerFlagOptions,
    { flags: '-d, --data <json>', description: 'request body (JSON)' },
    { flags: '--data-file <path>', description: 'request body from a file (- for stdin)' },
    { flags: '--event <file>', description: 'send this raw event as it is (- for stdin)' },
    { flags: '--path <path>', description: 'HTTP path (default /)' },
    { flags: '-X, --method <method>', description: 'HTTP method (default POST with a body, else GET)' },
    { flags: '--version <n>', description: 'invoke this version instead of the stage alias' },
    { flags: '--expect-status <n>', description: 'fail unless the HTTP status is n' },
    { flags: '--expect-json <json>', description: 'fail unless the response contains this JSON (a subset)' },
  ],
  examples: [
    { command: `mlserve invoke --data '{"instances": [[5.1, 3.5, 1.4, 0.2]]}'`, description: 'a prediction' },
    { command: 'mlserve invoke --path /v2/health/ready', description: 'a GET route' },
    { command: 'mlserve invoke --event s3-put.json', description: 'a raw event' },
    { command: `mlserve invoke --data-file rows.json --expect-json '{"predictions": [0]}'`, description: 'a CI gate' },
  ],
  async run(ctx, _args, raw) {
    const flags = raw as InvokeFlags & { expectStatus?: string; expectJson?: string };
    const expectStatus = flags.expectStatus === undefined ? undefined : Number(flags.expectStatus);
    if (expectStatus !== undefined && !Number.isInteger(expectStatus)) throw new MlserveError('USAGE', `--expect-status ${flags.expectStatus}: expected an HTTP status code`, { hint: 'e.g. --expect-status 200' });
    let expectJson: unknown;
    if (flags.expectJson !== undefined) {
      try {
        expectJson = JSON.parse(flags.expectJson);
      } catch {
        throw new MlserveError('USAGE', `--expect-json is not valid JSON: ${flags.expectJson}`, { hint: `e.g. --expect-json '{"predictions": [0]}'` });
      }
    }
    const loaded = await loadFor(ctx);
    const id = (raw.provider as ProviderId | undefined) ?? loaded.config.provider;
    const request = await buildInvokeRequest(flags, ctx.io.cwd, ctx.io.stdin, platformOf(id).maxPayloadBytes);
    const { invokeModel } = await import('../../core/actions/invoke-model.js');
    const result = await invokeModel({ ...providerContext(ctx, loaded, raw), provider: id, request });
    if (result.logTail) ctx.reporter.debug(`log tail:\n${result.logTail.trimEnd()}`);
    checkInvokeResult(result, { ...(expectStatus !== undefined ? { status: expectStatus } : {}), ...(expectJson !== undefined ? { json: expectJson } : {}) });
    return {
      data: { provider: id, version: result.version, status: result.status ?? null, body: result.body },
      text: typeof result.body === 'string' ? result.body : JSON.stringify(result.body),
    };
  },
};
