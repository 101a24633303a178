// `!sip ...` in a user's SIP admin room (a room with the bridge's control ghost, @sip_bridge:server):
// adding their own SIP account (the password is kept in the bridge's store and never repeated), the state
// of their lines, opening a room with a number, and, for admins, which users a number rings.
import type { ConnectionStatus } from 'patchbay-matrix/plugin';
import type { Lines, UserAccount } from '../lines/Lines.js';
import { accountLineId } from '../lines/Lines.js';
import type { NumberPlan } from '../numbers/NumberPlan.js';
import { partyFromInput, type RemoteParty } from '../numbers/RemoteParty.js';
import type { Glob } from '../policy/Glob.js';
import type { InboundRoutes } from '../policy/InboundRoutes.js';

export const ADMIN_HELP = [
  'SIP bridge commands:',
  '!sip login <sip:you@provider.example> <password> [auth user name] — use your own SIP account for your calls and texts (the message with your password is removed)',
  '!sip logout — forget your SIP account',
  '!sip status — your lines and whether they are registered',
  '!sip call <number or sip:address> — open your room with a number (call or text there)',
  'Admins: !sip assign <number> <@user> [line] — that number rings @user too; !sip unassign <number> <@user> [line]',
  'In a call room: !dtmf <digits> — send touch tones during a call; !transfer <number> — hand the call to another number',
].join('\n');

export interface AdminContext {
  userId: string;
  plan: NumberPlan;
  lines: Lines;
  routes: InboundRoutes;
  isAdmin: boolean;
  mayAddAccount: Glob;
  accountsEnabled: boolean;
  status(): Promise<ConnectionStatus[]>;
  /** Opens (or finds) the user's portal with a party and invites them; returns the room id. */
  openPortal(party: RemoteParty): Promise<string>;
  /** Forgets a removed line's entry in /health. */
  forgetStatus(lineId: string): void;
}

export interface AdminReply {
  text: string;
  /** The command carried a secret: the bridge removes the message. */
  redact?: boolean;
}

const SIP_URI = /^sips?:[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+@[A-Za-z0-9.-]+(:[0-9]{1,5})?$/;

/** Runs one `!sip` command line; never throws for bad input. */
export async function runAdminCommand(line: string, ctx: AdminContext): Promise<AdminReply> {
  const [, rawCommand = 'help', ...args] = line.trim().split(/\s+/);
  switch (rawCommand.toLowerCase()) {
    case 'login':
      return login(args, ctx);
    case 'logout': {
      const had = await ctx.lines.removeAccount(ctx.userId);
      ctx.forgetStatus(accountLineId(ctx.userId));
      return { text: had ? 'Your SIP account is forgotten; calls and texts use the bridge\'s line again.' : 'You have no SIP account here.' };
    }
    case 'status':
      return { text: await status(ctx) };
    case 'call': {
      const party = args[0] === undefined ? null : partyFromInput(ctx.plan, args.join(''));
      if (!party) return { text: 'Usage: !sip call <number or sip:address>, e.g. !sip call +14155550100' };
      await ctx.openPortal(party);
      return { text: `Your room with ${party.displayName} is open: you were invited.` };
    }
    case 'assign':
    case 'unassign':
      return { text: await assign(rawCommand.toLowerCase() === 'assign', args, ctx) };
    default:
      return { text: ADMIN_HELP };
  }
}

async function login(args: string[], ctx: AdminContext): Promise<AdminReply> {
  const [aor, password, authUsername] = args;
  if (!ctx.accountsEnabled || !ctx.mayAddAccount(ctx.userId)) return { text: 'You may not add a SIP account here (bridges.sip.accounts).', redact: password !== undefined };
  if (aor === undefined || password === undefined || !SIP_URI.test(aor)) {
    return { text: 'Usage: !sip login <sip:you@provider.example> <password> [auth user name]', redact: password !== undefined };
  }
  if (authUsername !== undefined && !/^[A-Za-z0-9\-_.!~*'()&=+$,;?/%@]{1,128}$/.test(authUsername)) return { text: 'That auth user name has characters a SIP account cannot have.', redact: true };
  const account: UserAccount = { aor, password, authUsername: authUsername ?? null };
  const sipLine = await ctx.lines.addAccount(ctx.userId, account);
  try {
    await sipLine.whenReady(15_000);
    return { text: `Registered as ${aor}. Your calls and texts now use this account.`, redact: true };
  } catch {
    return { text: `Saved ${aor}, but it is not registered yet; !sip status shows why.`, redact: true };
  }
}

async function status(ctx: AdminContext): Promise<string> {
  const statuses = await ctx.status();
  const own = accountLineId(ctx.userId);
  const shown = ctx.lines.all().filter((l) => l.settings.owner === null || l.id === own);
  if (shown.length === 0) return 'No SIP lines are configured.';
  return shown
    .map((l) => {
      const s = statuses.find((x) => x.connection === l.id);
      const state = s ? `${s.state}${s.reason ? ` (${s.reason})` : ''}` : l.isReady ? 'connected' : 'not connected';
      return `${l.id === own ? 'your account' : `line ${l.id}`}: ${l.settings.aor}: ${state}`;
    })
    .join('\n');
}

async function assign(add: boolean, args: string[], ctx: AdminContext): Promise<string> {
  if (!ctx.isAdmin) return 'Only the bridge\'s admins (bridges.sip.admins) assign numbers.';
  const [number, user, lineId] = args;
  const parsed = number === undefined ? null : ctx.plan.parse(number);
  if (!parsed || user === undefined || !/^@[^:\s]+:\S+$/.test(user)) return `Usage: !sip ${add ? 'assign' : 'unassign'} <number> <@user:server> [line]`;
  const line = lineId === undefined ? ctx.lines.defaultLine() : ctx.lines.get(lineId);
  if (!line || line.settings.owner !== null) return `No such line${lineId ? `: ${lineId}` : ''}.`;
  if (add) {
    await ctx.routes.assign(line.id, parsed.e164, user);
    return `${parsed.international} on line ${line.id} now rings ${user}.`;
  }
  return (await ctx.routes.unassign(line.id, parsed.e164, user)) ? `${parsed.international} on line ${line.id} no longer rings ${user}.` : `${parsed.international} did not ring ${user} on line ${line.id}.`;
}
