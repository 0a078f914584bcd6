import { freePort, startService } from './service.js';

/** A real AWS API on 127.0.0.1: moto_server on a free port, stopped by its PID. */
export interface Moto {
  url: string;
  env: Record<string, string>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export async function startMoto(): Promise<Moto> {
  const port = await freePort();
  const exe = process.env.MOTO_SERVER ?? 'moto_server';
  const url = `http://127.0.0.1:${port}`;
  const service = await startService({
    command: exe,
    args: ['-H', '127.0.0.1', '-p', String(port)],
    ready: async () => (await fetch(`${url}/moto-api/`)).ok,
    missing: 'is it on PATH? set MOTO_SERVER to its path',
  });
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
    stop: service.stop,
  };
}
