// A self-signed certificate for STARTTLS tests, made with the openssl command line in a temp folder.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export function makeTestCertificate(dir: string, commonName: string): { cert_file: string; key_file: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${commonName}`], { stdio: 'ignore' });
  return { cert_file: cert, key_file: key };
}
