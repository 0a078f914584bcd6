import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A real AWS API on 127.0.0.1: moto_server on a free port, stopped by its PID. */
export interface Moto {
  url: string;
  env: Record<string, string>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export async function startMoto(): Promise<Moto> {
  const port = await freePort();
  const exe = process.env.MOTO_SERVER ?? 'moto_server';
  const child: ChildProcess = spawn(exe, ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited (${child.exitCode}); is it on PATH? set MOTO_SERVER to its path`);
    try {
      if ((await fetch(`${url}/moto-api/`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() - started > 30_000) throw new Error('moto_server did not start in 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  // moto would run function code in Docker; without it Invoke echoes the payload.
  const configure = () => fetch(`${url}/moto-api/config`, { method: 'POST', body: JSON.stringify({ lambda: { use_docker: false } }) });
  await configure();
  return {
    url,
    env: { AWS_ENDPOINT_URL: url, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1' },
    reset: async () => {
      await fetch(`${url}/moto-api/reset`, { method: 'POST' });
      await configure();
    },
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
