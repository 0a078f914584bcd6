import { setFlagsFromString } from 'node:v8';
import { MlserveError } from '../../core/errors.js';
import type { CommandBody } from '../context.js';
import { loadFor, providerContext, providerFlagOptions } from '../provider-context.js';

export const serveCommand: CommandBody = {
  description:
    'Serve the stage’s deployed version on 127.0.0.1: warm Python workers running the bundle’s own Lambda handler, each answering the connections the server hands it. Every request becomes a Function URL event; POST /2015-03-31/functions/<name>/invocations is Lambda’s Invoke API. Workers follow resources.timeout and resources.memory as Lambda would. --target aws serves the exact bundle AWS would get, when this machine can run it.',
  options: [
    { flags: '-p, --port <port>', description: 'port (default: local.port, 8080; 0 picks a free one)' },
    { flags: '--version <n>', description: 'serve this version instead of following the stage alias' },
    ...providerFlagOptions,
  ],
  examples: [
    { command: 'mlserve serve', description: 'http://127.0.0.1:8080' },
    { command: 'mlserve serve --port 0 --json', description: 'a free port, announced as JSON' },
    { command: 'mlserve serve --target aws', description: 'the exact Lambda bundle, on this machine' },
    { command: 'aws lambda invoke --endpoint-url http://127.0.0.1:8080 --function-name iris --payload file://event.json out.json', description: 'the Invoke API' },
  ],
  async run(ctx, _args, raw) {
    // A long-running server: V8 doubles its young generation under load, up to 16 MB a semi-space,
    // 10-25 MB more RSS here for no throughput the bench could measure. Kept at its start size, so
    // set before anything allocates much (reading a changed config does). --max-semi-space-size
    // would be read only when the heap is made; the growth factor is read at each growth. Newer V8
    // (13) clamps the factor to 2, where it would do nothing, and an unknown flag prints an error:
    // so only before that.
    if (Number(process.versions.v8.split('.')[0]) <= 12) setFlagsFromString('--semi-space-growth-factor=1');
    const loaded = await loadFor(ctx);
    const port = raw.port === undefined ? loaded.config.local.port : Number(raw.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new MlserveError('USAGE', `--port ${String(raw.port)}: expected 0–65535`, { hint: 'e.g. --port 8080' });
    const pinned = raw.version === undefined ? undefined : Number(raw.version);
    if (pinned !== undefined && !(Number.isInteger(pinned) && pinned > 0)) throw new MlserveError('USAGE', `--version ${String(raw.version)}: expected a version number`, { hint: 'run `mlserve versions`' });
    const { serveModel } = await import('../../core/actions/serve.js');
    // The terminal gets every worker line but the per-request metric records (those are `mlserve logs`' business).
    const onLog = (line: string, source: string) => {
      if (ctx.options.debug || !line.startsWith('{"_aws"')) ctx.reporter.info(ctx.errStyle.dim(`[${source}] ${line}`));
    };
    const { handle, target } = await serveModel({ ...providerContext(ctx, loaded, raw), port, ...(pinned !== undefined ? { version: pinned } : {}), onLog, ...(ctx.options.debug ? { onAccess: (line: string) => ctx.reporter.debug(line) } : {}) });
    try {
      const info = { url: handle.url, stage: loaded.stage, version: pinned === undefined ? null : String(pinned), target, initMs: handle.initMs };
      ctx.io.stdout.write(ctx.options.json ? `${JSON.stringify({ ok: true, ...info })}\n` : `${handle.url}\n`);
      ctx.reporter.info(`Serving ${loaded.config.name} (stage ${loaded.stage}${pinned === undefined ? ', following the alias' : `, version ${pinned}`}) — Ctrl-C to stop`);
      await new Promise<void>((resolve) => {
        if (!ctx.io.signal) return; // without a signal, serve until the process ends
        if (ctx.io.signal.aborted) return resolve();
        ctx.io.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      ctx.reporter.info('Stopping…');
      return { data: info, printed: true, exitCode: 130 };
    } finally {
      await handle.stop();
    }
  },
};
