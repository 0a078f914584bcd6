import { join } from 'node:path';
import { freePort, startService } from './service.js';
import { tempDir } from './python.js';
import { testTls } from './tls.js';

/** Azurite's well-known development account (published in Azurite's README; not a secret). */
export const DEV_ACCOUNT = 'devstoreaccount1';
export const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite {
  blobUrl: string;
  connectionString: string;
  stop(): Promise<void>;
}

/**
 * Azurite's Blob service (npm) on 127.0.0.1 on a free port, data in a temp dir, stopped by PID.
 * `oauth`: over HTTPS with the run's certificate, accepting Entra ID Bearer tokens (`--oauth basic`),
 * as a storage account with shared keys disabled takes them.
 */
export async function startAzurite(options: { oauth?: boolean } = {}): Promise<Azurite> {
  const port = await freePort();
  const dir = tempDir('azurite-');
  const bin = join(import.meta.dirname, '../../node_modules/.bin/azurite-blob');
  const scheme = options.oauth ? 'https' : 'http';
  const blobUrl = `${scheme}://127.0.0.1:${port}/${DEV_ACCOUNT}`;
  const tls = options.oauth ? testTls() : undefined;
  // Any HTTP answer (403 without credentials) means it listens.
  const args = [
    ...['--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', dir, '--silent', '--disableTelemetry', '--skipApiVersionCheck'],
    ...(tls ? ['--cert', tls.certFile, '--key', tls.keyFile, '--oauth', 'basic'] : []),
  ];
  const service = await startService({ command: bin, args, ready: async () => (await fetch(`${blobUrl}?comp=list`), true), missing: 'run npm ci (azurite is a devDependency)' });
  return {
    blobUrl,
    connectionString: `DefaultEndpointsProtocol=${scheme};AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};BlobEndpoint=${blobUrl};`,
    stop: service.stop,
  };
}
