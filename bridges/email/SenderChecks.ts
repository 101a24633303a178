// SPF, DKIM, DMARC and ARC verdicts on inbound mail (mailauth 4.x), and the operator's policy per sender
// domain: refuse at SMTP time, deliver with a visible warning, or not check at all. The verdict is kept
// on the Matrix event (`org.patchbay.email.auth`).
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import type { EmailConfig, SenderPolicy } from './EmailConfig.js';

/** A DNS lookup as mailauth calls it: `resolver('example.org', 'TXT')` resolves like `dns.promises.resolve`. */
export type DnsResolver = (name: string, rrtype: string) => Promise<unknown>;

export interface SenderVerdict {
  spf: string;
  dkim: string;
  dmarc: string;
  arc: string;
  /** The From: header's domain, which the policy is looked up by. */
  fromDomain: string | null;
  /** The sender could not be shown to own the From: address (DMARC fail, or SPF fail without a DKIM pass). */
  failed: boolean;
  policy: SenderPolicy;
}

interface Status {
  status?: { result?: string };
}
interface AuthResult {
  dkim?: { headerFrom?: string[]; results?: Array<Status & { status?: { result?: string; aligned?: string | false } }> };
  spf?: Status | false;
  dmarc?: (Status & { domain?: string }) | false;
  arc?: Status | false;
}
type Authenticate = (input: Readable | Buffer, opts: Record<string, unknown>) => Promise<AuthResult>;

const mailauth = createRequire(import.meta.url)('mailauth') as { authenticate: Authenticate };

export class SenderChecks {
  constructor(
    private readonly settings: EmailConfig['sender_checks'],
    private readonly mta: string,
    private readonly resolver?: DnsResolver,
  ) {}

  /** True when some domain's mail is refused at SMTP time: the verdict must be made before the 250. */
  get decidesAtSmtpTime(): boolean {
    return this.settings.default === 'reject' || Object.values(this.settings.domains).includes('reject');
  }

  /** False when every policy is `off`: nothing is checked. */
  get enabled(): boolean {
    return this.settings.default !== 'off' || Object.values(this.settings.domains).some((p) => p !== 'off');
  }

  /** The policy of a sender domain: its own, its parent domain's, ..., else the default. */
  policyFor(domain: string | null): SenderPolicy {
    let d = domain?.toLowerCase() ?? null;
    while (d !== null && d.length > 0) {
      const own = this.settings.domains[d];
      if (own !== undefined) return own;
      const dot = d.indexOf('.');
      d = dot < 0 ? null : d.slice(dot + 1);
    }
    return this.settings.default;
  }

  async check(message: Readable | Buffer, client: { ip: string; helo: string; mailFrom: string | null }): Promise<SenderVerdict> {
    const result = await mailauth.authenticate(message, {
      ip: client.ip,
      helo: client.helo,
      sender: client.mailFrom ?? '',
      mta: this.mta,
      disableBimi: true,
      ...(this.resolver && { resolver: this.resolver }),
    });
    const dkimResults = result.dkim?.results ?? [];
    const dkimPass = dkimResults.some((r) => r.status?.result === 'pass');
    const dkim = dkimPass ? 'pass' : (dkimResults[0]?.status?.result ?? 'none');
    const spf = (result.spf && result.spf.status?.result) || 'none';
    const dmarc = (result.dmarc && result.dmarc.status?.result) || 'none';
    const arc = (result.arc && result.arc.status?.result) || 'none';
    const from = result.dkim?.headerFrom?.[0];
    const fromDomain = from?.includes('@') ? from.slice(from.lastIndexOf('@') + 1).toLowerCase() : null;
    const failed = dmarc === 'fail' || (dmarc !== 'pass' && spf === 'fail' && !dkimPass);
    return { spf, dkim, dmarc, arc, fromDomain, failed, policy: this.policyFor(fromDomain) };
  }
}

/** One line for people: `⚠️ ... (SPF fail, DKIM none, DMARC fail)`. */
export function verdictWarning(v: SenderVerdict, from: string): string {
  return `⚠️ This mail failed sender checks (SPF ${v.spf}, DKIM ${v.dkim}, DMARC ${v.dmarc}${v.arc !== 'none' ? `, ARC ${v.arc}` : ''}): it may not really be from ${from}.`;
}
