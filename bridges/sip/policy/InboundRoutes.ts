// Which Matrix users ring (and get the texts) for a number a call or text was sent to: a user's own SIP
// account rings its owner; a trunk rings the users the config routes the number to, plus those an admin
// assigned in the admin room (`!sip assign`), with `*` for any other number.
import type { PluginStore } from 'patchbay-matrix/plugin';
import type { NumberPlan } from '../numbers/NumberPlan.js';

export interface RoutedLine {
  id: string;
  /** Config routes: E.164 number (or `*`) -> users. */
  routes: Record<string, string[]>;
  owner: string | null;
}

const PREFIX = 'assign/';

export class InboundRoutes {
  constructor(
    private readonly store: PluginStore,
    private readonly plan: NumberPlan,
  ) {}

  /** A number as the routes write it: E.164 when it is one, else as given. */
  canonical(number: string): string {
    return this.plan.parse(number)?.e164 ?? number;
  }

  async usersFor(line: RoutedLine, called: string | null): Promise<string[]> {
    if (line.owner !== null) return [line.owner];
    const number = called === null ? null : this.canonical(called);
    const users = new Set<string>();
    if (number !== null) for (const u of await this.assigned(line.id, number)) users.add(u);
    const configured = (number !== null ? line.routes[number] : undefined) ?? [];
    for (const u of configured) users.add(u);
    if (users.size === 0) for (const u of [...(await this.assigned(line.id, '*')), ...(line.routes['*'] ?? [])]) users.add(u);
    return [...users];
  }

  /** The numbers of a line that ring `userId` (their caller id for outgoing calls), configured first. */
  async numbersOf(line: RoutedLine, userId: string): Promise<string[]> {
    const out = Object.entries(line.routes).filter(([n, users]) => n !== '*' && users.includes(userId)).map(([n]) => n);
    for (const key of await this.store.keys(`${PREFIX}${line.id}/`)) {
      const number = key.slice(`${PREFIX}${line.id}/`.length);
      if (number !== '*' && (await this.assigned(line.id, number)).includes(userId) && !out.includes(number)) out.push(number);
    }
    return out;
  }

  async assign(lineId: string, number: string, userId: string): Promise<void> {
    const n = this.canonical(number);
    const users = await this.assigned(lineId, n);
    if (!users.includes(userId)) await this.store.set(`${PREFIX}${lineId}/${n}`, JSON.stringify([...users, userId]));
  }

  async unassign(lineId: string, number: string, userId: string): Promise<boolean> {
    const n = this.canonical(number);
    const users = await this.assigned(lineId, n);
    if (!users.includes(userId)) return false;
    const rest = users.filter((u) => u !== userId);
    if (rest.length === 0) await this.store.delete(`${PREFIX}${lineId}/${n}`);
    else await this.store.set(`${PREFIX}${lineId}/${n}`, JSON.stringify(rest));
    return true;
  }

  private async assigned(lineId: string, number: string): Promise<string[]> {
    const raw = await this.store.get(`${PREFIX}${lineId}/${number}`);
    if (raw === null) return [];
    try {
      const users: unknown = JSON.parse(raw);
      return Array.isArray(users) ? users.filter((u): u is string => typeof u === 'string') : [];
    } catch {
      return [];
    }
  }
}
