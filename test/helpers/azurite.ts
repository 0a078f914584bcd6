import { join } from 'node:path';
import { freePort, startService } from './service.js';
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
  const blobUrl = `http://127.0.0.1:${port}/${DEV_ACCOUNT}`;
  // Any HTTP answer (403 without credentials) means it listens.
  const args = ['--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', dir, '--silent', '--disableTelemetry', '--skipApiVersionCheck'];
  const service = await startService({ command: bin, args, ready: async () => (await fetch(`${blobUrl}?comp=list`), true), missing: 'run npm ci (azurite is a devDependency)' });
  return {
    blobUrl,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};BlobEndpoint=${blobUrl};`,
    stop: service.stop,
  };
}
