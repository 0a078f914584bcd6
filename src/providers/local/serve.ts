import { MlserveError } from '../../core/errors.js';
import type { ServeHandle, ServeOptions } from '../provider.js';
import type { LocalProvider } from './index.js';
import { LocalRuntime } from './runtime.js';
import { startServer } from './server.js';

/**
 * Serve the stage (or a pinned version) on 127.0.0.1: warm workers running the bundle's own handler
 * behind the HTTP server, registered so `invoke` finds it. Every worker log line goes to the stage's
 * log file and to `onLog`.
 */
export async function serveStage(provider: LocalProvider, o: ServeOptions): Promise<ServeHandle> {
  const { loaded } = provider.context;
  const running = await provider.runningServe();
  if (running) throw new MlserveError('USAGE', `stage ${loaded.stage} is already served by pid ${running.pid} at ${running.url}`, { hint: 'use that one, or stop it first' });
  const runtime = new LocalRuntime(provider.store, loaded.config, loaded.stage, provider.context.env, (line, version, pid) => {
    provider.appendLog(line, version, pid);
    o.onLog?.(line, `v${version} ${pid}`);
  }, o.version);
  let listening: ReturnType<typeof startServer> | undefined;
  let registered: Promise<() => Promise<void>> | undefined;
  try {
    const version = await runtime.resolve();
    // The server listens, and is registered, while the workers start (a request meanwhile waits
    // for one); it is announced once they are ready.
    // Workers answer requests themselves (direct.ts) but under --debug, where every request's access
    // line is the server's; and not on Windows, where a socket cannot be handed to a Python process.
    const direct = !o.onAccess && process.platform !== 'win32' ? { direct: { logFile: provider.logFile } } : {};
    listening = startServer(runtime, { host: '127.0.0.1', port: o.port, appName: loaded.config.name, ...direct, ...(o.onAccess ? { onAccess: o.onAccess } : {}) });
    registered = listening.then((server) => provider.registerServe({ pid: process.pid, url: server.url, started: new Date().toISOString() }));
    const [warm, server, unregister] = await Promise.all([provider.context.reporter.step(`Starting ${runtime.poolSize} worker${runtime.poolSize > 1 ? 's' : ''} for version ${version.version}`, () => runtime.pool(version).prewarm()), listening, registered]);
    if (!warm.ok) {
      throw new MlserveError('FUNCTION_ERROR', `version ${version.version} failed to start: ${warm.error.errorType}: ${warm.error.errorMessage}`, { hint: 'fix the model or handler, deploy again; `mlserve logs` has the traceback' });
    }
    return {
      url: server.url,
      version: String(version.version),
      initMs: warm.initMs,
      stop: async () => {
        await server.close();
        await unregister();
        await runtime.close();
        await provider.closeLog();
      },
    };
  } catch (error) {
    await registered?.then((unregister) => unregister(), () => undefined); // it may have failed first: the error below says why
    await listening?.then((server) => server.close(), () => undefined);
    await runtime.close();
    await provider.closeLog();
    throw error;
  }
}
