// Room aliases (#alias:server -> room ID) and the public room lists: the server's own list and one per
// appservice network.
import type { SqlDatabase } from '../storage/SqlDatabase.js';

export interface AliasRow {
  alias: string;
  room_id: string;
  creator: string;
}

/** The key of a published list: '' / '' is the server's own directory. */
export interface DirectoryList {
  appserviceId: string;
  networkId: string;
}

export const MAIN_LIST: DirectoryList = { appserviceId: '', networkId: '' };

export class RoomDirectory {
  private readonly s;

  constructor(db: SqlDatabase) {
    this.s = {
      alias: db.prepare('SELECT alias, room_id, creator FROM room_aliases WHERE alias = ?'),
      insertAlias: db.prepare(
        'INSERT INTO room_aliases (alias, room_id, creator, created_ts) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      deleteAlias: db.prepare('DELETE FROM room_aliases WHERE alias = ?'),
      repoint: db.prepare('UPDATE room_aliases SET room_id = ? WHERE alias = ?'),
      moveListings: db.prepare('UPDATE OR IGNORE public_rooms SET room_id = ? WHERE room_id = ?'),
      dropListings: db.prepare('DELETE FROM public_rooms WHERE room_id = ?'),
      aliasesOf: db.prepare('SELECT alias FROM room_aliases WHERE room_id = ? ORDER BY alias'),
      publish: db.prepare(
        'INSERT INTO public_rooms (appservice_id, network_id, room_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      unpublish: db.prepare('DELETE FROM public_rooms WHERE appservice_id = ? AND network_id = ? AND room_id = ?'),
      isPublished: db.prepare('SELECT 1 FROM public_rooms WHERE appservice_id = ? AND network_id = ? AND room_id = ?'),
      listed: db.prepare('SELECT DISTINCT room_id FROM public_rooms WHERE appservice_id = ? AND network_id = ?'),
      allListed: db.prepare('SELECT DISTINCT room_id FROM public_rooms'),
    };
  }

  resolve(alias: string): AliasRow | null {
    return (this.s.alias.get(alias) as AliasRow | undefined) ?? null;
  }

  /** False when the alias is taken. */
  create(alias: string, roomId: string, creator: string): boolean {
    return this.s.insertAlias.run(alias, roomId, creator, Date.now()).changes === 1;
  }

  delete(alias: string): boolean {
    return this.s.deleteAlias.run(alias).changes === 1;
  }

  /** Points an existing alias at another room (a room upgrade moves its aliases). */
  repoint(alias: string, roomId: string): void {
    this.s.repoint.run(roomId, alias);
  }

  aliasesOf(roomId: string): string[] {
    return (this.s.aliasesOf.all(roomId) as Array<{ alias: string }>).map((r) => r.alias);
  }

  setPublished(list: DirectoryList, roomId: string, published: boolean): void {
    if (published) this.s.publish.run(list.appserviceId, list.networkId, roomId);
    else this.s.unpublish.run(list.appserviceId, list.networkId, roomId);
  }

  /** Puts `to` wherever `from` is published, and takes `from` off every list. */
  moveListings(from: string, to: string): void {
    this.s.moveListings.run(to, from);
    this.s.dropListings.run(from);
  }

  isPublished(list: DirectoryList, roomId: string): boolean {
    return this.s.isPublished.get(list.appserviceId, list.networkId, roomId) !== undefined;
  }

  /** Rooms on one list, or on every list (`include_all_networks`). */
  publishedRooms(list: DirectoryList | 'all'): string[] {
    const rows = (list === 'all' ? this.s.allListed.all() : this.s.listed.all(list.appserviceId, list.networkId)) as Array<{
      room_id: string;
    }>;
    return rows.map((r) => r.room_id);
  }
}
