/** TLS material for tests: a self-signed certificate for 127.0.0.1, made by openssl in a temp dir. */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

/** writes <dir>/cert.pem and <dir>/key.pem: a certificate for 127.0.0.1 (CN and IP SAN), valid a day */
export function selfSignedCert(dir: string): { cert: string; key: string } {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-days',
      '1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}
