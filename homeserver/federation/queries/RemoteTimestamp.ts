// Jump to date through other servers: GET /_matrix/federation/v1/timestamp_to_event/{roomId} asked of
// a room's other servers (those with the most joined members first), at most MAX_SERVERS, each within
// the query timeout. The first answer with an event of the right direction counts.
import type { Logger } from 'pino';
import { isJsonObject } from '../../http/RequestReader.js';
import { isValidEventId } from '../../ids/MatrixIds.js';
import type { FederationClient } from '../transport/FederationClient.js';

export const MAX_SERVERS = 3;

export class RemoteTimestamp {
  constructor(
    private readonly client: FederationClient,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {}

  async closest(roomId: string, ts: number, dir: 'f' | 'b', servers: string[]): Promise<{ event_id: string; origin_server_ts: number } | null> {
    for (const server of servers.slice(0, MAX_SERVERS)) {
      try {
        const path = `/_matrix/federation/v1/timestamp_to_event/${encodeURIComponent(roomId)}?ts=${ts}&dir=${dir}`;
        const answer = await this.client.request(server, 'GET', path, undefined, { timeoutMs: this.timeoutMs });
        if (!isJsonObject(answer)) continue;
        const { event_id: eventId, origin_server_ts: at } = answer;
        if (typeof eventId !== 'string' || !isValidEventId(eventId) || typeof at !== 'number') continue;
        if (dir === 'f' ? at < ts : at > ts) continue;
        return { event_id: eventId, origin_server_ts: at };
      } catch (err) {
        this.logger.info({ roomId, server, err: (err as Error).message }, 'timestamp_to_event request failed');
      }
    }
    return null;
  }
}
