import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from './moto.js';
import { tempDir } from './python.js';

/** Azurite's well-known development account (published in Azurite's README; not a secret). */
export const DEV_ACCOUNT = 'devstoreaccount1';
export const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite {
  blobUrl: string;
  connectionString: string;
  stop(): Promise<void>;
}

/** Azurite's Blob service (npm) on 127.0.0.1 on a free port, data in a temp dir, stopped by PID. */
export async function startAzurite(): Promise<Azurite> {
  const port = await freePort();
  const dir = tempDir('azurite-');
  const bin = join(import.meta.dirname, '../../node_modules/.bin/azurite-blob');
  const child: ChildProcess = spawn(bin, ['--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', dir, '--silent', '--disableTelemetry', '--skipApiVersionCheck'], { stdio: 'ignore' });
  const blobUrl = `http://127.0.0.1:${port}/${DEV_ACCOUNT}`;
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`azurite-blob exited (${child.exitCode})`);
    // Any HTTP answer (403 without credentials) means it listens.
    if (await fetch(`${blobUrl}?comp=list`).then(() => true, () => false)) break;
    if (Date.now() - started > 30_000) throw new Error('azurite did not start in 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    blobUrl,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};BlobEndpoint=${blobUrl};`,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
