import { randomUUID } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { MlserveError } from '../../core/errors.js';
import { functionUrlEvent, httpResponseOf } from '../http-event.js';
import { localPlatform } from './platform.js';
import type { LocalRuntime } from './runtime.js';
import type { Outcome } from './worker-pool.js';

/** Lambda's synchronous payload limit, enforced before anything reaches a worker. */
export const MAX_PAYLOAD = localPlatform.maxPayloadBytes;
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/;

export interface Server {
  url: string;
  close(): Promise<void>;
}

/**
 * The local endpoint: every request becomes a Function URL event for the bundle's own handler, and
 * POST /2015-03-31/functions/<name>/invocations is Lambda's Invoke API (as the Runtime Interface
 * Emulator serves it), so `aws lambda invoke --endpoint-url` and the AWS SDK work against it.
 * With `direct`, each connection goes to the workers of the version taking the stage's traffic,
 * which answer Function URL requests themselves (direct.ts); this server takes whatever they give
 * back, and every connection while none is warm.
 */
export async function startServer(
  runtime: LocalRuntime,
  options: { host: string; port: number; appName: string; direct?: { logFile: string }; onAccess?: (line: string) => void },
): Promise<Server> {
  const http = createServer((req, res) => {
    // A client that goes away mid-request resets the socket: nothing to answer, nothing to crash.
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    handle(runtime, options, req, res).catch((error: unknown) => {
      const message = error instanceof MlserveError ? error.message : 'internal error in the local server';
      const status = error instanceof MlserveError && error.code === 'NOT_DEPLOYED' ? 404 : 500;
      if (!res.headersSent) send(res, status, { error: { code: error instanceof MlserveError ? error.code : 'SERVER_ERROR', message } });
    });
  });
  const toServer = (socket: Socket): void => {
    http.emit('connection', socket);
    socket.resume();
  };
  if (options.direct) runtime.serveDirectly({ toServer, answer: answerLost }, options.direct.logFile);
  const sockets = new Set<Socket>();
  const server = createNetServer({ pauseOnConnect: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined); // a client gone: nothing to answer
    if (!options.direct || !runtime.adopt(socket)) toServer(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' ? new MlserveError('USAGE', `port ${options.port} on ${options.host} is in use`, { hint: 'pass --port <n> (or set local.port), or stop what is using it' }) : e),
    );
    server.listen(options.port, options.host, resolve);
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${address.port}`,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

interface ServerOptions {
  appName: string;
  onAccess?: (line: string) => void;
}

async function handle(runtime: LocalRuntime, options: ServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = Date.now();
  const body = await readBody(req);
  const path = (req.url ?? '/').split('?')[0]!;
  const invoke = req.method === 'POST' ? INVOKE_PATH.exec(path) : null;
  if (body === undefined) {
    if (invoke) sendAws(res, 413, 'RequestTooLargeException', `request payload exceeds ${MAX_PAYLOAD} bytes (Lambda's synchronous limit)`);
    else send(res, 413, { error: { code: 'PAYLOAD_TOO_LARGE', message: `request body exceeds ${MAX_PAYLOAD} bytes (6 MB, Lambda's synchronous payload limit)` } });
  } else if (invoke) await invokeApi(runtime, options, req, res, decodeURIComponent(invoke[1]!), body);
  else await functionUrl(runtime, req, res, body);
  options.onAccess?.(`${req.method} ${req.url} ${res.statusCode} ${Date.now() - started}ms`);
}

/** Any other request: a Function URL event for the alias's version, its answer as the HTTP response. */
async function functionUrl(runtime: LocalRuntime, req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
  const requestId = randomUUID();
  const event = functionUrlEvent({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body, sourceIp: req.socket.remoteAddress ?? '127.0.0.1' }, requestId);
  const { outcome, version } = await runtime.invoke(event, undefined, requestId);
  const headers = { 'x-mlserve-version': String(version.version), 'x-amzn-requestid': requestId };
  if (outcome.kind === 'ok') {
    const http = httpResponseOf(outcome.result);
    res.writeHead(http.status, { ...http.headers, ...headers });
    res.end(http.body);
    return;
  }
  const [status, code, message] = failure(outcome);
  send(res, status, { error: { code, message, request_id: requestId } }, headers);
}

/** POST /2015-03-31/functions/<name>/invocations: Lambda's Invoke API, as the Runtime Interface Emulator serves it. */
async function invokeApi(runtime: LocalRuntime, options: ServerOptions, req: IncomingMessage, res: ServerResponse, fn: string, body: Buffer): Promise<void> {
  const [name, qualifierInName] = fn.replace(/^arn:aws[a-z-]*:lambda:[^:]+:\d+:function:/, '').split(':');
  const url = new URL(req.url ?? '/', 'http://localhost');
  const qualifier = qualifierInName ?? url.searchParams.get('Qualifier') ?? undefined;
  if (name !== options.appName && name !== runtime.functionName) {
    return sendAws(res, 404, 'ResourceNotFoundException', `Function not found: ${fn} (this server runs ${runtime.functionName})`);
  }
  let event: unknown;
  try {
    event = body.length ? JSON.parse(body.toString('utf8')) : {};
  } catch {
    return sendAws(res, 400, 'InvalidRequestContentException', 'Could not parse request body into json');
  }
  const type = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
  const version = await runtime.resolve(qualifier);
  if (type === 'DryRun' || type === 'Event') {
    if (type === 'Event') void runtime.invoke(event, String(version.version));
    res.writeHead(type === 'Event' ? 202 : 204, { 'x-amz-executed-version': String(version.version) });
    return void res.end();
  }
  const requestId = randomUUID();
  const { outcome } = await runtime.invoke(event, String(version.version), requestId);
  if (outcome.kind === 'throttled') return sendAws(res, 429, 'TooManyRequestsException', 'Rate Exceeded.');
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-amz-executed-version': String(version.version), 'x-amzn-requestid': requestId };
  if (String(req.headers['x-amz-log-type'] ?? '').toLowerCase() === 'tail') {
    const logs = Buffer.from(outcome.logs);
    headers['x-amz-log-result'] = logs.subarray(Math.max(0, logs.length - 4096)).toString('base64');
  }
  if (outcome.kind !== 'ok') headers['x-amz-function-error'] = 'Unhandled';
  res.writeHead(200, headers);
  res.end(JSON.stringify(outcome.kind === 'ok' ? (outcome.result ?? null) : lambdaError(outcome, requestId)));
}

function timeoutSeconds(outcome: Extract<Outcome, { kind: 'timeout' }>): string {
  return (outcome.timeoutMs / 1000).toFixed(2);
}

/** The request a worker was running when it died or was stopped, answered on the server's copy of its connection. */
function answerLost(socket: Socket, outcome: Exclude<Outcome, { kind: 'ok' | 'throttled' }>, requestId: string, version: string): void {
  const [status, code, message] = failure(outcome);
  const body = JSON.stringify({ error: { code, message, request_id: requestId } });
  const head = [`HTTP/1.1 ${status} ${STATUS_CODES[status]}`, 'content-type: application/json', `content-length: ${Buffer.byteLength(body)}`, `x-mlserve-version: ${version}`, `x-amzn-requestid: ${requestId}`, `date: ${new Date().toUTCString()}`, 'connection: close'];
  socket.write(`${head.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy());
}

/** HTTP status, error code and message for a failed invocation on the Function URL path. */
export function failure(outcome: Exclude<Outcome, { kind: 'ok' }>): [number, string, string] {
  switch (outcome.kind) {
    case 'throttled':
      return [429, 'TOO_MANY_REQUESTS', 'every worker is busy and the queue is full (resources.concurrency); retry later'];
    case 'timeout':
      return [504, 'TIMEOUT', `the function did not answer within ${timeoutSeconds(outcome)} s (resources.timeout); the worker was stopped and will be replaced`];
    case 'memory':
      return [502, 'MEMORY_LIMIT_EXCEEDED', `the worker used ${outcome.rssMb} MB, over resources.memory; it was stopped and will be replaced`];
    case 'crash':
      return [502, 'WORKER_CRASHED', `the worker exited (${outcome.detail}) during the request; it will be replaced`];
    case 'init_error':
      return [502, 'INIT_ERROR', `the bundle failed to start: ${outcome.error.errorType}: ${outcome.error.errorMessage}`];
    case 'error':
      return [502, 'FUNCTION_ERROR', `${outcome.error.errorType}: ${outcome.error.errorMessage}`];
  }
}

/** The body Lambda's Invoke returns with X-Amz-Function-Error. */
export function lambdaError(outcome: Exclude<Outcome, { kind: 'ok' | 'throttled' }>, requestId: string): Record<string, unknown> {
  switch (outcome.kind) {
    case 'error':
    case 'init_error':
      return { errorMessage: outcome.error.errorMessage, errorType: outcome.error.errorType, stackTrace: outcome.error.stackTrace ?? [] };
    case 'timeout':
      return { errorMessage: `${requestId} Task timed out after ${timeoutSeconds(outcome)} seconds`, errorType: 'Sandbox.Timedout' };
    case 'memory':
      return { errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: signal: killed (memory ${outcome.rssMb} MB over the limit)`, errorType: 'Runtime.OutOfMemory' };
    case 'crash':
      return { errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: ${outcome.detail}`, errorType: 'Runtime.ExitError' };
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function sendAws(res: ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type });
  res.end(JSON.stringify({ Type: 'User', message }));
}

/** The body, or undefined when it is over the payload limit. */
async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_PAYLOAD) tooLarge = true;
    else chunks.push(chunk);
  }
  return tooLarge ? undefined : Buffer.concat(chunks);
}
