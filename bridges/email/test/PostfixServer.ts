// A private Postfix instance (Debian's postfix, no system service): its own config, queue and data
// folders in a temp dir, smtpd on a free port of 127.0.0.1, no chroot, no DNS. It relays to the bridge
// (`bridge_domains` to the bridge's SMTP port), delivers `maildir.test` to one catch-all Maildir the test
// reads, and refuses `bounce.test` with a 5.1.1 from its error transport (accept-then-bounce: a DSN to the
// return path). Stopped with SIGTERM to its master; always stop() it.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../../test/e2e/PatchbayProcess.js';
import { waitFor } from '../../../testkit/waitFor.js';

export interface PostfixOptions {
  /** Domains relayed to the bridge's SMTP server. */
  bridgeDomains: string[];
  bridgePort: number;
}

function uidOf(name: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

export class PostfixServer {
  readonly dir = mkdtempSync(join(tmpdir(), 'patchbay-postfix-'));
  port = 0;
  private started = false;

  constructor(private readonly options: PostfixOptions) {}

  static available(): boolean {
    return existsSync('/usr/sbin/postfix');
  }

  get maildir(): string {
    return join(this.dir, 'mail', 'maildir.test', 'new');
  }

  async start(): Promise<void> {
    this.port = await freePort();
    const d = this.dir;
    // mkdtemp makes it 0700: Postfix's own users must get through to their folders.
    chmodSync(d, 0o755);
    for (const sub of ['conf', 'queue', 'data', 'mail']) mkdirSync(join(d, sub), { recursive: true });
    const postfix = uidOf('postfix');
    const nobody = uidOf('nobody');
    chownSync(join(d, 'data'), postfix.uid, postfix.gid);
    chownSync(join(d, 'mail'), nobody.uid, nobody.gid);
    const c = (name: string) => join(d, 'conf', name);
    writeFileSync(
      c('main.cf'),
      [
        'compatibility_level = 3.6',
        `queue_directory = ${d}/queue`,
        `data_directory = ${d}/data`,
        'mail_owner = postfix',
        'setgid_group = postdrop',
        'myhostname = relay.test',
        'mydomain = relay.test',
        'myorigin = relay.test',
        'mydestination =',
        'inet_interfaces = 127.0.0.1',
        'inet_protocols = ipv4',
        'mynetworks = 127.0.0.0/8',
        `maillog_file = ${d}/postfix.log`,
        `maillog_file_prefixes = ${d}`,
        'smtp_dns_support_level = disabled',
        'disable_dns_lookups = yes',
        'virtual_mailbox_domains = maildir.test',
        `virtual_mailbox_base = ${d}/mail`,
        `virtual_mailbox_maps = regexp:${c('vmailbox')}`,
        `virtual_uid_maps = static:${nobody.uid}`,
        `virtual_gid_maps = static:${nobody.gid}`,
        'virtual_mailbox_limit = 0',
        'message_size_limit = 60000000',
        `transport_maps = regexp:${c('transport')}`,
        'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination',
        'smtp_tls_security_level = may',
        'smtp_tls_loglevel = 1',
        // Accept mail for bounce.test and bounce it later (a DSN), as a remote MX that accepts then fails would.
        'smtpd_reject_unlisted_recipient = no',
        'alias_maps =',
        'alias_database =',
        // Retry a deferred mail soon (the bridge may be briefly down in a test).
        'queue_run_delay = 1s',
        'minimal_backoff_time = 1s',
        'maximal_backoff_time = 2s',
        'biff = no',
        '',
      ].join('\n'),
    );
    writeFileSync(c('vmailbox'), '/@maildir\\.test$/ maildir.test/\n');
    const relay = this.options.bridgeDomains.map((dom) => `/@${dom.replace(/\./g, '\\.')}$/ smtp:[127.0.0.1]:${this.options.bridgePort}`);
    writeFileSync(c('transport'), [...relay, '/@bounce\\.test$/ error:5.1.1 no such user here', ''].join('\n'));
    const master = readFileSync('/etc/postfix/master.cf', 'utf8')
      .split('\n')
      .map((line) => {
        if (/^smtp\s+inet\s/.test(line)) return `127.0.0.1:${this.port} inet n - n - - smtpd`;
        // No chroot: the private instance's folders are not inside one.
        return line.replace(/^(\S+\s+(?:unix|inet|unix-dgram|fifo|pass)\s+\S+\s+\S+\s+)y(\s)/, '$1n$2');
      })
      .join('\n');
    writeFileSync(c('master.cf'), master);
    const r = spawnSync('postfix', ['-c', join(d, 'conf'), 'start'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`postfix start failed: ${r.stderr}${this.log()}`);
    this.started = true;
    await waitFor(() => existsSync(join(d, 'queue', 'pid', 'master.pid')), 10_000, 'postfix master pid file');
  }

  /** Delivered files of the catch-all Maildir (newest last). */
  delivered(): string[] {
    if (!existsSync(this.maildir)) return [];
    return readdirSync(this.maildir).sort().map((f) => readFileSync(join(this.maildir, f), 'utf8'));
  }

  /** Asks Postfix to retry its deferred queue now. */
  flush(): void {
    spawnSync('postqueue', ['-c', join(this.dir, 'conf'), '-f'], { stdio: 'ignore' });
  }

  log(): string {
    const f = join(this.dir, 'postfix.log');
    return existsSync(f) ? readFileSync(f, 'utf8') : '';
  }

  async stop(): Promise<void> {
    if (this.started) {
      const pidFile = join(this.dir, 'queue', 'pid', 'master.pid');
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : NaN;
      if (Number.isInteger(pid) && pid > 0) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // already gone
        }
        // Its master is daemonized: once it exits it may linger as a zombie nobody reaps, so read its state.
        const alive = (): boolean => existsSync(`/proc/${pid}`) && !/State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
        await waitFor(() => !alive(), 10_000, 'postfix to stop').catch(() => process.kill(pid, 'SIGKILL'));
      }
      this.started = false;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
