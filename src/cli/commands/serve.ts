import { MlserveError } from '../../core/errors.js';
import type { CommandSpec } from '../context.js';
import { openProvider } from '../provider-context.js';

export const serveCommand: CommandSpec = {
  name: 'serve',
  summary: 'run the local endpoint in the foreground (Ctrl-C stops it)',
  description:
    'Serve the stage’s deployed version on 127.0.0.1: an HTTP server in front of warm Python workers running the bundle’s own Lambda handler. Every request becomes a Function URL event; POST /2015-03-31/functions/<name>/invocations is Lambda’s Invoke API. Workers follow resources.concurrency, resources.timeout and resources.memory as Lambda would.',
  options: [
    { flags: '-p, --port <port>', description: 'port (default: local.port, 8080; 0 picks a free one)' },
    { flags: '--version <n>', description: 'serve this version instead of following the stage alias' },
  ],
  examples: [
    { command: 'mlserve serve', description: 'http://127.0.0.1:8080' },
    { command: 'mlserve serve --port 0 --json', description: 'a free port, announced as JSON' },
    { command: 'aws lambda invoke --endpoint-url http://127.0.0.1:8080 --function-name iris --payload file://event.json out.json', description: 'the Invoke API' },
  ],
  async run(ctx, _args, raw) {
    const [{ LocalProvider }, { LocalRuntime }, { startServer }] = await Promise.all([
      import('../../providers/local/index.js'),
      import('../../providers/local/runtime.js'),
      import('../../providers/local/server.js'),
    ]);
    const { provider, loaded } = await openProvider(ctx, { provider: 'local' });
    if (!(provider instanceof LocalProvider)) throw new MlserveError('INTERNAL', 'serve needs the local provider');
    const port = raw.port === undefined ? loaded.config.local.port : Number(raw.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new MlserveError('USAGE', `--port ${String(raw.port)}: expected 0–65535`, { hint: 'e.g. --port 8080' });
    const pinned = raw.version === undefined ? undefined : Number(raw.version);
    const running = await provider.runningServe();
    if (running) throw new MlserveError('USAGE', `stage ${loaded.stage} is already served by pid ${running.pid} at ${running.url}`, { hint: 'use that one, or stop it first' });

    // Every line goes to the log file; the terminal gets all but the per-request metric lines
    // (those are `mlserve logs`' business, and echoing them halves throughput).
    const runtime = new LocalRuntime(provider.store, loaded.config, loaded.stage, ctx.io.env, (line, version, pid) => {
      provider.appendLog(line, version, pid);
      if (ctx.options.debug || !line.startsWith('{"_aws"')) ctx.reporter.info(ctx.style.dim(`[v${version} ${pid}] ${line}`));
    }, pinned);
    try {
      const version = await runtime.resolve();
      const warm = await ctx.reporter.step(`Starting a worker for version ${version.version}`, () => runtime.pool(version).prewarm());
      if (!warm.ok) {
        throw new MlserveError('FUNCTION_ERROR', `version ${version.version} failed to start: ${warm.error.errorType}: ${warm.error.errorMessage}`, { hint: 'fix the model or handler, deploy again; `mlserve logs` has the traceback' });
      }
      const server = await startServer(runtime, { host: '127.0.0.1', port, appName: loaded.config.name, onAccess: (line) => ctx.reporter.debug(line) });
      const unregister = await provider.registerServe({ pid: process.pid, url: server.url, started: new Date().toISOString() });
      const info = { url: server.url, stage: loaded.stage, version: pinned === undefined ? null : String(pinned), initMs: warm.initMs };
      ctx.io.stdout.write(ctx.options.json ? `${JSON.stringify({ ok: true, ...info })}\n` : `${server.url}\n`);
      ctx.reporter.info(`Serving ${loaded.config.name} (stage ${loaded.stage}${pinned === undefined ? ', following the alias' : `, version ${pinned}`}) — Ctrl-C to stop`);
      await new Promise<void>((resolve) => {
        if (!ctx.io.signal) return; // without a signal, serve until the process ends
        if (ctx.io.signal.aborted) return resolve();
        ctx.io.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      ctx.reporter.info('Stopping…');
      await server.close();
      await unregister();
      return { data: info, printed: true, exitCode: 130 };
    } finally {
      await runtime.close();
      await provider.closeLog();
    }
  },
};
