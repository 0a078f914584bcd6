import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the function posted back for the one event it was given. */
export interface RuntimeAnswer {
  kind: 'response' | 'error' | 'init-error';
  body: unknown;
  /** What the process wrote to stderr until it answered (its logs). */
  stderr: string;
}

/**
 * Run an image's entrypoint (`argv`, in `cwd` with `env`) against a stand-in of the Lambda Runtime
 * API (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) on 127.0.0.1: it hands out
 * `event` once, takes the response or error, then the process is stopped by PID.
 */
export async function invokeThroughRuntimeApi(argv: string[], o: { cwd: string; env: Record<string, string>; event: unknown }): Promise<RuntimeAnswer> {
  let answer: (a: Omit<RuntimeAnswer, 'stderr'>) => void = () => undefined;
  const answered = new Promise<Omit<RuntimeAnswer, 'stderr'>>((resolve) => (answer = resolve));
  let handedOut = false;
  const server = createServer((req, res) => {
    void readBody(req).then((body) => {
      const url = req.url ?? '';
      if (req.method === 'GET' && url.endsWith('/runtime/invocation/next')) {
        if (handedOut) return; // a second /next waits: the test is over by then
        handedOut = true;
        res.writeHead(200, { 'content-type': 'application/json', 'lambda-runtime-aws-request-id': 'req-1', 'lambda-runtime-deadline-ms': String(Date.now() + 60_000), 'lambda-runtime-invoked-function-arn': 'arn:aws:lambda:us-east-1:123456789012:function:iris-dev' });
        res.end(JSON.stringify(o.event));
        return;
      }
      const kind = url.endsWith('/invocation/req-1/response') ? 'response' : url.endsWith('/invocation/req-1/error') ? 'error' : url.endsWith('/init/error') ? 'init-error' : undefined;
      res.writeHead(kind ? 202 : 404).end('{}');
      if (kind) answer({ kind, body: JSON.parse(body || 'null') as unknown });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const child = spawn(argv[0]!, argv.slice(1), { cwd: o.cwd, env: { ...o.env, AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}` }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`the entrypoint exited (${code}) before answering: ${stderr}`))));
  try {
    return { ...(await Promise.race([answered, exited])), stderr };
  } finally {
    child.kill('SIGKILL');
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
