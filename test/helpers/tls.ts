import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A self-signed certificate for 127.0.0.1, made once per test run by the global setup: Azure's SDKs
 * send Bearer tokens over HTTPS only, so Azurite and the ARM stand-in serve HTTPS with it, and every
 * test process trusts it through NODE_EXTRA_CA_CERTS (set before the test processes start).
 */
export function makeTestTls(dir: string): { cert: string; key: string } {
  mkdirSync(dir, { recursive: true });
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const config = join(dir, 'openssl.cnf');
  writeFileSync(config, '[req]\ndistinguished_name=dn\nx509_extensions=ext\nprompt=no\n[dn]\nCN=127.0.0.1\n[ext]\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:TRUE\n');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-keyout', key, '-out', cert, '-config', config], { stdio: 'ignore' });
  return { cert, key };
}

/** The run's certificate and key (PEM), as the global setup left them. */
export function testTls(): { cert: string; key: string; certFile: string; keyFile: string } {
  const dir = process.env.MLSERVE_TEST_TLS_DIR;
  if (!dir) throw new Error('MLSERVE_TEST_TLS_DIR is not set: the global setup (test/helpers/global-setup.ts) makes the test certificate');
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), certFile, keyFile };
}
