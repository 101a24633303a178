// A JOIN the server refused (full, invite-only, banned, wrong key, too many channels), or one we could not send.
export class JoinError extends Error {
  constructor(
    readonly channel: string,
    readonly reason: string,
  ) {
    super(`cannot join ${channel}: ${reason}`);
    this.name = 'JoinError';
  }
}

/** irc-framework's names of the numerics that refuse a JOIN, in words. */
export const JOIN_ERRORS: Record<string, string> = {
  channel_is_full: 'the channel is full',
  invite_only_channel: 'the channel is invite-only',
  banned_from_channel: 'banned from the channel',
  bad_channel_key: 'wrong channel key',
  too_many_channels: 'joined too many channels',
};
