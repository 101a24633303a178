// The bridge's answer to one RCPT TO, made on the main thread for the SMTP worker: only the bridged
// domains (never an open relay), only addresses that reach someone (unknown: 550 at RCPT, not a bounce
// later), and not from a sender the user blocked.
import type { Logger } from 'patchbay-matrix/plugin';
import type { AddressBook } from './AddressBook.js';
import { normalizeAddress } from './MailAddress.js';
import type { RecipientAnswer } from './SmtpThreadProtocol.js';

export class RecipientCheck {
  constructor(
    private readonly addresses: AddressBook,
    private readonly isBlocked: (sender: string, userId: string) => Promise<boolean>,
    private readonly logger: Logger,
  ) {}

  async check(rcpt: string, mailFrom: string | null): Promise<RecipientAnswer> {
    const normal = normalizeAddress(rcpt);
    const domain = normal?.slice(normal.lastIndexOf('@') + 1);
    if (normal === null || domain === undefined || !this.addresses.isLocalDomain(domain)) {
      return { accept: false, reason: 'relay', code: 550, message: `5.7.1 <${rcpt}>: relay access denied (this server only takes mail for its own domains)` };
    }
    try {
      const target = await this.addresses.resolve(normal);
      if (target === null) return { accept: false, reason: 'unknown_recipient', code: 550, message: `5.1.1 <${normal}>: no such recipient here` };
      if (target.kind === 'user' && mailFrom !== null && (await this.isBlocked(mailFrom, target.userId))) {
        return { accept: false, reason: 'blocked', code: 550, message: `5.7.1 <${normal}> does not accept mail from <${mailFrom}>` };
      }
      return { accept: true };
    } catch (err) {
      this.logger.warn({ err, rcpt: normal }, 'could not look up a recipient');
      return { accept: false, reason: 'unavailable', code: 451, message: '4.3.0 Recipient lookup failed; try again later' };
    }
  }
}
