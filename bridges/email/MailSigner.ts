// DKIM signing of outbound mail with the operator's key, RSA or ed25519, through mailauth's signer:
// nodemailer's own signs RSA only and, given an ed25519 key, sends unsigned while reporting success.
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { EmailConfig } from './EmailConfig.js';

type DkimSign = (input: Buffer, options: Record<string, unknown>) => Promise<{ signatures: string; errors?: unknown[] }>;
const { dkimSign } = createRequire(import.meta.url)('mailauth/lib/dkim/sign') as { dkimSign: DkimSign };

export class MailSigner {
  private readonly key: string;
  private readonly algorithm: 'rsa-sha256' | 'ed25519-sha256';

  /** Reads and checks the key at startup, so a wrong path or a bad key stops the bridge with the reason. */
  constructor(private readonly settings: NonNullable<EmailConfig['outbound']['dkim']>) {
    try {
      this.key = readFileSync(settings.private_key_file, 'utf8');
    } catch (err) {
      throw new Error(`bridges.email.outbound.dkim.private_key_file: cannot read ${settings.private_key_file} (${(err as Error).message}). Fix: point it at a PEM private key`);
    }
    const type = createPrivateKey(this.key).asymmetricKeyType;
    if (type !== 'rsa' && type !== 'ed25519') {
      throw new Error(`bridges.email.outbound.dkim.private_key_file: a ${type ?? 'unknown'} key cannot sign DKIM. Fix: use an RSA (2048 bits) or ed25519 key`);
    }
    this.algorithm = type === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256';
  }

  /** The message with its DKIM-Signature header in front; signs as `domain` unless the config names one. */
  async sign(message: Buffer, domain: string): Promise<Buffer> {
    const result = await dkimSign(message, {
      canonicalization: 'relaxed/relaxed',
      signatureData: [
        { signingDomain: this.settings.domain ?? domain, selector: this.settings.selector, privateKey: this.key, algorithm: this.algorithm, canonicalization: 'relaxed/relaxed' },
      ],
    });
    if (!result.signatures.includes('DKIM-Signature')) throw new Error(`DKIM signing produced no signature (${JSON.stringify(result.errors ?? [])})`);
    return Buffer.concat([Buffer.from(result.signatures), message]);
  }
}
